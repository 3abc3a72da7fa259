#include "amqp_message.hpp"

#include <string>
#include <type_traits>

#include "amqp_status.hpp"

namespace cppblog::messaging::amqp {
namespace {

amqp_field_value_t FieldOf(const HeaderValue& value) {
  amqp_field_value_t field{};
  std::visit(
      [&field](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          field.kind = AMQP_FIELD_KIND_UTF8;
          field.value.bytes = Bytes(v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          field.kind = AMQP_FIELD_KIND_I64;
          field.value.i64 = v;
        } else if constexpr (std::is_same_v<T, bool>) {
          field.kind = AMQP_FIELD_KIND_BOOLEAN;
          field.value.boolean = v ? 1 : 0;
        } else {
          field.kind = AMQP_FIELD_KIND_F64;
          field.value.f64 = v;
        }
      },
      value);
  return field;
}

void SetBytes(amqp_basic_properties_t& props, amqp_flags_t flag, amqp_bytes_t& field,
              const std::string& value) {
  if (value.empty()) return;
  props._flags |= flag;
  field = Bytes(value);
}

void GetBytes(const amqp_basic_properties_t& props, amqp_flags_t flag, const amqp_bytes_t& field,
              std::string& out) {
  if ((props._flags & flag) != 0) out = ToString(field);
}

}  // namespace

amqp_table_t TableOf(const Headers& headers, std::vector<amqp_table_entry_t>& entries) {
  entries.clear();
  for (const auto& [key, value] : headers) {
    amqp_table_entry_t entry{};
    entry.key = Bytes(key);
    entry.value = FieldOf(value);
    entries.push_back(entry);
  }
  return amqp_table_t{static_cast<int>(entries.size()), entries.empty() ? nullptr : entries.data()};
}

amqp_basic_properties_t PropertiesOf(const Message& message,
                                     std::vector<amqp_table_entry_t>& entries) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = message.persistent ? 2 : 1;
  SetBytes(props, AMQP_BASIC_CONTENT_TYPE_FLAG, props.content_type, message.content_type);
  SetBytes(props, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id, message.message_id);
  SetBytes(props, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id, message.correlation_id);
  SetBytes(props, AMQP_BASIC_REPLY_TO_FLAG, props.reply_to, message.reply_to);
  SetBytes(props, AMQP_BASIC_TYPE_FLAG, props.type, message.type);
  if (!message.headers.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = TableOf(message.headers, entries);
  }
  return props;
}

Headers HeadersOf(const amqp_table_t& table) {
  Headers out;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& entry = table.entries[i];
    std::string key = ToString(entry.key);
    const amqp_field_value_t& v = entry.value;
    switch (v.kind) {
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES:
        out.emplace(std::move(key), ToString(v.value.bytes));
        break;
      case AMQP_FIELD_KIND_BOOLEAN:
        out.emplace(std::move(key), v.value.boolean != 0);
        break;
      case AMQP_FIELD_KIND_I8:
        out.emplace(std::move(key), std::int64_t{v.value.i8});
        break;
      case AMQP_FIELD_KIND_U8:
        out.emplace(std::move(key), std::int64_t{v.value.u8});
        break;
      case AMQP_FIELD_KIND_I16:
        out.emplace(std::move(key), std::int64_t{v.value.i16});
        break;
      case AMQP_FIELD_KIND_U16:
        out.emplace(std::move(key), std::int64_t{v.value.u16});
        break;
      case AMQP_FIELD_KIND_I32:
        out.emplace(std::move(key), std::int64_t{v.value.i32});
        break;
      case AMQP_FIELD_KIND_U32:
        out.emplace(std::move(key), std::int64_t{v.value.u32});
        break;
      case AMQP_FIELD_KIND_I64:
        out.emplace(std::move(key), v.value.i64);
        break;
      case AMQP_FIELD_KIND_U64:
      case AMQP_FIELD_KIND_TIMESTAMP:
        out.emplace(std::move(key), static_cast<std::int64_t>(v.value.u64));
        break;
      case AMQP_FIELD_KIND_F32:
        out.emplace(std::move(key), double{v.value.f32});
        break;
      case AMQP_FIELD_KIND_F64:
        out.emplace(std::move(key), v.value.f64);
        break;
      default:
        break;  // nested tables, arrays, decimals: not part of our header model
    }
  }
  return out;
}

void ReadMessage(const amqp_message_t& message, Message& out) {
  const amqp_basic_properties_t& props = message.properties;
  out.body = ToString(message.body);
  out.content_type.clear();
  GetBytes(props, AMQP_BASIC_CONTENT_TYPE_FLAG, props.content_type, out.content_type);
  GetBytes(props, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id, out.message_id);
  GetBytes(props, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id, out.correlation_id);
  GetBytes(props, AMQP_BASIC_REPLY_TO_FLAG, props.reply_to, out.reply_to);
  GetBytes(props, AMQP_BASIC_TYPE_FLAG, props.type, out.type);
  out.persistent = (props._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && props.delivery_mode == 2;
  if ((props._flags & AMQP_BASIC_HEADERS_FLAG) != 0) out.headers = HeadersOf(props.headers);
}

}  // namespace cppblog::messaging::amqp
