#include "cppblog/outbox/pg_outbox.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/outbox/relay.hpp"
#include "cppblog/storage/store_error.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "log_capture.hpp"
#include "pg_test_env.hpp"
#include "scoped_outage.hpp"
#include "test_client.hpp"

namespace cppblog::outbox {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kDeadline = 20s;

using Connection = TestPgConnection;

Connection Connect(const TestPgSchema& schema) { return schema.Connect(); }

void Sql(PGconn* conn, const std::string& sql) { ExecTestSql(conn, sql); }

void Migrate(PGconn* conn, const PgOutbox& outbox) {
  Sql(conn, "BEGIN");
  outbox.Migrate(conn);
  Sql(conn, "COMMIT");
}

// One append in a transaction of its own that commits.
std::uint64_t AppendCommitted(PGconn* conn, const PgOutbox& outbox, const std::string& id) {
  Sql(conn, "BEGIN");
  const std::uint64_t sequence = outbox.Append(conn, {.message_id = id, .body = "body of " + id});
  Sql(conn, "COMMIT");
  return sequence;
}

PgOutboxStoreOptions StoreOptions(const TestPgSchema& schema) {
  return {.url = schema.Url(), .reconnect_min = 50ms, .reconnect_max = 500ms};
}

// One handler thread: deliveries are recorded in the order they arrive (the default pool of
// four would record them in the order its threads happen to run).
messaging::AmqpClientOptions OneHandlerThread() {
  messaging::AmqpClientOptions options = messaging::TestOptions();
  options.handler_threads = 1;
  return options;
}

// A queue of its own, consumed into an inbox, and the relay's options that publish to it.
struct Destination {
  Destination()
      : queue{.name = messaging::UniqueName("outbox-pg"), .durable = false, .auto_delete = true},
        consumer(OneHandlerThread()) {
    auto subscribed = consumer.SubscribeToQueue(queue, received.Recorder(), {});
    messaging::Ready(subscribed);
  }

  [[nodiscard]] RelayOptions Options() const {
    return {.destination = queue, .retry_min = 20ms, .retry_max = 500ms, .stop_wait = 2s};
  }

  [[nodiscard]] std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const messaging::Message& message : received.Messages()) {
      ids.push_back(message.message_id);
    }
    return ids;
  }

  messaging::QueueSpec queue;
  messaging::AmqpClient consumer;
  messaging::Inbox received;
};

std::size_t Rows(const TestPgSchema& schema, const std::string& table = "outbox_messages") {
  return std::stoul(schema.Query("SELECT count(*) FROM " + table));
}

TEST(PgOutbox, MigrateCreatesTheTableAndRecordsItsVersionOnce) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox{{.table = "order_events"}};
  Migrate(conn.get(), outbox);
  Migrate(conn.get(), outbox);  // again: nothing to do

  EXPECT_EQ(schema.Query("SELECT version FROM cppblog_schema_version WHERE component = "
                         "'outbox order_events'"),
            "1");
  EXPECT_EQ(Rows(schema, "order_events"), 0U);
}

TEST(PgOutbox, MigrateOutsideATransactionAndBadTableNamesAreRefused) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  EXPECT_THROW(outbox.Migrate(conn.get()), std::logic_error);
  EXPECT_THROW(PgOutbox({.table = "Bad-Name"}), std::invalid_argument);
  EXPECT_THROW(PgOutboxStore({.url = schema.Url(), .table = "1x"}), std::invalid_argument);
}

TEST(PgOutbox, ANewerSchemaVersionIsRefusedWithWhatToDo) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);
  Sql(conn.get(),
      "UPDATE cppblog_schema_version SET version = 99 WHERE component = 'outbox "
      "outbox_messages'");
  Sql(conn.get(), "BEGIN");
  try {
    outbox.Migrate(conn.get());
    FAIL() << "a newer schema was accepted";
  } catch (const storage::StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("newer than this program's"));
  }
  Sql(conn.get(), "ROLLBACK");
}

TEST(PgOutbox, AppendsGetIncreasingSequencesAndARollbackLeavesNothing) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);

  const std::uint64_t first = AppendCommitted(conn.get(), outbox, "m1");
  Sql(conn.get(), "BEGIN");
  static_cast<void>(outbox.Append(conn.get(), {.message_id = "gone", .body = "x"}));
  Sql(conn.get(), "ROLLBACK");
  const std::uint64_t second = AppendCommitted(conn.get(), outbox, "m2");

  EXPECT_GT(second, first);
  EXPECT_EQ(Rows(schema), 2U);
  EXPECT_EQ(schema.Query("SELECT count(*) FROM outbox_messages WHERE message_id = 'gone'"), "0");
  EXPECT_THROW(static_cast<void>(outbox.Append(conn.get(), {.message_id = "", .body = "x"})),
               std::invalid_argument);
}

