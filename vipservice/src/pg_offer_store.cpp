#include "pg_offer_store.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <spdlog/spdlog.h>

#include "cppblog/storage/byte_order.hpp"
#include "cppblog/storage/pq_library.hpp"
#include "cppblog/text/redact.hpp"

namespace cppblog::vipservice {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;

using storage::Pq;

// Advisory lock keys (two int4 form): one class for accounts (the schema's is the inbox's,
// shared by every cppblog schema migration).
constexpr std::int32_t kAccountLockClass = 0x43504241;  // "CPBA"
constexpr std::size_t kMaxBatch = 256;  // a pipeline's results stay far below socket buffers
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{5'000};
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt4Oid = 23;
constexpr Oid kInt4ArrayOid = 1007;

// The group commit's statements, prepared on the write connection once it is connected (again
// after every reconnect): PostgreSQL parses and plans them once per connection, not once per
// notification (ADR 0010, "Cost per offer").
constexpr const char* kLockStatement = "cppblog_vip_lock_accounts";
constexpr const char* kProcessStatement = "cppblog_vip_process";

// Every account lock of a batch in one statement: the keys come sorted and the ORDER BY makes
// PostgreSQL take them in that order (a volatile function in the select list is evaluated after
// the sort), so two instances' batches never wait for each other in a cycle.
constexpr const char* kLockSql =
    "SELECT pg_advisory_xact_lock($1::int4, k) FROM unnest($2::int4[]) AS k ORDER BY k";

// The processed ids: the inbox's table vip_processed, with the vipservice's column `offered`
// (whether the id yielded an offer), as schema version 1 made it.
inbox::PgInbox MakeInbox() {
  return inbox::PgInbox{{.table = "vip_processed", .extra_columns = {"offered boolean NOT NULL"}}};
}

// The offer rule for one notification, one statement: the inbox records the id (its primary key
// makes a processed id a duplicate: no row returned) with whether it yields an offer, and the
// offer is inserted with the message's trace id ($7, NULL for none). The offer exists already
// only when this message's id was deleted by retention and the message came again: its offer is
// kept as it was. The account's advisory lock, taken before in the same transaction, keeps the
// cooldown check and the insert atomic across instances.
std::string ProcessSql(const inbox::PgInbox& inbox) {
  return "WITH processed AS (\n  " +
         inbox.RecordSql({.message_id = "$1",
                          .processed_at_ns = "$4",
                          .extra = {{"offered",
                                     "NOT EXISTS (SELECT 1 FROM vip_offers WHERE account_id = $2 "
                                     "AND read_at_ns > $5 AND read_at_ns < $6)"}},
                          .returning = "offered"}) +
         "),\n"
         "offer AS (\n"
         "  INSERT INTO vip_offers (account_id, read_at_ns, message_id, offered_at_ns, trace_id)\n"
         "  SELECT $2, $3, $1, $4, $7 FROM processed WHERE offered\n"
         "  ON CONFLICT DO NOTHING)\n"
         "SELECT offered FROM processed";
}

// Version 1 also made vip_processed and its index vip_processed_by_time, which the inbox makes
// now (PgInbox::Migrate, component "inbox vip_processed"), in the same transaction.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS vip_offers (
  account_id bytea NOT NULL,
  read_at_ns bigint NOT NULL,
  message_id bytea NOT NULL,
  offered_at_ns bigint NOT NULL,
  PRIMARY KEY (account_id, read_at_ns, message_id));
)sql";

// Version 2: the trace id of the message that yielded an offer (16 bytes; NULL for none, and for
// the offers made before). Nullable without a default, so adding it rewrites no row, and
// instances of version 1 still running meanwhile insert their offers as before.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE vip_offers ADD COLUMN IF NOT EXISTS trace_id bytea;
)sql";

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (b > 0 && a > kMax - b) return kMax;
  if (b < 0 && a < kMin - b) return kMin;
  return a + b;
}

