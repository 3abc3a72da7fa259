// A confirmed publisher: a message counts as sent only once the broker has confirmed it.
//
//   confirmed_publisher [AMQP_URL [COUNT]]
//
// Publishes COUNT (default 100) orders to the durable queue "examples.orders", waits for every
// confirm, then shows the one error a publisher must expect from a correct program: a mandatory
// message that no queue takes; then publishes the orders again with a completion callback each
// instead of a future. Exits 0 when every order was confirmed both ways and the unroutable
// message failed as it should.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/version.hpp"

namespace messaging = cppblog::messaging;

namespace {

int PublishOrders(const std::string& url, int count) {
  // [snippet publish-confirmed]
  messaging::AmqpClient client{{.url = url, .connection_name = "confirmed-publisher"}};
  // Messages older than a minute expire: nothing consumes this queue in the example.
  const messaging::QueueSpec orders{.name = "examples.orders",
                                    .arguments = {{"x-message-ttl", std::int64_t{60'000}}}};

  std::vector<std::future<void>> confirms;
  for (int i = 0; i < count; ++i) {
    confirms.push_back(
        client.PublishToQueue(orders, {.body = R"({"order":)" + std::to_string(i) + "}",
                                       .message_id = "order-" + std::to_string(i)}));
  }
  int confirmed = 0;
  for (auto& confirm : confirms) {
    try {
      confirm.get();  // the broker has the message: on disk, since it is persistent
      ++confirmed;
    } catch (const messaging::MessagingError& e) {
      // Not confirmed within publish_timeout, refused, or the client closed: still ours to
      // resend or report. e.kind() says which; e.what() names the queue and the reason.
      std::cerr << "order not confirmed: " << e.what() << '\n';
    }
  }
  // [/snippet publish-confirmed]
  std::cout << "confirmed " << confirmed << " of " << count << " orders\n";

  // [snippet unroutable]
  // A fanout exchange with no queue bound: a mandatory message (the default) comes back.
  const messaging::ExchangeSpec audit{.name = "examples.audit",
                                      .type = messaging::ExchangeType::kFanout};
  auto returned = client.Publish(audit, "", {.body = "nobody listens"});
  try {
    returned.get();
    std::cerr << "unexpected: the unroutable message was confirmed\n";
    return 1;
  } catch (const messaging::MessagingError& e) {
    if (e.kind() != messaging::MessagingErrorKind::kUnroutable) throw;
    std::cout << "unroutable, as expected: " << e.what() << '\n';
  }
  // [/snippet unroutable]

  // [snippet publish-callback]
  // No future and no thread that waits: each result comes to a callback, on the client's
  // publishing thread (keep it short). Exactly once per publish, also when the client closes.
  std::atomic<int> settled{0};
  std::atomic<int> failed{0};
  std::promise<void> all_settled;
  for (int i = 0; i < count; ++i) {
    client.PublishToQueue(orders,
                          {.body = R"({"order":)" + std::to_string(i) + "}",
                           .message_id = "order-again-" + std::to_string(i)},
                          [&](const messaging::MessagingError* error) {
                            if (error != nullptr) ++failed;  // error->kind(), error->what()
                            if (++settled == count) all_settled.set_value();
                          });
  }
  all_settled.get_future().wait();  // here only to end the example
  // [/snippet publish-callback]
  std::cout << "confirmed " << count - failed << " of " << count << " orders by callback\n";
  client.Close();
  return confirmed == count && failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/%2F";
  const int count = argc > 2 ? std::atoi(argv[2]) : 100;
  if (count < 1) {
    std::cerr << "confirmed_publisher: COUNT must be a number of at least 1\n";
    return 2;
  }
  std::cout << "cppblog " << cppblog::kVersion << '\n';
  try {
    return PublishOrders(url, count);
  } catch (const messaging::MessagingError& e) {
    // kInvalidOptions: a bad URL or TLS file; the text says which setting to fix.
    std::cerr << "confirmed_publisher: " << e.what() << '\n';
    return 1;
  }
}
