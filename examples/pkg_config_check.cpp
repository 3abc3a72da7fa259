// Built by examples/run_examples.sh with nothing but `pkg-config --cflags --libs cppblog`:
// checks that the .pc file names every library a program that uses AmqpClient links.
#include <iostream>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/amqp_url.hpp"
#include "cppblog/version.hpp"

int main() {
  const auto url = cppblog::messaging::ParseAmqpUrl("amqp://guest:secret@localhost:5672/%2F");
  std::cout << "cppblog " << cppblog::kVersion << ": " << cppblog::messaging::NodeName(url) << ", "
            << cppblog::messaging::ToString(cppblog::messaging::ConnectionState::kClosed) << '\n';
  // Never run against a broker: constructing a client links all of it.
  if (url.host.empty()) cppblog::messaging::AmqpClient client{{}};
  return 0;
}