// The account's lock key: FNV-1a folded to 32 bits. Two accounts sharing one only serialise.
std::int32_t AccountLockKey(std::string_view account_id) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : account_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(hash ^ (hash >> 32)));
}

struct ResultDeleter {
  void operator()(PGresult* result) const { Pq().PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

}  // namespace

/// Where and how to connect, shared by a store's connections.
struct PgTarget {
  std::string url;
  std::optional<std::string> password;
  std::string connect_timeout;
  std::string display_url;           // masked
  std::string prefix;                // "offer store PostgreSQL <display_url>"
  std::string where;                 // "host:port (database d, user u)"
  std::vector<std::string> secrets;  // every spelling of the password, scrubbed from messages
};

/// One libpq connection with its parameters: connects when first used and again, after a
/// backoff, when it was lost. Not thread-safe: its owner serialises the calls.
class PgConnection {
 public:
  explicit PgConnection(const PgTarget& target) : target_(target) {}
  ~PgConnection() { Drop(); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// The connection, connected now when it is not and the backoff allows it. Throws StoreError.
  PGconn* Get() {
    if (conn_ != nullptr && Pq().PQstatus(conn_) == CONNECTION_OK) return conn_;
    if (conn_ != nullptr) {
      spdlog::warn("{}: connection lost: {}", target_.prefix, LastError());
      Drop();
      lost_ = true;
    }
    const auto now = steady_clock::now();
    if (now < next_attempt_) {
      throw StoreError(
          target_.prefix + ": not connected (" + last_error_ + "); next attempt in " +
          std::to_string(std::chrono::duration_cast<milliseconds>(next_attempt_ - now).count()) +
          " ms");
    }
    Connect();
    return conn_;
  }

  /// Connects now. Throws StoreError naming the place and what to do.
  void Connect() {
    Drop();
    std::vector<const char*> keys{
        "dbname",           "connect_timeout",          "keepalives",
        "keepalives_idle",  "keepalives_interval",      "keepalives_count",
        "tcp_user_timeout", "fallback_application_name"};
    std::vector<const char*> values{
        target_.url.c_str(), target_.connect_timeout.c_str(), "1", "5", "2", "3", "10000",
        "vipservice"};
    if (target_.password) {
      keys.push_back("password");
      values.push_back(target_.password->c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = Pq().PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
    if (conn_ == nullptr || Pq().PQstatus(conn_) != CONNECTION_OK) {
      last_error_ = conn_ != nullptr ? LastError() : "out of memory";
      Drop();
      backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
      next_attempt_ = steady_clock::now() + backoff_;
      throw StoreError("offer_store_url: cannot connect to PostgreSQL at " + target_.where + ": " +
                       last_error_ +
                       "; check that the server runs there and accepts connections, and that the "
                       "user and password (in the URL or offer_store_password_file) are right");
    }
    // Server notices (a shutdown's warning, NOTICEs of DDL) into the log, not onto stderr.
    Pq().PQsetNoticeProcessor(
        conn_,
        [](void* self, const char* message) {
          const auto* connection = static_cast<const PgConnection*>(self);
          spdlog::info("{}: server says: {}", connection->Prefix(), connection->Scrub(message));
        },
        this);
    prepared_ = false;
    if (lost_) spdlog::info("{}: reconnected", target_.prefix);
    lost_ = false;
    backoff_ = milliseconds{0};
    last_error_.clear();
  }

  /// After a failed call: keeps the connection when it is still usable, drops it otherwise (the
  /// next Get reconnects). Returns the scrubbed, one-line error of the connection.
  std::string AfterFailure() {
    std::string error = LastError();
    if (conn_ != nullptr &&
        (Pq().PQstatus(conn_) != CONNECTION_OK || Pq().PQtransactionStatus(conn_) != PQTRANS_IDLE ||
         Pq().PQpipelineStatus(conn_) != PQ_PIPELINE_OFF)) {
      last_error_ = error;
      spdlog::warn("{}: connection dropped, reconnecting at the next call: {}", target_.prefix,
                   error);
      Drop();
      lost_ = true;
      next_attempt_ = steady_clock::now();  // the first reconnect is immediate
    }
    return error;
  }

  [[nodiscard]] std::string LastError() const {
    return Scrub(conn_ != nullptr ? Pq().PQerrorMessage(conn_) : "not connected");
  }

  [[nodiscard]] std::string Scrub(std::string_view message) const {
    return storage::ScrubPgMessage(message, target_.secrets);
  }

  /// Whether the group commit's statements are prepared on this connection (false after every
  /// connect).
  [[nodiscard]] bool Prepared() const { return prepared_; }
  void SetPrepared() { prepared_ = true; }

  [[nodiscard]] const std::string& DisplayUrl() const { return target_.display_url; }
  /// "offer store PostgreSQL <masked URL>", how errors begin.
  [[nodiscard]] const std::string& Prefix() const { return target_.prefix; }

 private:
  void Drop() {
    if (conn_ != nullptr) Pq().PQfinish(std::exchange(conn_, nullptr));
  }

  const PgTarget& target_;
  PGconn* conn_ = nullptr;
  bool lost_ = false;
  bool prepared_ = false;
  milliseconds backoff_{0};
  steady_clock::time_point next_attempt_{};
  std::string last_error_;
};

namespace {

// Runs one statement on `connection`; throws StoreError naming `operation` when it fails.
Result Exec(PgConnection& connection, PGconn* conn, const std::string& operation, const char* sql,
            const std::vector<std::string>& params = {}, int result_format = 0) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  // PQexec runs several statements (DDL); PQexecParams only one.
  Result result{params.empty() && result_format == 0
                    ? Pq().PQexec(conn, sql)
                    : Pq().PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr,
                                        values.data(), nullptr, nullptr, result_format)};
  const ExecStatusType status = result ? Pq().PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string error = connection.AfterFailure();
    throw StoreError(connection.Prefix() + ": " + operation + ": " + error);
  }
  return result;
}

void Migrate(PgConnection& connection, PGconn* conn, const inbox::PgInbox& inbox) {
  // A failure leaves the transaction open: the store is not made, and closing its connection
  // rolls it back.
  const std::string op = "create the schema";
  static_cast<void>(Exec(connection, conn, op, "BEGIN"));
  {
    // Instances starting together: the first creates, the others wait, then find it made.
    const int version =
        storage::BeginPgMigration("offer_store_url: " + connection.Prefix(), conn, "vipservice",
                                  PgOfferStore::kSchemaVersion, "vipservice");
    // vip_processed: the inbox's table, versioned by the inbox (made here at version 1 before).
    inbox.Migrate(conn);
    if (version < 1) {
      static_cast<void>(Exec(connection, conn, op, kSchemaV1));
    }
    if (version < 2) {
      static_cast<void>(Exec(connection, conn, op, kSchemaV2));
    }
    if (version < PgOfferStore::kSchemaVersion) {
      storage::RecordPgSchemaVersion(connection.Prefix(), conn, "vipservice",
                                     PgOfferStore::kSchemaVersion);
    }
    static_cast<void>(Exec(connection, conn, op, "COMMIT"));
  }
}

}  // namespace

namespace {

PgTarget MakeTarget(PgOfferStore::Options& options) {
  try {
    static_cast<void>(Pq());  // loaded here, where a failure can name the setting
  } catch (const StoreError& e) {
    throw StoreError(std::string("offer_store_url: ") + e.what());
  }
  PgTarget target;
  target.display_url = text::MaskUrlCredentials(options.url);
  target.prefix = "offer store PostgreSQL " + target.display_url;
  const std::string_view url = options.url;
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    // Not shown: a libpq "key=value" string would show its password.
    throw StoreError(
        "offer_store_url is not a PostgreSQL URL (it does not begin with postgresql://; the value "
        "is not shown, it may hold a password): write it as "
        "postgresql://user:password@host:port/database");
  }
  target.secrets = storage::PgUrlSecrets(url);
  if (options.password && !options.password->empty()) target.secrets.push_back(*options.password);
  char* parse_error = nullptr;
  PQconninfoOption* parsed = Pq().PQconninfoParse(options.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    const std::string why = storage::ScrubPgMessage(
        parse_error != nullptr ? parse_error : "out of memory", target.secrets);
    Pq().PQfreemem(parse_error);
    throw StoreError("offer_store_url: '" + target.display_url +
                     "' is not a valid PostgreSQL URL (" + why +
                     "): write it as postgresql://user:password@host:port/database");
  }
  std::string host = "localhost";
  std::string port = "5432";
  std::string dbname;
  std::string user;
  for (const PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    if (option->val == nullptr || *option->val == '\0') continue;
    const std::string_view key = option->keyword;
    if (key == "host" || (key == "hostaddr" && host == "localhost")) host = option->val;
    if (key == "port") port = option->val;
    if (key == "dbname") dbname = option->val;
    if (key == "user") user = option->val;
  }
  Pq().PQconninfoFree(parsed);
  target.where = host + ":" + port + " (database " + (dbname.empty() ? user : dbname) + ", user " +
                 (user.empty() ? "of the process" : user) + ")";
  target.url = std::move(options.url);
  target.password = std::move(options.password);
  target.connect_timeout =
      std::to_string(std::max<std::int64_t>(options.connect_timeout.count(), 1));
  return target;
}

}  // namespace

