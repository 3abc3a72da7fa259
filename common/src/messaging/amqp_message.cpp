#include "amqp_message.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "amqp_status.hpp"

namespace cppblog::messaging::amqp {
namespace {

// Entries of every table and elements of every array inside `headers`, itself included.
void Count(const Headers& headers, std::size_t& entries, std::size_t& elements);

void Count(const HeaderValue& value, std::size_t& entries, std::size_t& elements) {
  if (const auto* table = std::get_if<Headers>(&value)) {
    Count(*table, entries, elements);
  } else if (const auto* array = std::get_if<HeaderArray>(&value)) {
    elements += array->size();
    for (const HeaderValue& element : *array) Count(element, entries, elements);
  }
}

void Count(const Headers& headers, std::size_t& entries, std::size_t& elements) {
  entries += headers.size();
  for (const auto& [key, value] : headers) Count(value, entries, elements);
}

std::optional<HeaderValue> ValueOf(const amqp_field_value_t& v);

Headers TableValue(const amqp_table_t& table) {
  Headers out;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& entry = table.entries[i];
    if (auto value = ValueOf(entry.value)) {
      out.insert_or_assign(ToString(entry.key), std::move(*value));
    }
  }
  return out;
}

std::optional<HeaderValue> ValueOf(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      return HeaderValue{ToString(v.value.bytes)};
    case AMQP_FIELD_KIND_BOOLEAN:
      return HeaderValue{v.value.boolean != 0};
    case AMQP_FIELD_KIND_I8:
      return HeaderValue{std::int64_t{v.value.i8}};
    case AMQP_FIELD_KIND_U8:
      return HeaderValue{std::int64_t{v.value.u8}};
    case AMQP_FIELD_KIND_I16:
      return HeaderValue{std::int64_t{v.value.i16}};
    case AMQP_FIELD_KIND_U16:
      return HeaderValue{std::int64_t{v.value.u16}};
    case AMQP_FIELD_KIND_I32:
      return HeaderValue{std::int64_t{v.value.i32}};
    case AMQP_FIELD_KIND_U32:
      return HeaderValue{std::int64_t{v.value.u32}};
    case AMQP_FIELD_KIND_I64:
      return HeaderValue{v.value.i64};
    case AMQP_FIELD_KIND_U64:
      return HeaderValue{static_cast<std::int64_t>(v.value.u64)};
    case AMQP_FIELD_KIND_TIMESTAMP:
      return HeaderValue{HeaderTimestamp{static_cast<std::int64_t>(v.value.u64)}};
    case AMQP_FIELD_KIND_F32:
      return HeaderValue{double{v.value.f32}};
    case AMQP_FIELD_KIND_F64:
      return HeaderValue{v.value.f64};
    case AMQP_FIELD_KIND_TABLE:
      return HeaderValue{TableValue(v.value.table)};
    case AMQP_FIELD_KIND_ARRAY: {
      HeaderArray array;
      array.reserve(static_cast<std::size_t>(std::max(0, v.value.array.num_entries)));
      for (int i = 0; i < v.value.array.num_entries; ++i) {
        // An element of a kind we drop would shift the others: keep its place as text.
        auto element = ValueOf(v.value.array.entries[i]);
        array.push_back(element ? std::move(*element) : HeaderValue{std::string{}});
      }
      return HeaderValue{std::move(array)};
    }
    default:
      return std::nullopt;  // decimal, void: not part of our header model
  }
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

// The expiration property is a decimal number of milliseconds as text; anything else (another
// client's idea of it) reads as none.
std::optional<std::chrono::milliseconds> ParseExpiration(amqp_bytes_t bytes) {
  const auto* first = static_cast<const char*>(bytes.bytes);
  const auto* last = first + bytes.len;
  std::int64_t ms = 0;
  const auto [end, error] = std::from_chars(first, last, ms);
  if (error != std::errc{} || end != last || ms < 0) return std::nullopt;
  return std::chrono::milliseconds{ms};
}

}  // namespace