TEST(PgOutboxStore, AnUrlThatIsNotPostgresIsRefusedWithoutShowingIt) {
  try {
    const PgOutboxStore store{{.url = "host=db password=S3cret"}};
    FAIL() << "accepted";
  } catch (const storage::StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("postgresql://"));
    EXPECT_THAT(e.what(), Not(HasSubstr("S3cret")));
  }
}

TEST(PgOutboxStore, DescribeMasksThePassword) {
  const PgOutboxStore store{{.url = "postgresql://app:S3cret@127.0.0.1:1/db",
                             .connect_timeout = 1s,
                             .reconnect_min = 1s}};
  EXPECT_THAT(store.Describe(), HasSubstr("app:***@127.0.0.1:1/db"));
  EXPECT_THAT(store.Describe(), Not(HasSubstr("S3cret")));
  EXPECT_FALSE(store.Relaying());
}

// The test server's URL with another password (percent-encoded as a URL may have it).
std::string WithWrongPassword(const std::string& url) {
  const auto user_start = url.find("://") + 3;
  const auto at = url.rfind('@');
  const auto colon = url.find(':', user_start);
  return url.substr(0, colon + 1) + "Wr0ngS3cret%21x" + url.substr(at);
}

TEST(PgOutboxStore, AWrongPasswordIsNeverShownInLogsOrErrors) {
  const messaging::LogCapture log;
  {
    const PgOutboxStore store{
        {.url = WithWrongPassword(TestPgUrl()), .reconnect_min = 10ms, .reconnect_max = 20ms}};
    ASSERT_TRUE(messaging::WaitUntil(
        [&] { return log.Count("cannot connect the relay connection") >= 1; }, kDeadline));
    EXPECT_TRUE(store.Read(0, 10).empty());
    try {
      static_cast<void>(store.Size());
      FAIL() << "a store with a wrong password counted its entries";
    } catch (const storage::StoreError& e) {
      EXPECT_THAT(e.what(), HasSubstr("cannot connect"));
      EXPECT_THAT(e.what(), HasSubstr(":***@"));
      EXPECT_THAT(e.what(), Not(HasSubstr("Wr0ngS3cret")));
    }
  }
  for (const std::string& line : log.Lines()) {
    EXPECT_THAT(line, Not(HasSubstr("Wr0ngS3cret")));
  }
  EXPECT_GE(log.Count(":***@"), 1U);
}

TEST(PgOutboxRelay, ACommittedEntryIsRelayedOnceAndDeleted) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};
  PgOutboxStore store{StoreOptions(schema)};
  const Relay relay{store, publisher, destination.Options()};
  ASSERT_TRUE(store.WaitUntilRelaying(true, kDeadline));

  Sql(conn.get(), "BEGIN");
  static_cast<void>(outbox.Append(
      conn.get(), {.message_id = "order-1",
                   .body = R"({"order":1})",
                   .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}));
  Sql(conn.get(), "COMMIT");

  ASSERT_TRUE(destination.received.WaitFor(1, kDeadline));
  ASSERT_TRUE(messaging::WaitUntil([&] { return Rows(schema) == 0; }, kDeadline));
  const messaging::Message message = destination.received.Messages().front();
  EXPECT_EQ(message.message_id, "order-1");
  EXPECT_EQ(message.body, R"({"order":1})");
  EXPECT_TRUE(message.persistent);
  const auto traceparent = message.headers.find("traceparent");
  ASSERT_NE(traceparent, message.headers.end());
  EXPECT_THAT(std::get<std::string>(traceparent->second),
              HasSubstr("0af7651916cd43dd8448eb211c80319c"));
  ASSERT_TRUE(messaging::WaitUntil([&] { return relay.Confirmed() == 1; }, kDeadline));
  EXPECT_EQ(relay.Failed(), 0U);
  // Deleted: a later entry is the only other message that ever arrives.
  static_cast<void>(AppendCommitted(conn.get(), outbox, "order-2"));
  ASSERT_TRUE(destination.received.WaitFor(2, kDeadline));
  EXPECT_THAT(destination.Ids(), ElementsAre("order-1", "order-2"));
}

