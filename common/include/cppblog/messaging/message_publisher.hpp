#pragma once

#include <functional>
#include <future>
#include <string>

#include "cppblog/messaging/message.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/topology.hpp"

namespace cppblog::messaging {

/// The result of a publish, for the callback forms of Publish and PublishToQueue: nullptr once
/// the broker confirmed the message, else the error its future would have thrown (valid only
/// during the call).
using PublishCallback = std::function<void(const MessagingError* error)>;

/// The role "sends messages to the broker, reliably". Implementations are thread-safe.
///
/// Every publish returns a future that completes when the broker has taken responsibility
/// for the message (publisher confirm) and fails with MessagingError on unroutable return
/// (when Message::mandatory), timeout, a full buffer or close. A nack (the broker refused the
/// message) fails a publish to a queue declared classic at once with kNacked (the queue is full);
/// any other nacked message is sent again after a pause until the broker takes it or it times out
/// (kNacked then; a quorum queue nacks while it elects a leader, docs/decisions/0016). A caller
/// that drops the future accepts losing the message.
///
/// The callback forms report the same result to `on_done`, exactly once, instead of through a
/// future. AmqpClient implements them without a thread that waits (see there for where the
/// callback runs). The default implementation here calls the future form and, when its future
/// is not ready at once, waits for it on a thread of its own: implementations that can report a
/// result directly should override it. An exception that is not a MessagingError reaches
/// `on_done` as a MessagingError of kind kChannelClosed with the same text.
class MessagePublisher {
 public:
  virtual ~MessagePublisher() = default;

  /// Publishes to `exchange` (declared once per connection as specified) with `routing_key`.
  [[nodiscard]] virtual std::future<void> Publish(const ExchangeSpec& exchange,
                                                  std::string routing_key, Message message) = 0;

  /// Publishes to `queue` (declared once per connection) through the default exchange.
  [[nodiscard]] virtual std::future<void> PublishToQueue(const QueueSpec& queue,
                                                         Message message) = 0;

  /// Publish with a completion callback instead of a future.
  virtual void Publish(const ExchangeSpec& exchange, std::string routing_key, Message message,
                       PublishCallback on_done);

  /// PublishToQueue with a completion callback instead of a future.
  virtual void PublishToQueue(const QueueSpec& queue, Message message, PublishCallback on_done);
};

}  // namespace cppblog::messaging
