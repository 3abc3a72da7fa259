// A topic subscriber: a queue of its own, bound to a topic exchange by patterns.
//
//   topic_subscriber [AMQP_URL]
//
// Subscribes to the topic exchange "examples.events" with the binding keys "order.*.created"
// and "payment.#" on a server-named queue (exclusive to this connection, deleted with it),
// publishes events with several routing keys and prints those that arrive. Exits 0 when exactly
// the matching ones arrived.
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

namespace messaging = cppblog::messaging;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/%2F";
  std::mutex mutex;
  std::condition_variable changed;
  std::set<std::string> received;  // routing keys
  try {
    messaging::AmqpClient client{{.url = url, .connection_name = "topic-subscriber"}};

    // [snippet topic-subscribe]
    const messaging::ExchangeSpec events{.name = "examples.events",
                                         .type = messaging::ExchangeType::kTopic};
    auto subscribed = client.Subscribe(
        events, {"order.*.created", "payment.#"},
        {},  // no name: a server-named queue, exclusive and auto-delete, re-made on reconnect
        [&](const messaging::Message& event) {
          const std::lock_guard lock{mutex};
          received.insert(event.routing_key);
          changed.notify_all();
          return messaging::Outcome::kAck;
        },
        {.prefetch = 1});  // one at a time: events arrive in the order they were published
    subscribed.get();
    // [/snippet topic-subscribe]

    // [snippet topic-publish]
    const std::vector<std::string> keys = {"order.eu.created", "order.eu.cancelled",
                                           "payment.card.settled", "user.signed_up",
                                           "order.us.created"};
    for (const std::string& key : keys) {
      // Some keys match no binding: not mandatory, so the broker drops those quietly.
      client.Publish(events, key, {.body = R"({"event":")" + key + "\"}", .mandatory = false})
          .get();
    }
    // [/snippet topic-publish]

    const std::set<std::string> expected = {"order.eu.created", "payment.card.settled",
                                            "order.us.created"};
    std::unique_lock lock{mutex};
    // "order.us.created" was published last: once it is here, anything earlier that matched is.
    const bool arrived =
        changed.wait_for(lock, 30s, [&] { return received.contains("order.us.created"); });
    for (const std::string& key : received) std::cout << "received " << key << '\n';
    const bool exact = arrived && received == expected;
    lock.unlock();
    client.Close();
    if (!exact) std::cerr << "topic_subscriber: expected exactly the three matching events\n";
    return exact ? 0 : 1;
  } catch (const messaging::MessagingError& e) {
    std::cerr << "topic_subscriber: " << e.what() << '\n';
    return 1;
  }
}
