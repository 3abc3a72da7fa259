#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cppblog/outbox/outbox_store.hpp"
#include "cppblog/storage/store_error.hpp"

// libpq's connection, declared here so that libpq-fe.h stays out of this header: PGconn is
// `struct pg_conn`.
struct pg_conn;

namespace cppblog::outbox {

struct PgOutboxOptions {
  /// The table of entries: a lower-case SQL identifier (letters, digits, '_'), at most 54
  /// characters. Created in the first schema of the connection's search_path, with a sequence
  /// named <table>_sequence beside it.
  std::string table = "outbox_messages";
};

/// The transactional outbox on PostgreSQL, the side that appends: entries in a table (sequence
/// bigint PRIMARY KEY, message_id, body, traceparent, tracestate as bytea, appended_at) written
/// in the caller's transaction on the caller's connection, so that the application's state
/// change and the message commit together or not at all. A PgOutboxStore (below) is the relay's
/// side of the same table, in this process or another.
///
/// Sequences follow commit order: Append takes a transaction-scoped advisory lock of the table
/// (class kAppendLockClass, key the table's oid) before it draws the next sequence, so appending
/// transactions take turns from their Append to their commit, and an entry the relay reads has
/// every earlier-committed entry before it. Append as the last statement of your transaction:
/// the lock is held from there to the commit. Append also NOTIFYs the table's channel, which
/// PostgreSQL delivers when (and only if) the transaction commits: the relay wakes then.
///
/// Holds no connection and no state beyond its options: thread-safe, as long as each connection
/// is used by one thread at a time (libpq's rule). libpq is loaded at the first call
/// (storage::Pq(), cppblog/storage/pq_library.hpp). Every member throws storage::StoreError
/// "outbox <table>: <operation>: <PostgreSQL's error>" when a statement fails; the caller then
/// rolls back.
class PgOutbox {
 public:
  /// The table's schema version this code creates and reads, recorded in cppblog_schema_version
  /// as component "outbox <table>".
  static constexpr int kSchemaVersion = 1;
  /// The high 32 bits of the transaction-scoped advisory lock (one bigint: class << 32 | the
  /// table's oid) that appenders take in turn ("CPBO").
  static constexpr std::int32_t kAppendLockClass = 0x4350424f;
  /// The high 32 bits of the session advisory lock a PgOutboxStore's relay connection holds
  /// while it relays the table ("CPBR").
  static constexpr std::int32_t kRelayLockClass = 0x43504252;

  /// Throws std::invalid_argument for a table name that is not as PgOutboxOptions says.
  explicit PgOutbox(PgOutboxOptions options = {});

  [[nodiscard]] const std::string& Table() const noexcept { return options_.table; }

  /// Creates or migrates the table and its sequence, inside the caller's open transaction on
  /// `conn` (BEGIN before, COMMIT after): takes the advisory lock every cppblog schema migration
  /// takes, reads the table's version from cppblog_schema_version (creating that table when
  /// missing), creates what is missing and records the version. Throws StoreError, also when the
  /// database holds a newer version than this code's; std::logic_error when `conn` is not inside
  /// a transaction.
  void Migrate(pg_conn* conn) const;

  /// Writes `message` in the caller's open transaction on `conn` (or, outside one, in a
  /// transaction of its own) and returns its sequence; the relay is woken when that transaction
  /// commits, and a rollback leaves nothing. Waits while another transaction that appended to
  /// the table is still open (see the class comment). A traceparent or tracestate holding NUL or
  /// US (0x1f) is dropped, as the LMDB outbox does. Throws StoreError (then roll back),
  /// std::invalid_argument for an empty message id.
  std::uint64_t Append(pg_conn* conn, OutboxMessage message) const;

 private:
  PgOutboxOptions options_;
  std::string prefix_;  // "outbox <table>", how errors begin
};

struct PgOutboxStoreOptions {
  /// Where the table is: postgresql://user:password@host:port/database (libpq's URL; its query
  /// may set options such as search_path). The password never appears in a log or an error.
  std::string url;
  /// The table, as the appending side's PgOutboxOptions::table.
  std::string table = "outbox_messages";
  /// libpq's connect_timeout for each connection attempt (also bounds how long the destructor
  /// may wait for an attempt in progress).
  std::chrono::seconds connect_timeout{5};
  /// After a lost or refused connection: wait this long before the next attempt, doubling up to
  /// reconnect_max.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5'000};
  /// application_name of its connections (pg_stat_activity), unless the URL sets one.
  std::string application_name = "cppblog outbox relay";
};

/// The relay's side of a PgOutbox table: the OutboxStore a Relay publishes from, on connections
/// of its own opened from a URL.
///
///  * One relay at a time per table, across processes: a thread of the store holds a session
///    advisory lock (PgOutbox::kRelayLockClass, the table's oid) on a connection of its own,
///    waiting for it in the server while another process holds it (blocked in PostgreSQL, no
///    polling). Until it holds the lock, Read returns nothing and the relay idles; once it does,
///    the relay is woken and reads from the start. When its connection is lost, the lock goes with
///    it (another store may take over) and the store reconnects with backoff.
///  * Woken by commits: the same connection LISTENs to the table's channel, and the thread waits
///    on its socket (poll), calling the append listener for every notification: a commit that
///    appended wakes the relay at once.
///  * Reads and deletions go over a second connection, reconnected when lost; a deletion that
///    fails is kept and tried again with the next one (FlushRemovals throws its error).
///
/// Thread-safe. Not copyable or movable. The Relay must be destroyed before it.
class PgOutboxStore final : public OutboxStore {
 public:
  /// Checks the URL (throws storage::StoreError naming what is wrong, never the password) and
  /// starts connecting in the background: a database that is down now is waited for.
  explicit PgOutboxStore(PgOutboxStoreOptions options);
  /// Closes its connections, releasing the relay lock.
  ~PgOutboxStore() override;
  PgOutboxStore(const PgOutboxStore&) = delete;
  PgOutboxStore& operator=(const PgOutboxStore&) = delete;

  /// Nothing while this store does not hold the relay lock.
  [[nodiscard]] std::vector<OutboxEntry> Read(std::uint64_t after, std::size_t max) const override;
  /// Deletes them now (one statement), or keeps them for the next attempt when that fails.
  void RemoveLater(std::span<const std::uint64_t> sequences) override;
  void FlushRemovals() override;
  [[nodiscard]] std::size_t Size() const override;
  /// 0: PostgreSQL's order of commits is read from the table, not kept here.
  [[nodiscard]] std::uint64_t LastSequence() const override { return 0; }
  void SetAppendListener(std::function<void(std::uint64_t last_sequence)> listener) override;
  /// "outbox <table> in <URL, password masked>".
  [[nodiscard]] std::string Describe() const override;

  /// Whether this store holds the relay lock now (its relay relays).
  [[nodiscard]] bool Relaying() const;
  /// Waits until Relaying() is `relaying`, at most `timeout`; returns whether it is.
  [[nodiscard]] bool WaitUntilRelaying(bool relaying, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::outbox