TEST(PgOutboxRelay, ARolledBackAppendIsNeverRelayed) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};
  PgOutboxStore store{StoreOptions(schema)};
  const Relay relay{store, publisher, destination.Options()};
  ASSERT_TRUE(store.WaitUntilRelaying(true, kDeadline));

  Sql(conn.get(), "BEGIN");
  static_cast<void>(outbox.Append(conn.get(), {.message_id = "rolled-back", .body = "x"}));
  Sql(conn.get(), "ROLLBACK");
  static_cast<void>(AppendCommitted(conn.get(), outbox, "committed"));

  ASSERT_TRUE(destination.received.WaitFor(1, kDeadline));
  ASSERT_TRUE(messaging::WaitUntil([&] { return relay.Confirmed() == 1; }, kDeadline));
  EXPECT_THAT(destination.Ids(), ElementsAre("committed"));
}

// No polling: the commit's notification wakes the relay, which publishes at once.
TEST(PgOutboxRelay, TheCommitWakesTheRelay) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};
  PgOutboxStore store{StoreOptions(schema)};
  const Relay relay{store, publisher, destination.Options()};
  ASSERT_TRUE(store.WaitUntilRelaying(true, kDeadline));

  std::chrono::steady_clock::duration slowest{};
  for (int i = 0; i < 5; ++i) {
    Sql(conn.get(), "BEGIN");
    static_cast<void>(
        outbox.Append(conn.get(), {.message_id = "m" + std::to_string(i), .body = "x"}));
    const auto committed = std::chrono::steady_clock::now();
    Sql(conn.get(), "COMMIT");
    ASSERT_TRUE(destination.received.WaitFor(static_cast<std::size_t>(i) + 1, kDeadline));
    slowest = std::max(slowest, std::chrono::steady_clock::now() - committed);
  }
  const auto slowest_ms = std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count();
  std::printf("slowest commit-to-delivery of 5: %lld ms\n", static_cast<long long>(slowest_ms));
  EXPECT_LT(slowest, 500ms);  // a woken relay takes a few ms; no poll interval to wait out
}

TEST(PgOutboxRelay, ARelayStartedLaterRelaysWhatWasCommittedBefore) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);
  for (const char* id : {"a", "b", "c"}) static_cast<void>(AppendCommitted(conn.get(), outbox, id));
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};

  PgOutboxStore store{StoreOptions(schema)};
  const Relay relay{store, publisher, destination.Options()};

  ASSERT_TRUE(destination.received.WaitFor(3, kDeadline));
  EXPECT_THAT(destination.Ids(), ElementsAre("a", "b", "c"));
  ASSERT_TRUE(messaging::WaitUntil([&] { return Rows(schema) == 0; }, kDeadline));
}

// Two relays (as two processes would have) on one table: one relays, the other waits for the
// lock in PostgreSQL; when the first goes, the second takes over. Every message once, in order.
TEST(PgOutboxRelay, TwoRelaysOnOneTableTakeTurnsAndKeepTheOrder) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgOutbox outbox;
  Migrate(conn.get(), outbox);
  Destination destination;
  messaging::AmqpClient publisher_a{messaging::TestOptions()};
  messaging::AmqpClient publisher_b{messaging::TestOptions()};

  auto store_a = std::make_unique<PgOutboxStore>(StoreOptions(schema));
  auto relay_a = std::make_unique<Relay>(*store_a, publisher_a, destination.Options());
  ASSERT_TRUE(store_a->WaitUntilRelaying(true, kDeadline));
  PgOutboxStore store_b{StoreOptions(schema)};
  const Relay relay_b{store_b, publisher_b, destination.Options()};
  // B's relay connection is up and waiting for the lock A holds.
  ASSERT_TRUE(messaging::WaitUntil(
      [&] {
        return schema.Query(
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                   "NOT granted AND classid = " +
                   std::to_string(PgOutbox::kRelayLockClass)) == "1";
      },
      kDeadline));

  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    expected.push_back("first-" + std::to_string(i));
    static_cast<void>(AppendCommitted(conn.get(), outbox, expected.back()));
    EXPECT_FALSE(store_b.Relaying());
  }
  ASSERT_TRUE(destination.received.WaitFor(expected.size(), kDeadline));
  ASSERT_TRUE(messaging::WaitUntil([&] { return Rows(schema) == 0; }, kDeadline));
  EXPECT_EQ(relay_b.Confirmed(), 0U);

  relay_a.reset();
  store_a.reset();  // its connection closes: the lock goes to B
  ASSERT_TRUE(store_b.WaitUntilRelaying(true, kDeadline));
  for (int i = 0; i < 20; ++i) {
    expected.push_back("second-" + std::to_string(i));
    static_cast<void>(AppendCommitted(conn.get(), outbox, expected.back()));
  }
  ASSERT_TRUE(destination.received.WaitFor(expected.size(), kDeadline));
  EXPECT_EQ(destination.Ids(), expected);
  EXPECT_TRUE(messaging::WaitUntil([&] { return relay_b.Confirmed() == 20; }, kDeadline));
}

