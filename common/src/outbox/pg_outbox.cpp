#include "cppblog/outbox/pg_outbox.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cppblog/storage/byte_order.hpp"
#include "cppblog/storage/pq_library.hpp"
#include "cppblog/text/redact.hpp"

#include "trace_fields.hpp"

namespace cppblog::outbox {
namespace {

using storage::PgExec;
using storage::PgResult;
using storage::Pq;
using storage::StoreError;

constexpr Oid kByteaOid = 17;
constexpr std::size_t kMaxTableName = 54;  // PostgreSQL's 63, less "_sequence"

bool IsIdentifier(std::string_view name) {
  if (name.empty() || name.size() > kMaxTableName) return false;
  if (name.front() >= '0' && name.front() <= '9') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

void CheckTable(const std::string& table) {
  if (!IsIdentifier(table)) {
    throw std::invalid_argument("outbox table name '" + table +
                                "': give 1 to 54 lower-case letters, digits and '_', not "
                                "beginning with a digit");
  }
}

// The bigint key of the table's advisory locks, as SQL: class << 32 | the table's oid.
std::string LockKeySql(std::int32_t lock_class, const std::string& table) {
  return "((" + std::to_string(lock_class) + "::int8 << 32) | '" + table +
         "'::regclass::oid::int8)";
}

// The channel the table's appends NOTIFY and its relay LISTENs to: one per table (its oid), so
// that tables of one name in other schemas do not wake it.
constexpr std::string_view kChannelPrefix = "cppblog_outbox_";

std::uint64_t TextNumber(const char* text) {
  std::uint64_t value = 0;
  const std::string_view view = text;
  static_cast<void>(std::from_chars(view.data(), view.data() + view.size(), value));
  return value;
}

}  // namespace

// --- the appending side -------------------------------------------------------------------

PgOutbox::PgOutbox(PgOutboxOptions options)
    : options_(std::move(options)), prefix_("outbox " + options_.table) {
  CheckTable(options_.table);
}

void PgOutbox::Migrate(pg_conn* conn) const {
  if (Pq().PQtransactionStatus(conn) != PQTRANS_INTRANS) {
    throw std::logic_error(prefix_ + ": Migrate must run inside the caller's transaction (BEGIN)");
  }
  const std::string op = "create the schema";
  const std::string& table = options_.table;
  const std::string component = "outbox " + table;
  const int version = storage::BeginPgMigration(prefix_, conn, component, kSchemaVersion);
  if (version >= kSchemaVersion) return;
  // Version 1: the entries and the sequence that numbers them.
  static_cast<void>(PgExec(prefix_, conn, op,
                           "CREATE SEQUENCE IF NOT EXISTS " + table +
                               "_sequence;\n"
                               "CREATE TABLE IF NOT EXISTS " +
                               table +
                               " (\n"
                               "  sequence bigint PRIMARY KEY,\n"
                               "  message_id bytea NOT NULL,\n"
                               "  body bytea NOT NULL,\n"
                               "  traceparent bytea NOT NULL DEFAULT '',\n"
                               "  tracestate bytea NOT NULL DEFAULT '',\n"
                               "  appended_at timestamptz NOT NULL DEFAULT now())"));
  storage::RecordPgSchemaVersion(prefix_, conn, component, kSchemaVersion);
}

std::uint64_t PgOutbox::Append(pg_conn* conn, OutboxMessage message) const {
  if (message.message_id.empty()) throw std::invalid_argument(prefix_ + ": an empty message id");
  DropWhatCannotBeKept(message);
  const std::string& table = options_.table;
  // The turn first (held to the commit: sequences follow commit order), then the sequence; the
  // notification goes out at the commit. A materialized CTE runs before the INSERT's SELECT
  // evaluates nextval.
  const std::string sql = "WITH turn AS MATERIALIZED (SELECT pg_advisory_xact_lock(" +
                          LockKeySql(kAppendLockClass, table) + ") AS locked, pg_notify('" +
                          std::string(kChannelPrefix) + "' || '" + table +
                          "'::regclass::oid::text, '') AS notified)\n"
                          "INSERT INTO " +
                          table +
                          " (sequence, message_id, body, traceparent, tracestate)\n"
                          "SELECT nextval('" +
                          table + "_sequence'), $1, $2, $3, $4 FROM turn\nRETURNING sequence";
  const std::array<const char*, 4> values{message.message_id.data(), message.body.data(),
                                          message.traceparent.data(), message.tracestate.data()};
  const std::array<int, 4> lengths{
      static_cast<int>(message.message_id.size()), static_cast<int>(message.body.size()),
      static_cast<int>(message.traceparent.size()), static_cast<int>(message.tracestate.size())};
  const std::array<int, 4> formats{1, 1, 1, 1};
  const std::array<Oid, 4> types{kByteaOid, kByteaOid, kByteaOid, kByteaOid};
  const PgResult result{Pq().PQexecParams(conn, sql.c_str(), 4, types.data(), values.data(),
                                          lengths.data(), formats.data(), 0)};
  if (!result || Pq().PQresultStatus(result.get()) != PGRES_TUPLES_OK ||
      Pq().PQntuples(result.get()) != 1) {
    const char* why = result ? Pq().PQresultErrorMessage(result.get()) : "";
    if (why == nullptr || *why == '\0') why = Pq().PQerrorMessage(conn);
    throw StoreError(prefix_ + ": append: " + storage::ScrubPgMessage(why));
  }
  return TextNumber(Pq().PQgetvalue(result.get(), 0, 0));
}

// --- the relay's side ---------------------------------------------------------------------

struct PgOutboxStore::Impl {
  explicit Impl(PgOutboxStoreOptions given) : options(std::move(given)) {}

