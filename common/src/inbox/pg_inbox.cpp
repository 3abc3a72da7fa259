#include "cppblog/inbox/pg_inbox.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cppblog/storage/byte_order.hpp"
#include "cppblog/storage/pq_library.hpp"
#include "cppblog/text/redact.hpp"

namespace cppblog::inbox {
namespace {

using storage::OneLineMessage;
using storage::Pq;

using storage::StoreError;

constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr std::size_t kMaxTableName = 55;  // PostgreSQL's 63, less "_by_time"

using Result = storage::PgResult;

bool IsIdentifier(std::string_view name) {
  if (name.empty() || name.size() > kMaxTableName) return false;
  if (name.front() >= '0' && name.front() <= '9') return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

PgInbox::PgInbox(PgInboxOptions options)
    : options_(std::move(options)), prefix_("inbox " + options_.table) {
  if (!IsIdentifier(options_.table)) {
    throw std::invalid_argument("inbox table name '" + options_.table +
                                "': give 1 to 55 lower-case letters, digits and '_', not "
                                "beginning with a digit");
  }
}

namespace {

// Runs one statement (text parameters, text results); throws StoreError naming `operation`.
Result Exec(const std::string& prefix, pg_conn* conn, const std::string& operation,
            const std::string& sql, const std::vector<std::string>& params = {}) {
  return storage::PgExec(prefix, conn, operation, sql, params);
}

std::size_t Number(const PGresult* result, int row, int column) {
  std::size_t value = 0;
  const std::string_view text = Pq().PQgetvalue(result, row, column);
  static_cast<void>(std::from_chars(text.data(), text.data() + text.size(), value));
  return value;
}

}  // namespace

void PgInbox::Migrate(pg_conn* conn) const {
  if (Pq().PQtransactionStatus(conn) != PQTRANS_INTRANS) {
    throw std::logic_error(prefix_ + ": Migrate must run inside the caller's transaction (BEGIN)");
  }
  const std::string op = "create the schema";
  const std::string& table = options_.table;
  const std::string component = "inbox " + table;
  const int version = storage::BeginPgMigration(prefix_, conn, component, kSchemaVersion);
  if (version >= kSchemaVersion) return;
  // Version 1: the table and its index by time (for retention). Each made only when missing, so
  // a table an earlier program made (the vipservice's vip_processed) needs no CREATE privilege.
  const Result existing =
      Exec(prefix_, conn, op, "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
           {table, table + "_by_time"});
  if (*Pq().PQgetvalue(existing.get(), 0, 0) != 't') {
    std::string create = "CREATE TABLE IF NOT EXISTS " + table +
                         " (message_id bytea PRIMARY KEY, processed_at_ns bigint NOT NULL";
    for (const std::string& column : options_.extra_columns) create += ", " + column;
    create += ")";
    static_cast<void>(Exec(prefix_, conn, op, create));
  }
  if (*Pq().PQgetvalue(existing.get(), 0, 1) != 't') {
    static_cast<void>(Exec(
        prefix_, conn, op,
        "CREATE INDEX IF NOT EXISTS " + table + "_by_time ON " + table + " (processed_at_ns)"));
  }
  storage::RecordPgSchemaVersion(prefix_, conn, component, kSchemaVersion);
}

bool PgInbox::Record(pg_conn* conn, std::string_view message_id, TimePoint at) const {
  if (message_id.empty()) throw std::invalid_argument(prefix_ + ": an empty message id");
  if (!options_.extra_columns.empty()) {
    throw std::logic_error(prefix_ +
                           ": Record cannot fill the extra columns; record with RecordSql");
  }
  const std::string sql = RecordSql({.message_id = "$1", .processed_at_ns = "$2"});
  const std::array<char, 8> time = storage::BigEndian64(storage::ToNanos(at));
  const std::array<const char*, 2> values{message_id.data(), time.data()};
  const std::array<int, 2> lengths{static_cast<int>(message_id.size()), 8};
  const std::array<int, 2> formats{1, 1};
  const std::array<Oid, 2> types{kByteaOid, kInt8Oid};
  const Result result{Pq().PQexecParams(conn, sql.c_str(), 2, types.data(), values.data(),
                                        lengths.data(), formats.data(), 0)};
  if (!result || Pq().PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    const char* why = result ? Pq().PQresultErrorMessage(result.get()) : "";
    if (why == nullptr || *why == '\0') why = Pq().PQerrorMessage(conn);
    throw StoreError(prefix_ + ": record processed message id: " +
                     text::MaskUrlCredentials(OneLineMessage(why)));
  }
  return Pq().PQntuples(result.get()) == 1;
}

std::string PgInbox::RecordSql(const RecordSqlParts& parts) const {
  std::string columns = "message_id, processed_at_ns";
  std::string values = parts.message_id + ", " + parts.processed_at_ns;
  for (const auto& [column, value] : parts.extra) {
    columns += ", " + column;
    values += ", " + value;
  }
  return "INSERT INTO " + options_.table + " (" + columns + ")\n  SELECT " + values +
         "\n  ON CONFLICT (message_id) DO NOTHING\n  RETURNING " + parts.returning;
}

std::size_t PgInbox::DeleteProcessedBefore(pg_conn* conn, TimePoint cutoff) const {
  const std::string limit = std::to_string(storage::ToNanos(cutoff));
  const std::string chunk = std::to_string(kDeleteChunk);
  const std::string& table = options_.table;
  const std::string sql =
      "DELETE FROM " + table + " WHERE message_id IN (SELECT message_id FROM " + table +
      " WHERE processed_at_ns < $1::int8 LIMIT $2::int8 FOR UPDATE SKIP LOCKED)";
  std::size_t deleted = 0;
  for (;;) {
    const Result result =
        Exec(prefix_, conn, "delete old processed message ids", sql, {limit, chunk});
    std::size_t deleted_here = 0;
    const std::string_view count = Pq().PQcmdTuples(result.get());
    static_cast<void>(std::from_chars(count.data(), count.data() + count.size(), deleted_here));
    deleted += deleted_here;
    if (deleted_here < kDeleteChunk) return deleted;
  }
}

std::size_t PgInbox::Count(pg_conn* conn) const {
  const Result result = Exec(prefix_, conn, "count", "SELECT count(*) FROM " + options_.table);
  return Number(result.get(), 0, 0);
}

}  // namespace cppblog::inbox