// Appends from several connections at once: sequences follow commit order, so the relay, which
// publishes in sequence order, publishes in commit order and misses none.
TEST(PgOutboxRelay, ConcurrentAppendersArePublishedInCommitOrder) {
  const TestPgSchema schema;
  const Connection setup = Connect(schema);
  const PgOutbox outbox;
  Migrate(setup.get(), outbox);
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};
  PgOutboxStore store{StoreOptions(schema)};
  const Relay relay{store, publisher, destination.Options()};
  ASSERT_TRUE(store.WaitUntilRelaying(true, kDeadline));

  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::mutex order_mutex;
  std::vector<std::string> commit_order;
  std::vector<std::thread> appenders;
  for (int t = 0; t < kThreads; ++t) {
    appenders.emplace_back([&, t] {
      const Connection conn = Connect(schema);
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        Sql(conn.get(), "BEGIN");
        static_cast<void>(outbox.Append(conn.get(), {.message_id = id, .body = "x"}));
        // The append's turn is held to the commit: the order recorded here is the commit order.
        const std::lock_guard lock{order_mutex};
        Sql(conn.get(), "COMMIT");
        commit_order.push_back(id);
      }
    });
  }
  for (std::thread& appender : appenders) appender.join();

  ASSERT_TRUE(destination.received.WaitFor(kThreads * kEach, kDeadline));
  EXPECT_EQ(destination.Ids(), commit_order);
}

// A relay that starts while PostgreSQL is down waits for it (no error to its caller) and relays
// what the table holds once it is up.
TEST(PgOutboxRelay, AStoreStartedWhilePostgresIsDownRelaysOnceItIsUp) {
  const TestPgSchema schema;
  const PgOutbox outbox;
  {
    const Connection conn = Connect(schema);
    Migrate(conn.get(), outbox);
    static_cast<void>(AppendCommitted(conn.get(), outbox, "waiting"));
  }
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};
  std::optional<PgOutboxStore> store;
  std::optional<Relay> relay;
  {
    ScopedOutage outage{"the test PostgreSQL server", [] { TestPostgres("stop"); },
                        [] { TestPostgres("start"); }};
    store.emplace(StoreOptions(schema));
    relay.emplace(*store, publisher, destination.Options());
    EXPECT_FALSE(store->Relaying());
    outage.End();
  }
  ASSERT_TRUE(store->WaitUntilRelaying(true, kDeadline));
  ASSERT_TRUE(destination.received.WaitFor(1, kDeadline));
  EXPECT_THAT(destination.Ids(), ElementsAre("waiting"));
  ASSERT_TRUE(messaging::WaitUntil([&] { return store->Size() == 0; }, kDeadline));
  relay.reset();
}

// PostgreSQL stops and starts again (its connections all die): the relay's store reconnects,
// takes the lock again and relays what is committed after.
TEST(PgOutboxRelay, RecoversWhenPostgresRestarts) {
  const TestPgSchema schema;
  const PgOutbox outbox;
  {
    const Connection conn = Connect(schema);
    Migrate(conn.get(), outbox);
    static_cast<void>(AppendCommitted(conn.get(), outbox, "before"));
  }
  Destination destination;
  messaging::AmqpClient publisher{messaging::TestOptions()};
  PgOutboxStore store{StoreOptions(schema)};
  const Relay relay{store, publisher, destination.Options()};
  ASSERT_TRUE(destination.received.WaitFor(1, kDeadline));

  {
    ScopedOutage outage{"the test PostgreSQL server", [] { TestPostgres("stop"); },
                        [] { TestPostgres("start"); }};
    ASSERT_TRUE(store.WaitUntilRelaying(false, kDeadline));
    outage.End();
  }
  ASSERT_TRUE(store.WaitUntilRelaying(true, kDeadline));
  const Connection conn = Connect(schema);
  static_cast<void>(AppendCommitted(conn.get(), outbox, "after"));

  ASSERT_TRUE(destination.received.WaitFor(2, kDeadline));
  EXPECT_THAT(destination.Ids(), ElementsAre("before", "after"));
  ASSERT_TRUE(messaging::WaitUntil([&] { return Rows(schema) == 0; }, kDeadline));
}

}  // namespace
}  // namespace cppblog::outbox