PgOfferStore::PgOfferStore(Options options)
    : inbox_(MakeInbox()),
      process_sql_(ProcessSql(inbox_)),
      target_(std::make_unique<const PgTarget>(MakeTarget(options))),
      display_url_(target_->display_url),
      writer_(std::make_unique<PgConnection>(*target_)),
      reader_(std::make_unique<PgConnection>(*target_)) {
  writer_->Connect();
  try {
    Migrate(*writer_, writer_->Get(), inbox_);
  } catch (const StoreError& e) {
    const std::string_view what = e.what();
    if (what.starts_with("offer_store_url")) throw;
    throw StoreError("offer_store_url: cannot create the vipservice's tables at " + target_->where +
                     " (" + std::string(what) +
                     "); give the user CREATE on the first schema of its search_path, or have "
                     "them created by a vipservice that may");
  }
  reader_->Connect();
}

PgOfferStore::~PgOfferStore() = default;

ProcessResult PgOfferStore::ProcessTraced(std::string_view message_id,
                                          const vip::VipNotification& notification,
                                          system_clock::time_point offered_at,
                                          milliseconds cooldown, std::string_view trace_id) {
  return group_commit_.Process(message_id, notification, offered_at, cooldown, trace_id,
                               [this] { return CommitQueued(); });
}

