#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cppblog/storage/store_error.hpp"

// libpq's connection, declared here so that libpq-fe.h stays out of this header: PGconn is
// `struct pg_conn`.
struct pg_conn;

namespace cppblog::inbox {

struct PgInboxOptions {
  /// The table of processed ids: a lower-case SQL identifier (letters, digits, '_'), at most 55
  /// characters. Created in the first schema of the connection's search_path.
  std::string table = "inbox_processed";
  /// Columns the caller records with each id, beside message_id and processed_at_ns, as CREATE
  /// TABLE spells them ("offered boolean NOT NULL"); their values come from the caller's
  /// statement (RecordSql). Trusted text: never build it from input.
  std::vector<std::string> extra_columns{};
};

/// The inbox of an idempotent consumer on PostgreSQL: the ids of the messages it processed, in a
/// table (message_id bytea PRIMARY KEY, processed_at_ns bigint, and the caller's extra columns)
/// written in the caller's transaction on the caller's connection, so the id and the handler's
/// effect commit together or not at all. The primary key makes a redelivery (to any process
/// sharing the database) a duplicate; a concurrent insert of the same id waits for the other
/// transaction and then finds it.
///
/// Three ways to record, by how many round trips the caller can afford:
///  - Record: one statement, one round trip, then the caller writes its effect or skips it;
///  - RecordSql: the statement text, for a caller that records and writes its effect in one
///    statement of its own (a data-modifying CTE), prepared once and sent many to a pipeline: a
///    batch of messages is then one round trip and one commit (as the vipservice's offer store
///    does);
///  - Migrate, DeleteProcessedBefore and Count complete the set.
///
/// The inbox holds no connection and no state beyond its options: thread-safe, as long as each
/// connection is used by one thread at a time (libpq's rule). libpq is loaded at the first call
/// (storage::Pq(), cppblog/storage/pq_library.hpp). Every member throws storage::StoreError "inbox
/// <table>: <operation>: <PostgreSQL's error>" when a statement fails (the connection is left as
/// libpq left it: the caller decides whether to roll back or reconnect).
class PgInbox {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// The table's schema version this code creates and reads, recorded in cppblog_schema_version
  /// as component "inbox <table>".
  static constexpr int kSchemaVersion = 1;
  /// DeleteProcessedBefore deletes this many ids per statement.
  static constexpr std::size_t kDeleteChunk = 10'000;

  /// Throws std::invalid_argument for a table name that is not as PgInboxOptions says.
  explicit PgInbox(PgInboxOptions options = {});

  [[nodiscard]] const std::string& Table() const noexcept { return options_.table; }

  /// Creates or migrates the table, inside the caller's open transaction on `conn` (BEGIN before,
  /// COMMIT after, with the caller's own schema if it has one): takes the transaction-scoped
  /// advisory lock every cppblog schema migration takes (so processes starting together migrate
  /// once; taking it again in one transaction is free), reads the table's version from
  /// cppblog_schema_version (creating that table when missing), creates what is missing and
  /// records the version. A table that exists (made by an earlier version of its user) is kept
  /// as it is. Throws StoreError, also when the database holds a newer version than this code's;
  /// std::logic_error when `conn` is not inside a transaction.
  void Migrate(pg_conn* conn) const;

  /// Records `message_id` as processed at `at` in the caller's transaction on `conn`. True: the
  /// id is new and recorded; the caller writes its effect in the same transaction and commits
  /// (a rollback records nothing). False: the id was recorded before (committed, or earlier in
  /// this transaction); nothing is written and the caller skips its effect. Outside a
  /// transaction the statement commits on its own. Throws StoreError, std::invalid_argument for
  /// an empty id, and std::logic_error for an inbox with extra columns (their values are the
  /// caller's: use RecordSql).
  [[nodiscard]] bool Record(pg_conn* conn, std::string_view message_id, TimePoint at) const;

  /// The parts of a recording statement (RecordSql): SQL expressions, usually parameters.
  struct RecordSqlParts {
    /// The message id (bytea) and its processing time (bigint, nanoseconds since the epoch).
    std::string message_id = "$1";
    std::string processed_at_ns = "$2";
    /// A value for each extra column, by name: {"offered", "NOT EXISTS (...)"}.
    std::vector<std::pair<std::string, std::string>> extra{};
    /// What the statement returns for a new id; it returns no row for one recorded before.
    std::string returning = "true";
  };

  /// An INSERT that records one id ("INSERT INTO <table> (...) SELECT ... ON CONFLICT
  /// (message_id) DO NOTHING RETURNING <returning>"): a row when the id is new, none when it was
  /// recorded before. Usable as the body of a data-modifying CTE whose other parts write the
  /// effect only for a row it returned, so recording and effect are one statement.
  [[nodiscard]] std::string RecordSql(const RecordSqlParts& parts) const;

  /// Deletes the ids recorded before `cutoff` (retention), 10,000 per statement; call it outside
  /// a transaction, so that each statement commits on its own and holds its rows briefly. Ids
  /// another process is deleting at the same time are skipped, not waited for. Returns how many
  /// it deleted.
  std::size_t DeleteProcessedBefore(pg_conn* conn, TimePoint cutoff) const;

  /// How many ids are recorded.
  [[nodiscard]] std::size_t Count(pg_conn* conn) const;

 private:
  PgInboxOptions options_;
  std::string prefix_;  // "inbox <table>", how errors begin
};

}  // namespace cppblog::inbox
