// The snippets of docs/messaging.md that are not part of a runnable example. Compiled by
// ./dev test (examples/CMakeLists.txt: guide_snippets), never run: a snippet the library no
// longer compiles fails the test.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <iostream>
#include <string>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

namespace messaging = cppblog::messaging;
using namespace std::chrono_literals;

namespace guide {

messaging::AmqpClientOptions Options() {
  // [snippet options]
  messaging::AmqpClientOptions options{
      // One broker, or the nodes of one cluster separated by commas (same user and vhost).
      .url = "amqps://orders@rabbit-1:5671/shop,amqps://orders@rabbit-2:5671/shop",
      // Never in the URL in production: a file (or $AMQP_PASSWORD with password_from_environment).
      .password_file = "/run/secrets/amqp_password",
      .tls = {.ca_file = "/etc/ssl/shop-ca.pem"},
      .heartbeat = 10s,
      .reconnect_min = 100ms,  // first retry; doubles up to reconnect_max, +-25 % jitter
      .reconnect_max = 5s,
      .confirm_window = 1000,                // unconfirmed publishes on the wire
      .max_outstanding_publishes = 100'000,  // accepted but unconfirmed; one more: kBufferFull
      .publish_timeout = 60s,                // not confirmed by then: kTimeout
      .handler_threads = 4,
      .connection_name = "order-service",
  };
  // [/snippet options]
  return options;
}

// [snippet errors]
// What a caller does with a publish that failed, by kind.
bool ShouldRetryLater(const messaging::MessagingError& error) {
  switch (error.kind()) {
    case messaging::MessagingErrorKind::kTimeout:     // not confirmed within publish_timeout
    case messaging::MessagingErrorKind::kNacked:      // refused: full classic queue
    case messaging::MessagingErrorKind::kBufferFull:  // too many waiting for a confirm
    case messaging::MessagingErrorKind::kConnectionLost:
      return true;  // keep the message (an outbox) and publish it again later
    case messaging::MessagingErrorKind::kUnroutable:          // no queue is bound: a topology bug
    case messaging::MessagingErrorKind::kPreconditionFailed:  // declared differently elsewhere
    case messaging::MessagingErrorKind::kInvalidOptions:
    case messaging::MessagingErrorKind::kAuthentication:
    case messaging::MessagingErrorKind::kAccessRefused:
    case messaging::MessagingErrorKind::kNotFound:
    case messaging::MessagingErrorKind::kChannelClosed:
    case messaging::MessagingErrorKind::kClosed:
      return false;  // report it: error.what() names the queue or setting and what to do
  }
  return false;
}
// [/snippet errors]

void Health() {
  // [snippet state]
  std::atomic<messaging::ConnectionState> state{messaging::ConnectionState::kRecovering};
  messaging::AmqpClientOptions options{
      .url = "amqp://guest:guest@localhost:5672/%2F",
      // On an I/O thread: keep it short and never call back into the client.
      .on_state_change = [&state](messaging::ConnectionState now) { state = now; },
  };
  messaging::AmqpClient client{options};
  // /health: healthy while kConnected; kRecovering and kBlocked are worth a warning.
  std::cout << "broker " << client.DisplayUrl() << " on " << client.CurrentNode() << ": "
            << messaging::ToString(client.State()) << '\n';
  // [/snippet state]
}

void Quorum(messaging::AmqpClient& client) {
  // [snippet quorum]
  // Replicated on the cluster's nodes: survives the loss of a minority of them. Must be
  // durable, not exclusive, not auto-delete; its dead-letter queue is a quorum queue too.
  const messaging::QueueSpec payments{
      .name = "payments",
      .type = messaging::QueueType::kQuorum,
      .type_setting = "payments_queue_type (env PAYMENTS_QUEUE_TYPE)"};
  auto confirm = client.PublishToQueue(payments, {.body = R"({"amount":10})"});
  confirm.get();  // may take a few seconds while the queue elects a new leader
  // [/snippet quorum]
}

void Properties(messaging::AmqpClient& client) {
  // [snippet message-properties]
  messaging::Message reminder{.body = R"({"order":"42"})", .message_id = "reminder-42"};
  reminder.expiration = 30s;  // dropped (or dead-lettered) if still queued after 30 s
  reminder.priority = 5;      // for a queue declared with x-max-priority
  reminder.timestamp = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  reminder.app_id = "order-service";
  const messaging::QueueSpec reminders{.name = "reminders",
                                       .arguments = {{"x-max-priority", std::int64_t{9}}}};
  client.PublishToQueue(reminders, std::move(reminder)).get();
  // [/snippet message-properties]
}

// [snippet x-death]
// How often the broker has dead-lettered this message from `queue` (0: never). x-death is an
// array of tables, one per queue and reason; republishing the message keeps it unchanged.
std::int64_t DeathCount(const messaging::Message& message, const std::string& queue) {
  const auto it = message.headers.find("x-death");
  if (it == message.headers.end()) return 0;
  std::int64_t count = 0;
  if (const auto* deaths = std::get_if<messaging::HeaderArray>(&it->second)) {
    for (const messaging::HeaderValue& death : *deaths) {
      const auto* entry = std::get_if<messaging::Headers>(&death);
      if (entry == nullptr) continue;
      const auto from = entry->find("queue");
      const auto times = entry->find("count");
      if (from != entry->end() && times != entry->end() &&
          from->second == messaging::HeaderValue{queue}) {
        if (const auto* n = std::get_if<std::int64_t>(&times->second)) count += *n;
      }
    }
  }
  return count;
}
// [/snippet x-death]

void Consumers(messaging::AmqpClient& client, const messaging::Handler& handler) {
  // [snippet consumer-arguments]
  // One consumer at a time gets the queue's messages, in order; the others stand by and
  // take over when it goes (a queue argument: every declarer must pass it).
  const messaging::QueueSpec ledger{.name = "ledger",
                                    .arguments = {{"x-single-active-consumer", true}}};
  auto active = client.SubscribeToQueue(ledger, handler, {});
  // The broker delivers to this consumer while it has room in its prefetch window, to
  // consumers of a lower x-priority only when it has none.
  auto preferred =
      client.SubscribeToQueue({.name = "orders"}, handler, {.prefetch = 50, .priority = 10});
  active.get();
  preferred.get();
  // [/snippet consumer-arguments]
}

void Inspect(messaging::AmqpClient& client) {
  // [snippet inspect]
  const messaging::QueueInfo info = client.InspectQueue("examples.work.dlq").get();
  std::cout << info.messages << " dead letters, " << info.consumers << " consumers\n";
  // [/snippet inspect]
}

void Handles(messaging::AmqpClient& client) {
  // [snippet subscription-handle]
  // A handle to this one subscription; Ready() is what SubscribeToQueue's future reports.
  messaging::Subscription orders =
      client.SubscribeToQueueHandle({.name = "orders"},
                                    [](const messaging::Message& message) {
                                      std::cout << "order " << message.body << '\n';
                                      return messaging::Outcome::kAck;
                                    },
                                    {.prefetch = 20});
  orders.Ready().get();
  orders.Pause().get();   // nothing new is delivered; running handlers still ack
  orders.Resume().get();  // consumes again on the same channel
  orders.Cancel().get();  // once its handlers and acks are done: channel closed, not replayed
  // [/snippet subscription-handle]
}

void Shutdown(messaging::AmqpClient& client) {
  // [snippet close]
  // On SIGTERM: stop consuming, let running handlers finish and their acks reach the broker,
  // wait for outstanding confirms, at most 5 s in all. Unconfirmed publishes then fail (kClosed).
  client.Close(5s);
  // [/snippet close]
}

}  // namespace guide