std::vector<OfferRequest*> PgOfferStore::CommitQueued() noexcept {
  std::vector<OfferRequest*> batch = group_commit_.Take(kMaxBatch);
  std::exception_ptr error;
  try {
    PGconn* conn = writer_->Get();
    const auto fail = [this](const std::string& operation) {
      const std::string why = writer_->AfterFailure();
      throw StoreError("offer store " + Describe() + ": " + operation + ": " + why);
    };
    if (!writer_->Prepared()) {
      // An earlier attempt on this connection may have prepared the first statement only.
      const Result cleared{Pq().PQexec(conn, "DEALLOCATE ALL")};
      if (!cleared || Pq().PQresultStatus(cleared.get()) != PGRES_COMMAND_OK) {
        fail("prepare statements");
      }
      static constexpr std::array<Oid, 2> kLockTypes{kInt4Oid, kInt4ArrayOid};
      static constexpr std::array<Oid, 7> kProcessTypes{kByteaOid, kByteaOid, kInt8Oid, kInt8Oid,
                                                        kInt8Oid,  kInt8Oid,  kByteaOid};
      for (const auto& [name, sql, count, types] :
           {std::tuple{kLockStatement, kLockSql, 2, kLockTypes.data()},
            std::tuple{kProcessStatement, process_sql_.c_str(), 7, kProcessTypes.data()}}) {
        const Result prepared{Pq().PQprepare(conn, name, sql, count, types)};
        if (!prepared || Pq().PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
          fail("prepare statements");
        }
      }
      writer_->SetPrepared();
    }
    if (Pq().PQenterPipelineMode(conn) != 1) fail("enter pipeline mode");

    // One implicit transaction up to the sync: the protocol commits it there when every
    // statement succeeded and rolls it back otherwise. First the batch's account locks, one
    // statement, then the offer rule, a statement per request.
    std::vector<std::int32_t> locks;
    locks.reserve(batch.size());
    for (const OfferRequest* request : batch) {
      locks.push_back(AccountLockKey(request->notification.account_id));
    }
    // Always in one order, so that two instances' batches never wait for each other in a cycle.
    std::sort(locks.begin(), locks.end());
    locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
    std::string keys = "{";
    for (const std::int32_t key : locks) {
      if (keys.size() > 1) keys.push_back(',');
      keys += std::to_string(key);
    }
    keys.push_back('}');
    {
      static const std::string lock_class = std::to_string(kAccountLockClass);
      const std::array<const char*, 2> values{lock_class.c_str(), keys.c_str()};
      if (Pq().PQsendQueryPrepared(conn, kLockStatement, 2, values.data(), nullptr, nullptr, 0) !=
          1) {
        fail("send account locks");
      }
    }
    constexpr std::size_t kLockResults = 1;
    std::size_t sent = kLockResults;
    static constexpr std::array<int, 7> kFormats{1, 1, 1, 1, 1, 1, 1};  // all binary
    std::string trace_id;
    for (const OfferRequest* request : batch) {
      const std::int64_t read_at = storage::ToNanos(request->notification.read_at);
      const std::int64_t window = std::max<std::int64_t>(
          std::chrono::duration_cast<nanoseconds>(request->cooldown).count(), 0);
      const std::array<std::array<char, 8>, 4> numbers{
          storage::BigEndian64(read_at),
          storage::BigEndian64(storage::ToNanos(request->offered_at)),
          storage::BigEndian64(SaturatingAdd(read_at, -window)),
          storage::BigEndian64(SaturatingAdd(read_at, window))};
      // libpq copies the parameters into its buffer before PQsendQueryPrepared returns.
      trace_id = TraceIdBytes(request->trace_id);
      const std::array<const char*, 7> values{
          request->message_id.data(),
          request->notification.account_id.data(),
          numbers[0].data(),
          numbers[1].data(),
          numbers[2].data(),
          numbers[3].data(),
          trace_id.empty() ? nullptr : trace_id.data()};  // a null value is SQL NULL
      const std::array<int, 7> lengths{static_cast<int>(request->message_id.size()),
                                       static_cast<int>(request->notification.account_id.size()),
                                       8,
                                       8,
                                       8,
                                       8,
                                       static_cast<int>(trace_id.size())};
      if (Pq().PQsendQueryPrepared(conn, kProcessStatement, 7, values.data(), lengths.data(),
                                   kFormats.data(), 0) != 1) {
        fail("send offer rule");
      }
      ++sent;
    }
    if (Pq().PQpipelineSync(conn) != 1) fail("send commit");

    std::string first_error;
    for (std::size_t i = 0; i < sent; ++i) {
      const std::size_t request_index = i >= kLockResults ? i - kLockResults : batch.size();
      // Each statement yields one result, then nullptr.
      for (Result result{Pq().PQgetResult(conn)}; result; result.reset(Pq().PQgetResult(conn))) {
        const ExecStatusType status = Pq().PQresultStatus(result.get());
        if (status == PGRES_TUPLES_OK && request_index < batch.size()) {
          batch[request_index]->result =
              Pq().PQntuples(result.get()) == 0             ? ProcessResult::kDuplicate
              : *Pq().PQgetvalue(result.get(), 0, 0) == 't' ? ProcessResult::kOffered
                                                            : ProcessResult::kCooldown;
        } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && first_error.empty()) {
          first_error = status == PGRES_PIPELINE_ABORTED
                            ? "aborted"
                            : writer_->Scrub(Pq().PQresultErrorMessage(result.get()));
        }
      }
      if (Pq().PQstatus(conn) != CONNECTION_OK) {
        if (first_error.empty()) first_error = writer_->LastError();
        break;
      }
    }
    if (Pq().PQstatus(conn) == CONNECTION_OK) {
      const Result sync{Pq().PQgetResult(conn)};
      if (!sync || Pq().PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
        if (first_error.empty()) first_error = "no commit confirmation";
      }
      if (Pq().PQexitPipelineMode(conn) != 1 && first_error.empty()) {
        first_error = writer_->LastError();
      }
    }
    if (!first_error.empty()) {
      // The transaction was rolled back (or, when the connection broke while committing, may
      // have committed: a retry then finds the ids processed).
      writer_->AfterFailure();
      throw StoreError("offer store " + Describe() + ": commit offers: " + first_error);
    }
  } catch (...) {  // one failed statement fails the whole transaction, so every request in it
    error = std::current_exception();
    for (OfferRequest* request : batch) request->error = error;
  }
  return batch;
}