  PgOutboxStoreOptions options;
  std::string display_url;           // masked
  std::string prefix;                // "outbox <table> in <display_url>"
  std::vector<std::string> secrets;  // every spelling of the password
  std::string connect_timeout;

  // The connection of reads and deletions (Read, RemoveLater, FlushRemovals, Size).
  std::mutex work_mutex;
  PGconn* work = nullptr;
  std::vector<std::uint64_t> pending_removals;  // failed deletions, tried again (work_mutex)
  bool removals_failing = false;

  // The relay connection's thread: the lock, LISTEN, the wake-ups.
  int wake_fd = -1;
  mutable std::mutex state_mutex;
  mutable std::condition_variable state_changed;
  bool relaying = false;
  bool stopping = false;
  std::mutex listener_mutex;  // held while the listener runs
  std::function<void(std::uint64_t)> listener;
  std::thread thread;

  ~Impl() {
    if (work != nullptr) Pq().PQfinish(work);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  [[nodiscard]] std::string Scrub(std::string_view message) const {
    return storage::ScrubPgMessage(message, secrets);
  }
  [[nodiscard]] std::string ErrorOf(PGconn* conn) const {
    return Scrub(conn != nullptr ? Pq().PQerrorMessage(conn) : "out of memory");
  }

  // A new connection, or null with `error` set (scrubbed).
  PGconn* Connect(std::string& error) {
    const std::array<const char*, 10> keys{"dbname",
                                           "connect_timeout",
                                           "keepalives",
                                           "keepalives_idle",
                                           "keepalives_interval",
                                           "keepalives_count",
                                           "tcp_user_timeout",
                                           "fallback_application_name",
                                           nullptr,
                                           nullptr};
    const std::array<const char*, 10> values{options.url.c_str(),
                                             connect_timeout.c_str(),
                                             "1",
                                             "5",
                                             "2",
                                             "3",
                                             "10000",
                                             options.application_name.c_str(),
                                             nullptr,
                                             nullptr};
    PGconn* conn = Pq().PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
    if (conn == nullptr || Pq().PQstatus(conn) != CONNECTION_OK) {
      error = ErrorOf(conn) +
              "; check that the server runs there and accepts connections, and the user and "
              "password in the URL";
      if (conn != nullptr) Pq().PQfinish(conn);
      return nullptr;
    }
    // Server notices (a shutdown's warning) into the log, not onto stderr.
    Pq().PQsetNoticeProcessor(
        conn,
        [](void* self, const char* message) {
          const auto* impl = static_cast<const Impl*>(self);
          spdlog::info("{}: server says: {}", impl->prefix, impl->Scrub(message));
        },
        this);
    return conn;
  }

  // The work connection, connected now when it is not. Throws StoreError. Under work_mutex.
  PGconn* Work() {
    if (work != nullptr && Pq().PQstatus(work) == CONNECTION_OK) return work;
    if (work != nullptr) Pq().PQfinish(std::exchange(work, nullptr));
    std::string error;
    work = Connect(error);
    if (work == nullptr) throw StoreError(prefix + ": cannot connect: " + error);
    return work;
  }

  // One statement on the work connection; a failure that left it unusable drops it (the next
  // call reconnects). A connection that had died since its last use (a server restart) is
  // replaced and the statement sent once more: reads and deletions may be repeated. Under
  // work_mutex.
  PgResult WorkExec(const std::string& operation, const std::string& sql,
                    const std::vector<std::string>& params, int result_format = 0) {
    const bool fresh = work == nullptr || Pq().PQstatus(work) != CONNECTION_OK;
    PGconn* conn = Work();
    try {
      return PgExec(prefix, conn, operation, sql, params, result_format, secrets);
    } catch (const StoreError&) {
      const bool lost = Pq().PQstatus(conn) != CONNECTION_OK;
      if (lost || Pq().PQtransactionStatus(conn) != PQTRANS_IDLE) {
        Pq().PQfinish(std::exchange(work, nullptr));
      }
      if (!lost || fresh) throw;
    }
    return PgExec(prefix, Work(), operation, sql, params, result_format, secrets);
  }

  // Deletes the pending removals; throws StoreError when it fails (they stay). Under work_mutex.
  void DeletePending() {
    if (pending_removals.empty()) return;
    std::string array = "{";
    for (const std::uint64_t sequence : pending_removals) {
      if (array.size() > 1) array.push_back(',');
      array += std::to_string(sequence);
    }
    array.push_back('}');
    static_cast<void>(WorkExec("delete relayed entries",
                               "DELETE FROM " + options.table + " WHERE sequence = ANY($1::int8[])",
                               {array}));
    pending_removals.clear();
    if (removals_failing) {
      removals_failing = false;
      spdlog::info("{}: deletions work again", prefix);
    }
  }

  void Notify() {
    const std::lock_guard lock{listener_mutex};
    if (listener) listener(0);
  }

  void SetRelaying(bool now) {
    {
      const std::lock_guard lock{state_mutex};
      if (relaying == now) return;
      relaying = now;
    }
    state_changed.notify_all();
  }

  [[nodiscard]] bool Stopping() const {
    const std::lock_guard lock{state_mutex};
    return stopping;
  }

  // Waits for the wake-up (stop) or `timeout`; true when stopping.
  bool WaitForStop(std::chrono::milliseconds timeout) const {
    pollfd fd{.fd = wake_fd, .events = POLLIN, .revents = 0};
    const int ms = static_cast<int>(std::min<std::int64_t>(timeout.count(), 60'000));
    static_cast<void>(::poll(&fd, 1, ms));  // an error or EINTR: the caller's loop goes on
    return Stopping();
  }

  // On a connected relay connection: LISTEN, wait for the relay lock, then wake the relay for
  // every notification. Returns when the connection fails (its error) or the store stops ("").
  std::string Session(PGconn* conn, bool& listened) {
    listened = false;
    std::string oid;
    try {
      const PgResult found =
          PgExec(prefix, conn, "find the table", "SELECT to_regclass($1)::oid::int8",
                 {options.table}, 0, secrets);
      if (Pq().PQntuples(found.get()) != 1 || *Pq().PQgetvalue(found.get(), 0, 0) == '\0') {
        return "no table " + options.table +
               " in the connection's search_path: create it with PgOutbox::Migrate (or set the "
               "URL's search_path to its schema)";
      }
      oid = Pq().PQgetvalue(found.get(), 0, 0);
      static_cast<void>(PgExec(prefix, conn, "listen",
                               "LISTEN " + std::string(kChannelPrefix) + oid, {}, 0, secrets));
    } catch (const StoreError& e) {
      return e.what();
    }
    listened = true;
    // The relay lock: PostgreSQL answers once this connection holds it (at once, or when the
    // store that holds it lets go); meanwhile the thread waits on the socket.
    const std::string key =
        "((" + std::to_string(PgOutbox::kRelayLockClass) + "::int8 << 32) | " + oid + "::int8)";
    const std::string lock_sql = "SELECT pg_advisory_lock(" + key + ")";
    if (Pq().PQsendQueryParams(conn, lock_sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) !=
        1) {
      return ErrorOf(conn);
    }
    spdlog::debug("{}: waiting for the relay lock", prefix);
    bool locked = false;
    for (;;) {
      std::array<pollfd, 2> fds{pollfd{.fd = Pq().PQsocket(conn), .events = POLLIN, .revents = 0},
                                pollfd{.fd = wake_fd, .events = POLLIN, .revents = 0}};
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return std::string("poll failed: ") + std::to_string(errno);
      }
      if (Stopping()) return {};
      if (fds[0].revents == 0) continue;
      if (Pq().PQconsumeInput(conn) != 1) return ErrorOf(conn);
      while (Pq().PQisBusy(conn) == 0) {
        const PgResult result{Pq().PQgetResult(conn)};
        if (!result) break;
        if (Pq().PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
          return Scrub(Pq().PQresultErrorMessage(result.get()));
        }
        locked = true;
      }
      if (locked && !Relaying()) {
        SetRelaying(true);
        spdlog::info("{}: relaying (this process holds the table's relay lock)", prefix);
        Notify();  // what waits, an earlier run's entries included
      }
      bool notified = false;
      while (PGnotify* notification = Pq().PQnotifies(conn)) {
        Pq().PQfreemem(notification);
        notified = true;
      }
      if (notified && locked) Notify();
      if (Pq().PQstatus(conn) != CONNECTION_OK) return ErrorOf(conn);
    }
  }

  [[nodiscard]] bool Relaying() const {
    const std::lock_guard lock{state_mutex};
    return relaying;
  }

  void Run() {
    auto backoff = options.reconnect_min;
    bool failing = false;
    while (!Stopping()) {
      std::string error;
      if (PGconn* conn = Connect(error)) {
        if (failing) spdlog::info("{}: relay connection back", prefix);
        bool listened = false;
        error = Session(conn, listened);
        const bool was_relaying = Relaying();
        SetRelaying(false);
        Pq().PQfinish(conn);  // and with it the relay lock
        if (Stopping()) return;
        // A session that got as far as waiting for the lock starts the backoff afresh; one that
        // failed before (no table yet) keeps backing off, so its warning is not a flood.
        if (listened) backoff = options.reconnect_min;
        spdlog::warn(
            "{}: relay connection ended{}: {}; reconnecting in {} ms", prefix,
            was_relaying ? " (and with it the relay lock; another relay may take over)" : "", error,
            backoff.count());
        failing = true;
      } else if (!failing) {
        spdlog::warn(
            "{}: cannot connect the relay connection: {}; retrying with backoff up to {} ms",
            prefix, error, options.reconnect_max.count());
        failing = true;
      }
      if (WaitForStop(backoff)) return;
      backoff = std::min(backoff * 2, options.reconnect_max);
    }
  }
};

PgOutboxStore::PgOutboxStore(PgOutboxStoreOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& impl = *impl_;
  CheckTable(impl.options.table);
  impl.display_url = text::MaskUrlCredentials(impl.options.url);
  impl.prefix = "outbox " + impl.options.table + " in " + impl.display_url;
  try {
    static_cast<void>(Pq());  // loaded here, where a failure can name the store
  } catch (const StoreError& e) {
    throw StoreError(impl.prefix + ": " + e.what());
  }
  const std::string_view url = impl.options.url;
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    // Not shown: a libpq "key=value" string would show its password.
    throw StoreError("outbox " + impl.options.table +
                     ": the URL is not a PostgreSQL URL (it does not begin with postgresql://; "
                     "the value is not shown, it may hold a password): write it as "
                     "postgresql://user:password@host:port/database");
  }
  impl.secrets = storage::PgUrlSecrets(url);
  char* parse_error = nullptr;
  PQconninfoOption* parsed = Pq().PQconninfoParse(impl.options.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    const std::string why = impl.Scrub(parse_error != nullptr ? parse_error : "out of memory");
    Pq().PQfreemem(parse_error);
    throw StoreError(impl.prefix + ": not a valid PostgreSQL URL (" + why +
                     "): write it as postgresql://user:password@host:port/database");
  }
  Pq().PQconninfoFree(parsed);
  impl.connect_timeout =
      std::to_string(std::max<std::int64_t>(impl.options.connect_timeout.count(), 1));
  if (impl.options.reconnect_min.count() <= 0)
    impl.options.reconnect_min = std::chrono::milliseconds{1};
  impl.options.reconnect_max = std::max(impl.options.reconnect_max, impl.options.reconnect_min);
  impl.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl.wake_fd < 0) {
    throw StoreError(impl.prefix + ": cannot create an eventfd (errno " + std::to_string(errno) +
                     ")");
  }
  impl.thread = std::thread{[&impl] { impl.Run(); }};
}

PgOutboxStore::~PgOutboxStore() {
  {
    const std::lock_guard lock{impl_->state_mutex};
    impl_->stopping = true;
  }
  const std::uint64_t one = 1;
  if (::write(impl_->wake_fd, &one, sizeof one) < 0) {
    // Cannot happen for an eventfd of ours; the thread would then stop at its next wake-up.
    spdlog::error("{}: cannot wake the relay connection's thread to stop it", impl_->prefix);
  }
  impl_->thread.join();
  const std::lock_guard lock{impl_->work_mutex};
  if (!impl_->pending_removals.empty()) {
    try {
      impl_->DeletePending();
    } catch (const StoreError& e) {
      spdlog::warn("{}: {} relayed entries not deleted at close: {}; they are relayed once more",
                   impl_->prefix, impl_->pending_removals.size(), e.what());
    }
  }
}

std::vector<OutboxEntry> PgOutboxStore::Read(std::uint64_t after, std::size_t max) const {
  std::vector<OutboxEntry> entries;
  if (max == 0 || after >= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
      !impl_->Relaying()) {
    return entries;
  }
  const std::lock_guard lock{impl_->work_mutex};
  const PgResult result = impl_->WorkExec(
      "read entries",
      "SELECT sequence, message_id, body, traceparent, tracestate FROM " + impl_->options.table +
          " WHERE sequence > $1::int8 ORDER BY sequence LIMIT $2::int8",
      {std::to_string(after), std::to_string(max)}, /*result_format=*/1);
  const int rows = Pq().PQntuples(result.get());
  entries.reserve(static_cast<std::size_t>(rows));
  const auto field = [&result](int row, int column) {
    return std::string(Pq().PQgetvalue(result.get(), row, column),
                       static_cast<std::size_t>(Pq().PQgetlength(result.get(), row, column)));
  };
  for (int row = 0; row < rows; ++row) {
    entries.push_back({.sequence = static_cast<std::uint64_t>(
                           storage::ReadBigEndian64(Pq().PQgetvalue(result.get(), row, 0))),
                       .message_id = field(row, 1),
                       .body = field(row, 2),
                       .traceparent = field(row, 3),
                       .tracestate = field(row, 4)});
  }
  return entries;
}

void PgOutboxStore::RemoveLater(std::span<const std::uint64_t> sequences) {
  if (sequences.empty()) return;
  const std::lock_guard lock{impl_->work_mutex};
  impl_->pending_removals.insert(impl_->pending_removals.end(), sequences.begin(), sequences.end());
  try {
    impl_->DeletePending();
  } catch (const StoreError& e) {
    // Logged once per outage; they stay pending, and stored: relayed once more if the relay
    // reads them again before a deletion works.
    if (!impl_->removals_failing) {
      spdlog::error(
          "{}; {} relayed entries stay until a deletion works (consumers drop what "
          "they have seen)",
          e.what(), impl_->pending_removals.size());
      impl_->removals_failing = true;
    }
  }
}

void PgOutboxStore::FlushRemovals() {
  const std::lock_guard lock{impl_->work_mutex};
  impl_->DeletePending();
}

std::size_t PgOutboxStore::Size() const {
  const std::lock_guard lock{impl_->work_mutex};
  const PgResult result =
      impl_->WorkExec("count entries", "SELECT count(*) FROM " + impl_->options.table, {});
  return static_cast<std::size_t>(TextNumber(Pq().PQgetvalue(result.get(), 0, 0)));
}

void PgOutboxStore::SetAppendListener(std::function<void(std::uint64_t)> listener) {
  const std::lock_guard lock{impl_->listener_mutex};
  impl_->listener = std::move(listener);
}

std::string PgOutboxStore::Describe() const { return impl_->prefix; }

bool PgOutboxStore::Relaying() const { return impl_->Relaying(); }

bool PgOutboxStore::WaitUntilRelaying(bool relaying, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{impl_->state_mutex};
  return impl_->state_changed.wait_for(lock, timeout, [&] { return impl_->relaying == relaying; });
}

}  // namespace cppblog::outbox
