#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "cppblog/messaging/message.hpp"
#include "cppblog/messaging/subscription.hpp"
#include "cppblog/messaging/topology.hpp"

namespace cppblog::messaging {

/// Called on a worker thread (never the I/O thread) for each delivery; the message is acked
/// after it returns, according to its Outcome. Throwing PoisonMessage dead-letters the
/// message, throwing anything else retries it. Handlers of one subscription may run
/// concurrently (up to the prefetch count). A handler must not call AmqpClient::Close (Close
/// waits for handlers) and should not block for long: its message holds a prefetch slot.
using Handler = std::function<Outcome(const Message&)>;

struct ConsumerOptions {
  /// Empty: the broker makes one up.
  std::string consumer_tag{};
  /// Unacknowledged deliveries the broker may push to this consumer (basic.qos).
  std::uint16_t prefetch = 100;
  /// Attempts after the first before a message is dead-lettered.
  std::uint32_t max_retries = 3;
  /// Delay before retry n is retry_backoff * 2^(n-1), capped at max_retry_backoff.
  std::chrono::milliseconds retry_backoff{200};
  std::chrono::milliseconds max_retry_backoff{10'000};
  /// For headers exchanges: the binding arguments (x-match and the header values).
  Headers binding_arguments{};
  /// The consumer's priority (basic.consume argument `x-priority`): while a consumer of a
  /// higher priority has room in its prefetch window, the broker delivers to it only. Unset:
  /// the broker's default, 0. (Single active consumer is a queue argument:
  /// QueueSpec::arguments `x-single-active-consumer` = true.)
  std::optional<std::int32_t> priority{};
  /// Further basic.consume arguments; `priority`, when set, overrides an `x-priority` here.
  Headers consumer_arguments{};
};

/// The role "receives messages, at least once". Implementations are thread-safe.
///
/// A subscription is recorded and replayed after every reconnect. The returned future
/// completes once the broker has registered the consumer the first time, and fails with
/// MessagingError (the subscription is then dropped) when the broker refuses a
/// declaration, e.g. PRECONDITION_FAILED for arguments that differ from an existing queue.
class MessageSubscriber {
 public:
  virtual ~MessageSubscriber() = default;

  /// Declares `exchange` and `queue`, binds the queue with each of `binding_keys` (none: the
  /// empty key), consumes. An empty queue name means a server-named exclusive queue.
  [[nodiscard]] virtual std::future<void> Subscribe(const ExchangeSpec& exchange,
                                                    std::vector<std::string> binding_keys,
                                                    const QueueSpec& queue, Handler handler,
                                                    const ConsumerOptions& options) = 0;

  /// Declares `queue` (and `<queue>.dlq`) and consumes from it.
  [[nodiscard]] virtual std::future<void> SubscribeToQueue(const QueueSpec& queue, Handler handler,
                                                           const ConsumerOptions& options) = 0;

  /// As Subscribe and SubscribeToQueue, but returning a handle that pauses, resumes and cancels
  /// this one subscription (see Subscription); its Ready() is what their future reports. A
  /// subscription refused at once (closed subscriber, empty handler or queue name) gets a handle
  /// whose Ready() has the error and whose calls fail with kClosed. (In tests, a Subscription
  /// over cppblog::testing's MockSubscriptionControl stands in for one.)
  [[nodiscard]] virtual Subscription SubscribeHandle(const ExchangeSpec& exchange,
                                                     std::vector<std::string> binding_keys,
                                                     const QueueSpec& queue, Handler handler,
                                                     const ConsumerOptions& options) = 0;
  [[nodiscard]] virtual Subscription SubscribeToQueueHandle(const QueueSpec& queue, Handler handler,
                                                            const ConsumerOptions& options) = 0;
};

}  // namespace cppblog::messaging
