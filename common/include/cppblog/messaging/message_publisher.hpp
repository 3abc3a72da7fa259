#pragma once

#include <future>
#include <string>

#include "cppblog/messaging/message.hpp"
#include "cppblog/messaging/topology.hpp"

namespace cppblog::messaging {

/// The role "sends messages to the broker, reliably". Implementations are thread-safe.
///
/// Every publish returns a future that completes when the broker has taken responsibility
/// for the message (publisher confirm) and fails with MessagingError on unroutable return
/// (when Message::mandatory), timeout, a full buffer or close. A nack is not final: the
/// message is sent again after a pause until the broker takes it or it times out (kNacked
/// then; a quorum queue nacks while it elects a leader, docs/decisions/0011). A caller that drops
/// the future accepts losing the message.
class MessagePublisher {
 public:
  virtual ~MessagePublisher() = default;

  /// Publishes to `exchange` (declared once per connection as specified) with `routing_key`.
  [[nodiscard]] virtual std::future<void> Publish(const ExchangeSpec& exchange,
                                                  std::string routing_key, Message message) = 0;

  /// Publishes to `queue` (declared once per connection) through the default exchange.
  [[nodiscard]] virtual std::future<void> PublishToQueue(const QueueSpec& queue,
                                                         Message message) = 0;
};

}  // namespace cppblog::messaging
