#pragma once

#include <string>
#include <vector>

#include "cppblog/messaging/message.hpp"

#include "rabbitmq_c.hpp"

// Converting Message and Headers to and from rabbitmq-c structures. The amqp_* views point
// into the C++ objects and into a FieldStorage, which must outlive them.
namespace cppblog::messaging::amqp {

/// The memory behind the rabbitmq-c view of a table: its entries, those of nested tables and
/// the elements of arrays. Reused between calls (one per connection), so that converting the
/// headers of one message after another allocates nothing once it has grown.
class FieldStorage {
 public:
  /// A view of `headers` valid until the next call (or the storage's end).
  [[nodiscard]] amqp_table_t Table(const Headers& headers);
  /// Text for one property (the expiration): valid until the next Table() or Text() call.
  [[nodiscard]] amqp_bytes_t Text(std::string text);

 private:
  amqp_table_t Fill(const Headers& headers);
  amqp_field_value_t Field(const HeaderValue& value);

  std::vector<amqp_table_entry_t> entries_;   // every table's entries, one block per table
  std::vector<amqp_field_value_t> elements_;  // every array's elements, one block per array
  std::size_t entries_used_ = 0;
  std::size_t elements_used_ = 0;
  std::string text_;
};

/// A view of `headers` through `storage`.
[[nodiscard]] amqp_table_t TableOf(const Headers& headers, FieldStorage& storage);

/// Properties of `message` for basic.publish; headers and expiration go through `storage`.
[[nodiscard]] amqp_basic_properties_t PropertiesOf(const Message& message, FieldStorage& storage);

/// The headers of a table, nested tables, arrays and timestamps included (see HeaderValue for
/// the field kinds that are widened or dropped).
[[nodiscard]] Headers HeadersOf(const amqp_table_t& table);

/// Copies properties and body of a received message into `out`.
void ReadMessage(const amqp_message_t& message, Message& out);

}  // namespace cppblog::messaging::amqp
