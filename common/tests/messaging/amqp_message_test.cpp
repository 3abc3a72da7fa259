#include "messaging/amqp_message.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "messaging/amqp_status.hpp"

// Converting headers and properties to and from rabbitmq-c: nested tables, arrays and
// timestamps (x-death) and the per-message properties survive the AMQP wire format.
namespace cppblog::messaging {
namespace {

// An x-death header as RabbitMQ writes it when it dead-letters a message.
Headers XDeath() {
  return Headers{
      {"x-death", HeaderArray{Headers{{"count", std::int64_t{2}},
                                      {"reason", "expired"},
                                      {"queue", "orders"},
                                      {"time", HeaderTimestamp{1'700'000'000}},
                                      {"exchange", ""},
                                      {"routing-keys", HeaderArray{"orders", "orders.eu"}}}}},
      {"x-first-death-queue", "orders"},
      {"flag", true},
      {"ratio", 0.25},
      {"empty-table", Headers{}},
      {"empty-array", HeaderArray{}},
      {"nested", Headers{{"deeper", Headers{{"list", HeaderArray{std::int64_t{1}, "two",
                                                                 HeaderArray{false}}}}}}},
  };
}

// Encodes `headers` as the AMQP wire format and decodes them again, as a broker round trip does.
Headers ThroughTheWire(const Headers& headers) {
  amqp::FieldStorage storage;
  amqp_table_t table = amqp::TableOf(headers, storage);
  std::vector<char> buffer(64 * 1024);
  amqp_bytes_t encoded{buffer.size(), buffer.data()};
  std::size_t offset = 0;
  EXPECT_EQ(amqp_encode_table(encoded, &table, &offset), AMQP_STATUS_OK);
  amqp_pool_t pool;
  init_amqp_pool(&pool, 4096);
  amqp_table_t decoded{};
  std::size_t read = 0;
  encoded.len = offset;
  EXPECT_EQ(amqp_decode_table(encoded, &pool, &decoded, &read), AMQP_STATUS_OK);
  Headers out = amqp::HeadersOf(decoded);
  empty_amqp_pool(&pool);
  return out;
}

TEST(AmqpMessage, NestedTablesArraysAndTimestampsSurviveTheWireUnchanged) {
  EXPECT_EQ(ThroughTheWire(XDeath()), XDeath());
}

TEST(AmqpMessage, KeepsTheWireKindsOfXDeathFields) {
  const Headers headers = XDeath();
  amqp::FieldStorage storage;
  const amqp_table_t table = amqp::TableOf(headers, storage);
  ASSERT_GT(table.num_entries, 0);
  const auto find = [](const amqp_table_t& t, const std::string& key) -> const amqp_field_value_t* {
    for (int i = 0; i < t.num_entries; ++i) {
      if (amqp::ToString(t.entries[i].key) == key) return &t.entries[i].value;
    }
    return nullptr;
  };
  const amqp_field_value_t* x_death = find(table, "x-death");
  ASSERT_NE(x_death, nullptr);
  ASSERT_EQ(x_death->kind, AMQP_FIELD_KIND_ARRAY);
  ASSERT_EQ(x_death->value.array.num_entries, 1);
  const amqp_field_value_t& entry = x_death->value.array.entries[0];
  ASSERT_EQ(entry.kind, AMQP_FIELD_KIND_TABLE);
  const amqp_field_value_t* time = find(entry.value.table, "time");
  ASSERT_NE(time, nullptr);
  EXPECT_EQ(time->kind, AMQP_FIELD_KIND_TIMESTAMP);
  EXPECT_EQ(time->value.u64, 1'700'000'000U);
  const amqp_field_value_t* count = find(entry.value.table, "count");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->kind, AMQP_FIELD_KIND_I64);
  const amqp_field_value_t* keys = find(entry.value.table, "routing-keys");
  ASSERT_NE(keys, nullptr);
  ASSERT_EQ(keys->kind, AMQP_FIELD_KIND_ARRAY);
  ASSERT_EQ(keys->value.array.num_entries, 2);
  EXPECT_EQ(amqp::ToString(keys->value.array.entries[1].value.bytes), "orders.eu");
}

TEST(AmqpMessage, StorageIsReusedForSmallerAndLargerTables) {
  amqp::FieldStorage storage;
  const Headers big = XDeath();
  const Headers small{{"a", "b"}};
  for (int i = 0; i < 3; ++i) {
    (void)amqp::TableOf(big, storage);
    const amqp_table_t t = amqp::TableOf(small, storage);
    ASSERT_EQ(t.num_entries, 1);
    EXPECT_EQ(amqp::ToString(t.entries[0].value.value.bytes), "b");
  }
}

TEST(AmqpMessage, SmallerIntegersAndFloatsWidenAndUnknownKindsAreDropped) {
  amqp_table_entry_t entries[4]{};
  entries[0].key = amqp::Bytes("i8");
  entries[0].value.kind = AMQP_FIELD_KIND_I8;
  entries[0].value.value.i8 = -3;
  entries[1].key = amqp::Bytes("u32");
  entries[1].value.kind = AMQP_FIELD_KIND_U32;
  entries[1].value.value.u32 = 4'000'000'000U;
  entries[2].key = amqp::Bytes("f32");
  entries[2].value.kind = AMQP_FIELD_KIND_F32;
  entries[2].value.value.f32 = 0.5F;
  entries[3].key = amqp::Bytes("void");
  entries[3].value.kind = AMQP_FIELD_KIND_VOID;
  const Headers headers = amqp::HeadersOf(amqp_table_t{4, entries});
  EXPECT_EQ(
      headers,
      (Headers{{"i8", std::int64_t{-3}}, {"u32", std::int64_t{4'000'000'000}}, {"f32", 0.5}}));
}

// Properties of a message as rabbitmq-c would deliver them: what PropertiesOf made.
Message RoundTrip(const Message& sent, amqp::FieldStorage& storage) {
  amqp_message_t received{};
  received.properties = amqp::PropertiesOf(sent, storage);
  received.body = amqp::Bytes(sent.body);
  Message out;
  amqp::ReadMessage(received, out);
  return out;
}

TEST(AmqpMessage, ExpirationPriorityTimestampAndAppIdRoundTrip) {
  Message sent{.body = "{}", .message_id = "m-1", .headers = XDeath()};
  sent.expiration = std::chrono::milliseconds{1500};
  sent.priority = 7;
  sent.timestamp = std::chrono::sys_seconds{std::chrono::seconds{1'700'000'123}};
  sent.app_id = "orders-service";
  amqp::FieldStorage storage;
  const amqp_basic_properties_t props = amqp::PropertiesOf(sent, storage);
  EXPECT_EQ(amqp::ToString(props.expiration), "1500");  // milliseconds as text, per the spec
  const Message got = RoundTrip(sent, storage);
  EXPECT_EQ(got.expiration, std::chrono::milliseconds{1500});
  EXPECT_EQ(got.priority, std::uint8_t{7});
  EXPECT_EQ(got.timestamp, sent.timestamp);
  EXPECT_EQ(got.app_id, "orders-service");
  EXPECT_EQ(got.message_id, "m-1");
  EXPECT_EQ(got.headers, sent.headers);
}

TEST(AmqpMessage, UnsetPropertiesStayUnset) {
  const Message sent{.body = "x"};
  amqp::FieldStorage storage;
  const amqp_basic_properties_t props = amqp::PropertiesOf(sent, storage);
  EXPECT_EQ(
      props._flags & (AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_PRIORITY_FLAG |
                      AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_HEADERS_FLAG),
      0U);
  const Message got = RoundTrip(sent, storage);
  EXPECT_FALSE(got.expiration.has_value());
  EXPECT_FALSE(got.priority.has_value());
  EXPECT_FALSE(got.timestamp.has_value());
  EXPECT_TRUE(got.app_id.empty());
}

TEST(AmqpMessage, AnExpirationThatIsNotANumberReadsAsNone) {
  amqp_message_t received{};
  received.properties._flags = AMQP_BASIC_EXPIRATION_FLAG;
  received.properties.expiration = amqp::Bytes("soon");
  Message out;
  amqp::ReadMessage(received, out);
  EXPECT_FALSE(out.expiration.has_value());
}

}  // namespace
}  // namespace cppblog::messaging