amqp_field_value_t FieldStorage::Field(const HeaderValue& value) {
  amqp_field_value_t field{};
  std::visit(
      [&](const auto& v) {
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
        } else if constexpr (std::is_same_v<T, double>) {
          field.kind = AMQP_FIELD_KIND_F64;
          field.value.f64 = v;
        } else if constexpr (std::is_same_v<T, HeaderTimestamp>) {
          field.kind = AMQP_FIELD_KIND_TIMESTAMP;
          field.value.u64 = static_cast<std::uint64_t>(v.seconds);
        } else if constexpr (std::is_same_v<T, Headers>) {
          field.kind = AMQP_FIELD_KIND_TABLE;
          field.value.table = Fill(v);
        } else {
          static_assert(std::is_same_v<T, HeaderArray>);
          field.kind = AMQP_FIELD_KIND_ARRAY;
          // This array's block: taken before the elements' own nested blocks.
          const std::size_t first = elements_used_;
          elements_used_ += v.size();
          for (std::size_t i = 0; i < v.size(); ++i) elements_[first + i] = Field(v[i]);
          field.value.array = amqp_array_t{static_cast<int>(v.size()),
                                           v.empty() ? nullptr : elements_.data() + first};
        }
      },
      static_cast<const HeaderValue::variant&>(value));
  return field;
}

amqp_table_t FieldStorage::Fill(const Headers& headers) {
  // This table's block: taken before the values' own nested blocks.
  const std::size_t first = entries_used_;
  entries_used_ += headers.size();
  std::size_t i = first;
  for (const auto& [key, value] : headers) {
    entries_[i].key = Bytes(key);
    entries_[i].value = Field(value);
    ++i;
  }
  return amqp_table_t{static_cast<int>(headers.size()),
                      headers.empty() ? nullptr : entries_.data() + first};
}

amqp_table_t FieldStorage::Table(const Headers& headers) {
  std::size_t entries = 0;
  std::size_t elements = 0;
  Count(headers, entries, elements);
  // Sized once, before any view into them is taken: the views stay valid.
  entries_.resize(entries);
  elements_.resize(elements);
  entries_used_ = 0;
  elements_used_ = 0;
  return Fill(headers);
}

amqp_bytes_t FieldStorage::Text(std::string text) {
  text_ = std::move(text);
  return Bytes(text_);
}

amqp_table_t TableOf(const Headers& headers, FieldStorage& storage) {
  return storage.Table(headers);
}

amqp_basic_properties_t PropertiesOf(const Message& message, FieldStorage& storage) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = message.persistent ? 2 : 1;
  SetBytes(props, AMQP_BASIC_CONTENT_TYPE_FLAG, props.content_type, message.content_type);
  SetBytes(props, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id, message.message_id);
  SetBytes(props, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id, message.correlation_id);
  SetBytes(props, AMQP_BASIC_REPLY_TO_FLAG, props.reply_to, message.reply_to);
  SetBytes(props, AMQP_BASIC_TYPE_FLAG, props.type, message.type);
  SetBytes(props, AMQP_BASIC_APP_ID_FLAG, props.app_id, message.app_id);
  if (message.expiration) {
    props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    props.expiration =
        storage.Text(std::to_string(std::max<std::int64_t>(0, message.expiration->count())));
  }
  if (message.priority) {
    props._flags |= AMQP_BASIC_PRIORITY_FLAG;
    props.priority = *message.priority;
  }
  if (message.timestamp) {
    props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    props.timestamp = static_cast<std::uint64_t>(message.timestamp->time_since_epoch().count());
  }
  if (!message.headers.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = storage.Table(message.headers);
  }
  return props;
}

Headers HeadersOf(const amqp_table_t& table) { return TableValue(table); }

void ReadMessage(const amqp_message_t& message, Message& out) {
  const amqp_basic_properties_t& props = message.properties;
  out.body = ToString(message.body);
  out.content_type.clear();
  GetBytes(props, AMQP_BASIC_CONTENT_TYPE_FLAG, props.content_type, out.content_type);
  GetBytes(props, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id, out.message_id);
  GetBytes(props, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id, out.correlation_id);
  GetBytes(props, AMQP_BASIC_REPLY_TO_FLAG, props.reply_to, out.reply_to);
  GetBytes(props, AMQP_BASIC_TYPE_FLAG, props.type, out.type);
  GetBytes(props, AMQP_BASIC_APP_ID_FLAG, props.app_id, out.app_id);
  out.persistent = (props._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && props.delivery_mode == 2;
  if ((props._flags & AMQP_BASIC_EXPIRATION_FLAG) != 0) {
    out.expiration = ParseExpiration(props.expiration);
  }
  if ((props._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) out.priority = props.priority;
  if ((props._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
    out.timestamp =
        std::chrono::sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(props.timestamp)}};
  }
  if ((props._flags & AMQP_BASIC_HEADERS_FLAG) != 0) out.headers = HeadersOf(props.headers);
}

}  // namespace cppblog::messaging::amqp