std::vector<Offer> PgOfferStore::OffersFor(std::string_view account_id) const {
  std::vector<Offer> offers;
  if (account_id.empty() || account_id.size() > kMaxAccountIdBytes) return offers;
  const std::lock_guard lock{reader_mutex_};
  PGconn* conn = reader_->Get();
  const char* values[] = {account_id.data()};
  const int lengths[] = {static_cast<int>(account_id.size())};
  const int formats[] = {1};
  const Oid types[] = {kByteaOid};
  const Result result{Pq().PQexecParams(conn,
                                        "SELECT message_id, read_at_ns, offered_at_ns, "
                                        "coalesce(trace_id, ''::bytea) FROM vip_offers "
                                        "WHERE account_id = $1 ORDER BY read_at_ns, message_id",
                                        1, types, values, lengths, formats, /*resultFormat=*/1)};
  if (!result || Pq().PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    const std::string why = reader_->AfterFailure();
    throw StoreError("offer store " + Describe() + ": read offers of account: " + why);
  }
  const int rows = Pq().PQntuples(result.get());
  offers.reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    if (Pq().PQgetlength(result.get(), row, 1) != 8 ||
        Pq().PQgetlength(result.get(), row, 2) != 8) {
      throw StoreError("offer store " + Describe() + ": read offers: unexpected column type");
    }
    offers.push_back(
        {.account_id = std::string(account_id),
         .message_id =
             std::string(Pq().PQgetvalue(result.get(), row, 0),
                         static_cast<std::size_t>(Pq().PQgetlength(result.get(), row, 0))),
         .read_at =
             storage::FromNanos(storage::ReadBigEndian64(Pq().PQgetvalue(result.get(), row, 1))),
         .offered_at =
             storage::FromNanos(storage::ReadBigEndian64(Pq().PQgetvalue(result.get(), row, 2))),
         .trace_id =
             TraceIdFromBytes({Pq().PQgetvalue(result.get(), row, 3),
                               static_cast<std::size_t>(Pq().PQgetlength(result.get(), row, 3))})});
  }
  return offers;
}

void PgOfferStore::Ping() const {
  const std::lock_guard lock{reader_mutex_};
  PGconn* conn = reader_->Get();
  static_cast<void>(Exec(*reader_, conn, "ping", "SELECT 1"));
}

std::size_t PgOfferStore::DeleteProcessedBefore(system_clock::time_point cutoff) {
  const std::lock_guard lock{reader_mutex_};
  PGconn* conn = reader_->Get();
  try {
    return inbox_.DeleteProcessedBefore(conn, cutoff);
  } catch (const StoreError& e) {
    reader_->AfterFailure();
    throw StoreError(reader_->Prefix() + ": " + reader_->Scrub(e.what()));
  }
}

}  // namespace cppblog::vipservice
