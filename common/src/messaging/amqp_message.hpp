#pragma once

#include <vector>

#include "cppblog/messaging/message.hpp"

#include "rabbitmq_c.hpp"

// Converting Message and Headers to and from rabbitmq-c structures. The amqp_* views point
// into the C++ objects, which must outlive them.
namespace cppblog::messaging::amqp {

/// Fills `entries` (reused between calls) with views of `headers`.
[[nodiscard]] amqp_table_t TableOf(const Headers& headers,
                                   std::vector<amqp_table_entry_t>& entries);

/// Properties of `message` for basic.publish; headers go through `entries`.
[[nodiscard]] amqp_basic_properties_t PropertiesOf(const Message& message,
                                                   std::vector<amqp_table_entry_t>& entries);

/// The scalar headers of a table (nested tables and arrays are skipped).
[[nodiscard]] Headers HeadersOf(const amqp_table_t& table);

/// Copies properties and body of a received message into `out`.
void ReadMessage(const amqp_message_t& message, Message& out);

}  // namespace cppblog::messaging::amqp
