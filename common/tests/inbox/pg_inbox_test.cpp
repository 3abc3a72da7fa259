#include "cppblog/inbox/pg_inbox.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "pg_test_env.hpp"

namespace cppblog::inbox {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using ::testing::HasSubstr;

const system_clock::time_point kT0 = system_clock::time_point{} + std::chrono::hours{480'000};

using Connection = TestPgConnection;

Connection Connect(const TestPgSchema& schema) { return schema.Connect(); }

void Sql(PGconn* conn, const std::string& sql) { ExecTestSql(conn, sql); }

void Migrate(PGconn* conn, const PgInbox& inbox) {
  Sql(conn, "BEGIN");
  inbox.Migrate(conn);
  Sql(conn, "COMMIT");
}

TEST(PgInbox, ANewIdIsRecordedAndRefusedOnceCommitted) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);

  Sql(conn.get(), "BEGIN");
  EXPECT_TRUE(inbox.Record(conn.get(), "m1", kT0));
  Sql(conn.get(), "COMMIT");
  Sql(conn.get(), "BEGIN");
  EXPECT_FALSE(inbox.Record(conn.get(), "m1", kT0 + 1s));
  EXPECT_TRUE(inbox.Record(conn.get(), "m2", kT0 + 1s));
  Sql(conn.get(), "COMMIT");
  EXPECT_EQ(inbox.Count(conn.get()), 2U);
  EXPECT_EQ(
      schema.Query("SELECT processed_at_ns FROM inbox_processed WHERE message_id = 'm1'"),
      std::to_string(
          std::chrono::duration_cast<std::chrono::nanoseconds>(kT0.time_since_epoch()).count()));
}

TEST(PgInbox, ADuplicateWithinOneTransactionIsRefused) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);

  Sql(conn.get(), "BEGIN");
  EXPECT_TRUE(inbox.Record(conn.get(), "m1", kT0));
  EXPECT_FALSE(inbox.Record(conn.get(), "m1", kT0));
  Sql(conn.get(), "COMMIT");
  EXPECT_EQ(inbox.Count(conn.get()), 1U);
}

TEST(PgInbox, ARolledBackTransactionRecordsNothingNorItsEffect) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);
  Sql(conn.get(), "CREATE TABLE effects (message_id bytea PRIMARY KEY)");

  Sql(conn.get(), "BEGIN");
  ASSERT_TRUE(inbox.Record(conn.get(), "m1", kT0));
  Sql(conn.get(), "INSERT INTO effects VALUES ('m1')");
  Sql(conn.get(), "ROLLBACK");

  EXPECT_EQ(inbox.Count(conn.get()), 0U);
  EXPECT_EQ(schema.Query("SELECT count(*) FROM effects"), "0");
  Sql(conn.get(), "BEGIN");
  EXPECT_TRUE(inbox.Record(conn.get(), "m1", kT0));  // processed as new
  Sql(conn.get(), "ROLLBACK");
}

TEST(PgInbox, BinaryIdsAreKeptAsTheyCame) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);
  const std::string id("a\0b\xff", 4);  // a NUL and a byte that is not UTF-8
  EXPECT_TRUE(inbox.Record(conn.get(), id, kT0));
  EXPECT_FALSE(inbox.Record(conn.get(), id, kT0));
  EXPECT_TRUE(inbox.Record(conn.get(), "a", kT0));
  EXPECT_EQ(schema.Query("SELECT encode(message_id, 'hex') FROM inbox_processed "
                         "ORDER BY length(message_id) DESC LIMIT 1"),
            "610062ff");
}

// One statement records the id and writes the effect only for a new id: what a caller that sends
// a batch of messages as one pipeline does (the vipservice's offer store).
TEST(PgInbox, RecordSqlComposesTheRecordAndTheEffectInOneStatement) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox{{.table = "orders_processed", .extra_columns = {"note text NOT NULL"}}};
  Migrate(conn.get(), inbox);
  Sql(conn.get(), "CREATE TABLE orders (message_id bytea PRIMARY KEY, note text)");
  const std::string sql =
      "WITH recorded AS (" +
      inbox.RecordSql({.message_id = "$1::bytea",
                       .processed_at_ns = "$2::int8",
                       .extra = {{"note", "$3::text"}},
                       .returning = "note"}) +
      ") INSERT INTO orders SELECT $1::bytea, note FROM recorded RETURNING note";
  const auto apply = [&](const char* id, const char* note) {
    const char* values[] = {id, "42", note};
    PGresult* result =
        PQexecParams(conn.get(), sql.c_str(), 3, nullptr, values, nullptr, nullptr, 0);
    const ExecStatusType status = PQresultStatus(result);
    const int rows = PQntuples(result);
    PQclear(result);
    EXPECT_EQ(status, PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
    return rows;
  };
  EXPECT_EQ(apply("m1", "first"), 1);
  EXPECT_EQ(apply("m1", "again"), 0);
  EXPECT_EQ(schema.Query("SELECT count(*) FROM orders"), "1");
  EXPECT_EQ(schema.Query("SELECT note FROM orders_processed"), "first");
}

