#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cppblog/storage/lmdb_environment.hpp"
#include "cppblog/storage/store_error.hpp"

// LMDB's handles, declared here so that lmdb.h stays out of this header.
struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace cppblog::storage {

/// LMDB's limit on key size (mdb_env_get_maxkeysize of the default build); keys are 1 to this
/// many bytes.
inline constexpr std::size_t kMaxLmdbKeyBytes = 511;

/// A named database of an environment: LMDB's handle (valid as long as the environment) and its
/// name, for errors.
struct LmdbDatabase {
  unsigned dbi = 0;
  std::string name;
};

struct LmdbOptions {
  /// Names the store in errors and logs: "account store", "offer store".
  std::string store = "store";
  /// Address space reserved; the file grows only as pages are used.
  std::size_t map_size = std::size_t{1} << 30;
  unsigned max_databases = 8;
  /// Reader slots: at most this many threads (and processes) read at once.
  unsigned max_readers = 126;
  /// The file system must have this much free space, or the open fails (see
  /// OpenLmdbEnvironment).
  std::uint64_t min_free_bytes = std::uint64_t{1} << 20;
};

class LmdbTransaction;
class LmdbCursor;

/// The one LMDB wrapper of the tree: an environment under a directory (created when missing),
/// opened through OpenLmdbEnvironment (so a full disk is an error, never a SIGBUS), with
/// MDB_NOTLS | MDB_NORDAHEAD: any thread may use any transaction, and reads do not inflate RSS
/// with read-ahead. Commits are synced: a commit that returned is durable.
///
/// Read transactions are cheap: each thread keeps one per environment, reset between reads and
/// renewed for the next (a renew costs far less than a begin, and takes no lock); a nested read
/// on the same thread begins a fresh one.
///
/// Thread-safe. Not copyable or movable. Every transaction must end before the environment does.
class LmdbEnvironment {
 public:
  /// Opens (or creates) the environment. Throws StoreError naming the store, the directory, what
  /// went wrong and what to do.
  LmdbEnvironment(std::filesystem::path dir, LmdbOptions options);
  ~LmdbEnvironment();
  LmdbEnvironment(const LmdbEnvironment&) = delete;
  LmdbEnvironment& operator=(const LmdbEnvironment&) = delete;

  /// Opens the named database, creating it when missing, in a write transaction of its own.
  /// Throws StoreError.
  [[nodiscard]] LmdbDatabase OpenDatabase(std::string_view name);

  [[nodiscard]] const std::filesystem::path& Path() const noexcept { return path_; }
  /// The name given in the options ("account store").
  [[nodiscard]] const std::string& Store() const noexcept { return options_.store; }
  /// "<store> <path>", as errors begin.
  [[nodiscard]] std::string Describe() const;

  /// Throws StoreError "<store> <path>: <operation>: <LMDB's text, made plain on a full disk>".
  [[noreturn]] void Fail(std::string_view operation, int rc) const;

  /// Whether commits sync the meta page (true unless SetMetaSync(false)). A commit without it is
  /// atomic but may be undone by a crash of the machine; SyncToDisk makes it durable.
  void SetMetaSync(bool sync);
  /// Flushes to disk what commits left unsynced. Throws StoreError.
  void SyncToDisk();

  /// The raw handle, for what this wrapper does not offer (mdb_env_info, ReserveFileSpace).
  [[nodiscard]] MDB_env* Get() const noexcept { return env_; }

 private:
  friend class LmdbTransaction;
  [[nodiscard]] MDB_txn* AcquireRead(bool& cached) const;
  void ReleaseRead(MDB_txn* txn, bool cached) const noexcept;

  std::filesystem::path path_;
  LmdbOptions options_;
  std::uint64_t id_;  // unique in the process: keys each thread's cached read transaction
  MDB_env* env_ = nullptr;
  struct ReadCache;
  std::unique_ptr<ReadCache> read_cache_;
};

/// A key and its value, both pointing into the map: valid until the transaction ends or writes.
struct LmdbEntry {
  std::string_view key;
  std::string_view value;
};

/// One transaction, read-only or read-write; aborted when it ends uncommitted. Not thread-safe
/// (one thread at a time; MDB_NOTLS lets it move between threads). A write transaction holds
/// LMDB's writer lock (across processes) until it commits or aborts: keep it short.
///
/// Every member throws StoreError (naming the store, the operation and the database) on a
/// failure, and std::invalid_argument for a key LMDB refuses (empty, or over 511 bytes).
class LmdbTransaction {
 public:
  enum class Mode { kRead, kWrite };

  /// How a write transaction's commit reaches the disk.
  enum class Sync {
    /// As the environment says (SetMetaSync): by default data and meta pages synced, durable
    /// when Commit returns.
    kEnvironment,
    /// Data pages synced, the meta page not (MDB_NOMETASYNC for this transaction alone): the
    /// commit is atomic and a crash cannot leave the file half-written, but a crash of the
    /// machine may undo it until the next synced commit or LmdbEnvironment::SyncToDisk. For
    /// writes that are cheap to lose (deletions of what would only be redone).
    kNoMetaSync,
  };

  /// `sync` is for write transactions; a read transaction with kNoMetaSync throws
  /// std::invalid_argument.
  LmdbTransaction(const LmdbEnvironment& env, Mode mode, Sync sync = Sync::kEnvironment);
  [[nodiscard]] static LmdbTransaction Read(const LmdbEnvironment& env) {
    return {env, Mode::kRead};
  }
  [[nodiscard]] static LmdbTransaction Write(const LmdbEnvironment& env,
                                             Sync sync = Sync::kEnvironment) {
    return {env, Mode::kWrite, sync};
  }
  ~LmdbTransaction();
  LmdbTransaction(LmdbTransaction&& other) noexcept;
  LmdbTransaction& operator=(LmdbTransaction&&) = delete;
  LmdbTransaction(const LmdbTransaction&) = delete;
  LmdbTransaction& operator=(const LmdbTransaction&) = delete;

  /// The value under `key`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> Get(const LmdbDatabase& db,
                                                    std::string_view key) const;
  /// Stores `value` under `key`, replacing what was there.
  void Put(const LmdbDatabase& db, std::string_view key, std::string_view value);
  /// Stores `value` under `key` unless the key exists; false (nothing written) when it does.
  bool PutIfAbsent(const LmdbDatabase& db, std::string_view key, std::string_view value);
  /// Stores `value` under a key greater than every key of `db` (MDB_APPEND: no search); throws
  /// StoreError (MDB_KEYEXIST) when it is not.
  void Append(const LmdbDatabase& db, std::string_view key, std::string_view value);
  /// Deletes `key`; false when it was not there.
  bool Delete(const LmdbDatabase& db, std::string_view key);
  /// Number of entries in `db`.
  [[nodiscard]] std::size_t Count(const LmdbDatabase& db) const;

  /// Runs `done` after a successful Commit returned, in the order given (for listeners that
  /// must only see what is committed: an outbox's relay). Write transactions only. Dropped when
  /// the transaction aborts. `done` must not throw.
  void AfterCommit(std::function<void()> done);

  /// Commits (durably, unless the environment's meta sync is off). Throws StoreError; the
  /// transaction is over either way.
  void Commit();

  [[nodiscard]] bool IsWrite() const noexcept { return mode_ == Mode::kWrite; }
  [[nodiscard]] const LmdbEnvironment& Environment() const noexcept { return *env_; }
  /// The raw handle, for what this wrapper does not offer. Null once committed.
  [[nodiscard]] MDB_txn* Get() const noexcept { return txn_; }

 private:
  friend class LmdbCursor;
  void Abort() noexcept;
  void CloseCursors() noexcept;

  const LmdbEnvironment* env_;
  Mode mode_;
  MDB_txn* txn_ = nullptr;
  bool cached_ = false;  // a read transaction of the environment's per-thread cache
  std::vector<std::function<void()>> after_commit_;
  std::vector<LmdbCursor*> cursors_;  // open on this transaction; closed before it ends
};

/// A cursor over one database of a transaction, for ordered reads and deletes while scanning.
/// Closed by its destructor, or by the transaction's end, whichever comes first (LMDB frees a
/// write transaction's cursors when it commits; the transaction closes them before). Must not
/// outlive the transaction object. Throws as LmdbTransaction does.
class LmdbCursor {
 public:
  LmdbCursor(LmdbTransaction& txn, const LmdbDatabase& db);
  ~LmdbCursor();
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;

  /// Positions on the first entry whose key is >= `key` (the first entry for an empty key).
  std::optional<LmdbEntry> Seek(std::string_view key);
  std::optional<LmdbEntry> First();
  std::optional<LmdbEntry> Last();
  /// The entry after the current one. After DeleteCurrent: the one that followed the deleted.
  std::optional<LmdbEntry> Next();
  std::optional<LmdbEntry> Previous();
  /// Deletes the entry the cursor is on (write transactions).
  void DeleteCurrent();

 private:
  friend class LmdbTransaction;
  std::optional<LmdbEntry> Move(int op, std::string_view key, const char* what);
  void Close() noexcept;

  LmdbTransaction* txn_;
  const LmdbDatabase* db_;
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace cppblog::storage
