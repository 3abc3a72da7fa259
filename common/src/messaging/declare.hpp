#pragma once

#include <string>

#include "cppblog/messaging/topology.hpp"

#include "rabbitmq_c.hpp"

// Declarations as synchronous RPCs on the caller's channel. A refusal throws MessagingError
// (amqp::IsChannelError: the channel is then closed and must be reopened).
namespace cppblog::messaging::amqp {

[[nodiscard]] const char* TypeName(ExchangeType type) noexcept;

void DeclareExchange(amqp_connection_state_t conn, amqp_channel_t channel,
                     const ExchangeSpec& exchange);

/// Declares x-queue-type=quorum for a quorum queue (classic: no argument). A conflict with the
/// existing queue's type is a MessagingError (kPreconditionFailed) naming both types and
/// `queue.type_setting`.
/// Returns the queue's name (the broker's for an empty spec name).
[[nodiscard]] std::string DeclareQueue(amqp_connection_state_t conn, amqp_channel_t channel,
                                       const QueueSpec& queue);

void BindQueue(amqp_connection_state_t conn, amqp_channel_t channel, const std::string& queue,
               const std::string& exchange, const std::string& key, const Headers& arguments);

}  // namespace cppblog::messaging::amqp