TEST(PgInbox, DeleteProcessedBeforeDeletesOnlyOlderIdsInChunks) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);
  const auto ns = [](system_clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  // More than one chunk of old ids, and new ones.
  Sql(conn.get(), "INSERT INTO inbox_processed SELECT ('old-' || i)::bytea, " + ns(kT0) +
                      " FROM generate_series(1, " + std::to_string(PgInbox::kDeleteChunk + 5) +
                      ") i");
  Sql(conn.get(), "INSERT INTO inbox_processed SELECT ('new-' || i)::bytea, " + ns(kT0 + 2h) +
                      " FROM generate_series(1, 7) i");

  EXPECT_EQ(inbox.DeleteProcessedBefore(conn.get(), kT0 + 1h), PgInbox::kDeleteChunk + 5);
  EXPECT_EQ(inbox.Count(conn.get()), 7U);
  EXPECT_EQ(inbox.DeleteProcessedBefore(conn.get(), kT0 + 1h), 0U);
  EXPECT_TRUE(inbox.Record(conn.get(), "old-1", kT0 + 3h));   // deleted: new again
  EXPECT_FALSE(inbox.Record(conn.get(), "new-1", kT0 + 3h));  // kept
}

TEST(PgInbox, MigrateCreatesOnceAndRecordsItsVersion) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);
  ASSERT_TRUE(inbox.Record(conn.get(), "m1", kT0));
  Migrate(conn.get(), inbox);  // again: nothing changes
  EXPECT_EQ(inbox.Count(conn.get()), 1U);
  EXPECT_EQ(schema.Query("SELECT version FROM cppblog_schema_version "
                         "WHERE component = 'inbox inbox_processed'"),
            "1");
  EXPECT_EQ(schema.Query("SELECT count(*) FROM pg_indexes WHERE indexname = "
                         "'inbox_processed_by_time' AND schemaname = '" +
                         schema.Name() + "'"),
            "1");
}

TEST(PgInbox, MigrateKeepsATableMadeBeforeAsItIs) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  // The vipservice's table of schema version 1 and 2, made before the inbox was a library.
  Sql(conn.get(),
      "CREATE TABLE vip_processed (message_id bytea PRIMARY KEY, processed_at_ns bigint NOT NULL, "
      "offered boolean NOT NULL); CREATE INDEX vip_processed_by_time ON vip_processed "
      "(processed_at_ns); INSERT INTO vip_processed VALUES ('m1', 1, true)");
  const PgInbox inbox{{.table = "vip_processed", .extra_columns = {"offered boolean NOT NULL"}}};
  Migrate(conn.get(), inbox);
  EXPECT_EQ(inbox.Count(conn.get()), 1U);
  EXPECT_EQ(schema.Query("SELECT version FROM cppblog_schema_version "
                         "WHERE component = 'inbox vip_processed'"),
            "1");
}

TEST(PgInbox, ANewerSchemaVersionIsRefusedWithWhatToDo) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  Migrate(conn.get(), inbox);
  Sql(conn.get(),
      "UPDATE cppblog_schema_version SET version = 9 "
      "WHERE component = 'inbox inbox_processed'");
  Sql(conn.get(), "BEGIN");
  try {
    inbox.Migrate(conn.get());
    ADD_FAILURE() << "a newer schema version was accepted";
  } catch (const storage::StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("inbox inbox_processed"));
    EXPECT_THAT(e.what(), HasSubstr("version 9, newer than this program's 1"));
    EXPECT_THAT(e.what(), HasSubstr("run a program as new as the others"));
  }
  Sql(conn.get(), "ROLLBACK");
}

TEST(PgInbox, MigrateOutsideATransactionIsRefused) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox;
  EXPECT_THROW(inbox.Migrate(conn.get()), std::logic_error);
}

TEST(PgInbox, RecordIsRefusedWhenExtraColumnsNeedTheCallersValues) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox{{.table = "noted", .extra_columns = {"note text NOT NULL"}}};
  Migrate(conn.get(), inbox);
  EXPECT_THROW(static_cast<void>(inbox.Record(conn.get(), "m1", kT0)), std::logic_error);
  EXPECT_EQ(inbox.Count(conn.get()), 0U);
}

TEST(PgInbox, ATableNameThatIsNoPlainIdentifierIsRefused) {
  EXPECT_THROW(PgInbox{{.table = "x; DROP TABLE y"}}, std::invalid_argument);
  EXPECT_THROW(PgInbox{{.table = "Upper"}}, std::invalid_argument);
  EXPECT_THROW(PgInbox{{.table = ""}}, std::invalid_argument);
  EXPECT_NO_THROW(PgInbox{{.table = "orders_inbox_2"}});
}

TEST(PgInbox, AFailedStatementNamesTheInboxAndTheOperation) {
  const TestPgSchema schema;
  const Connection conn = Connect(schema);
  const PgInbox inbox{{.table = "never_made"}};
  try {
    static_cast<void>(inbox.Count(conn.get()));
    ADD_FAILURE() << "counting a missing table succeeded";
  } catch (const storage::StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("inbox never_made: count: "));
    EXPECT_THAT(e.what(), HasSubstr("does not exist"));
  }
}

}  // namespace
}  // namespace cppblog::inbox
