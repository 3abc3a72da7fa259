// The inbox snippets of docs/messaging.md ("Inbox"). Compiled by ./dev test
// (examples/CMakeLists.txt: inbox_snippets) against the installed package, never run: a snippet
// the library no longer compiles fails the test.
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

#include "cppblog/inbox/lmdb_inbox.hpp"
#include "cppblog/inbox/pg_inbox.hpp"
#include "cppblog/inbox/processed_id_retention.hpp"
#include "cppblog/messaging/message.hpp"

namespace inbox = cppblog::inbox;
namespace messaging = cppblog::messaging;
using namespace std::chrono_literals;

namespace guide {

void Exec(PGconn* conn, const char* sql) {
  PGresult* result = PQexec(conn, sql);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) throw std::runtime_error(PQerrorMessage(conn));
}

// [snippet inbox-pg]
// At start, once: create or migrate the table (inside a transaction of yours).
void OpenInbox(PGconn* conn, const inbox::PgInbox& processed) {
  Exec(conn, "BEGIN");
  processed.Migrate(conn);  // table inbox_processed, schema version in cppblog_schema_version
  Exec(conn, "COMMIT");
}

// Per message, on your connection, in your transaction.
messaging::Outcome HandlePayment(PGconn* conn, const inbox::PgInbox& processed,
                                 const messaging::Message& message) {
  Exec(conn, "BEGIN");
  try {
    if (processed.Record(conn, message.message_id, std::chrono::system_clock::now())) {
      Exec(conn, "UPDATE accounts SET balance = balance - 10 WHERE id = 42");  // the effect
    }
    Exec(conn, "COMMIT");
  } catch (...) {
    Exec(conn, "ROLLBACK");  // neither the id nor the effect: the retry processes it anew
    throw;
  }
  return messaging::Outcome::kAck;
}
// [/snippet inbox-pg]

std::string OneStatement(const inbox::PgInbox& processed) {
  // [snippet inbox-pg-one-statement]
  // The id and the effect in one statement ($1 message id, $2 time in ns, $3 amount): prepare it
  // once, then send one per message to a libpq pipeline and commit the batch with one sync.
  const std::string sql =
      "WITH recorded AS (" +
      processed.RecordSql({.message_id = "$1", .processed_at_ns = "$2", .returning = "true"}) +
      ") UPDATE accounts SET balance = balance - $3 WHERE id = 42 AND EXISTS (SELECT 1 FROM "
      "recorded) RETURNING balance";  // no row: the message was processed before
  // [/snippet inbox-pg-one-statement]
  return sql;
}

void Retention(inbox::LmdbInbox& processed) {
  // [snippet inbox-retention]
  // Ids older than a week are deleted, a sweep at start and then every 48th of the retention.
  const inbox::ProcessedIdRetention retention{
      [&processed](std::chrono::system_clock::time_point cutoff) {
        return processed.DeleteProcessedBefore(cutoff);
      },
      {.retention = std::chrono::days{7}, .name = "payments inbox"}};
  // [/snippet inbox-retention]
}

}  // namespace guide
