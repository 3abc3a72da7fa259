#include "cppblog/storage/lmdb.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>

#include <lmdb.h>

namespace cppblog::storage {
namespace {

MDB_val ToVal(std::string_view text) {
  return MDB_val{text.size(), const_cast<char*>(text.data())};
}

std::string_view FromVal(const MDB_val& value) {
  return {static_cast<const char*>(value.mv_data), value.mv_size};
}

void CheckKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxLmdbKeyBytes) {
    throw std::invalid_argument("LMDB key of " + std::to_string(key.size()) +
                                " bytes: keys are 1 to " + std::to_string(kMaxLmdbKeyBytes) +
                                " bytes");
  }
}

std::string In(std::string_view operation, const LmdbDatabase& db) {
  return std::string(operation) + " in '" + db.name + "'";
}

std::atomic<std::uint64_t> next_environment_id{1};

// This thread's read transaction of each environment it has read from, reset between reads.
// Entries of closed environments stay behind, harmless: ids are never reused and their
// transactions are never touched again (the environment aborted them when it closed).
struct CachedRead {
  std::uint64_t environment_id;
  MDB_txn* txn;
  bool in_use;
};
thread_local std::vector<CachedRead> t_cached_reads;

}  // namespace

// Every read transaction cached for the environment, aborted when it closes.
struct LmdbEnvironment::ReadCache {
  std::mutex mutex;
  std::vector<MDB_txn*> txns;
};

LmdbEnvironment::LmdbEnvironment(std::filesystem::path dir, LmdbOptions options)
    : path_(std::move(dir)),
      options_(std::move(options)),
      id_(next_environment_id.fetch_add(1, std::memory_order_relaxed)),
      read_cache_(std::make_unique<ReadCache>()) {
  if (const int rc = mdb_env_create(&env_); rc != MDB_SUCCESS) Fail("create environment", rc);
  try {
    if (const int rc = mdb_env_set_mapsize(env_, options_.map_size); rc != MDB_SUCCESS) {
      Fail("set map size", rc);
    }
    if (const int rc = mdb_env_set_maxdbs(env_, options_.max_databases); rc != MDB_SUCCESS) {
      Fail("set max databases", rc);
    }
    if (const int rc = mdb_env_set_maxreaders(env_, options_.max_readers); rc != MDB_SUCCESS) {
      Fail("set max readers", rc);
    }
    // MDB_NOTLS: cached read transactions are renewed by whichever thread reads, and a write
    // transaction may be handed between threads. MDB_NORDAHEAD: random reads; read-ahead only
    // inflates RSS.
    OpenLmdbEnvironment(env_, path_,
                        {.store = options_.store,
                         .flags = MDB_NOTLS | MDB_NORDAHEAD,
                         .min_free_bytes = options_.min_free_bytes});
  } catch (...) {
    mdb_env_close(env_);
    throw;
  }
}

LmdbEnvironment::~LmdbEnvironment() {
  for (MDB_txn* txn : read_cache_->txns) mdb_txn_abort(txn);
  mdb_env_close(env_);
}

std::string LmdbEnvironment::Describe() const { return options_.store + " " + path_.string(); }

void LmdbEnvironment::Fail(std::string_view operation, int rc) const {
  throw StoreError(Describe() + ": " + std::string(operation) + ": " + LmdbErrorText(rc, path_));
}

LmdbDatabase LmdbEnvironment::OpenDatabase(std::string_view name) {
  const std::string text(name);
  LmdbTransaction txn = LmdbTransaction::Write(*this);
  MDB_dbi dbi = 0;
  if (const int rc = mdb_dbi_open(txn.Get(), text.c_str(), MDB_CREATE, &dbi); rc != MDB_SUCCESS) {
    Fail("open database '" + text + "'", rc);
  }
  txn.Commit();
  return {.dbi = dbi, .name = text};
}

void LmdbEnvironment::SetMetaSync(bool sync) {
  if (const int rc = mdb_env_set_flags(env_, MDB_NOMETASYNC, sync ? 0 : 1); rc != MDB_SUCCESS) {
    Fail(sync ? "clear MDB_NOMETASYNC" : "set MDB_NOMETASYNC", rc);
  }
}

void LmdbEnvironment::SyncToDisk() {
  if (const int rc = mdb_env_sync(env_, 1); rc != MDB_SUCCESS) Fail("sync to disk", rc);
}

MDB_txn* LmdbEnvironment::AcquireRead(bool& cached) const {
  for (CachedRead& entry : t_cached_reads) {
    if (entry.environment_id != id_ || entry.in_use) continue;
    if (const int rc = mdb_txn_renew(entry.txn); rc != MDB_SUCCESS) {
      Fail("renew read transaction", rc);
    }
    entry.in_use = true;
    cached = true;
    return entry.txn;
  }
  MDB_txn* txn = nullptr;
  if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != MDB_SUCCESS) {
    Fail("begin read transaction", rc);
  }
  // The thread's first read of this environment: keep the transaction for its next reads. A
  // nested read (the cached one is in use) gets one of its own, aborted after.
  const bool first = std::none_of(t_cached_reads.begin(), t_cached_reads.end(),
                                  [&](const CachedRead& e) { return e.environment_id == id_; });
  if (!first) {
    cached = false;
    return txn;
  }
  try {
    {
      const std::lock_guard lock{read_cache_->mutex};
      read_cache_->txns.push_back(txn);
    }
    t_cached_reads.push_back({.environment_id = id_, .txn = txn, .in_use = true});
  } catch (...) {  // out of memory: not cached, so end it here
    {
      const std::lock_guard lock{read_cache_->mutex};
      std::erase(read_cache_->txns, txn);
    }
    mdb_txn_abort(txn);
    throw;
  }
  cached = true;
  return txn;
}

void LmdbEnvironment::ReleaseRead(MDB_txn* txn, bool cached) const noexcept {
  if (!cached) {
    mdb_txn_abort(txn);
    return;
  }
  mdb_txn_reset(txn);
  for (CachedRead& entry : t_cached_reads) {
    if (entry.txn == txn) entry.in_use = false;
  }
}

LmdbTransaction::LmdbTransaction(const LmdbEnvironment& env, Mode mode, Sync sync)
    : env_(&env), mode_(mode) {
  if (mode == Mode::kRead) {
    if (sync != Sync::kEnvironment) {
      throw std::invalid_argument("LmdbTransaction: a read transaction has no commit to sync");
    }
    txn_ = env.AcquireRead(cached_);
    return;
  }
  const unsigned flags = sync == Sync::kNoMetaSync ? static_cast<unsigned>(MDB_NOMETASYNC) : 0U;
  if (const int rc = mdb_txn_begin(env.Get(), nullptr, flags, &txn_); rc != MDB_SUCCESS) {
    env.Fail("begin write transaction", rc);
  }
}

LmdbTransaction::~LmdbTransaction() { Abort(); }

LmdbTransaction::LmdbTransaction(LmdbTransaction&& other) noexcept
    : env_(other.env_),
      mode_(other.mode_),
      txn_(std::exchange(other.txn_, nullptr)),
      cached_(other.cached_),
      after_commit_(std::move(other.after_commit_)),
      cursors_(std::move(other.cursors_)) {
  for (LmdbCursor* cursor : cursors_) cursor->txn_ = this;
}

void LmdbTransaction::CloseCursors() noexcept {
  for (LmdbCursor* cursor : cursors_) cursor->Close();
  cursors_.clear();
}

void LmdbTransaction::Abort() noexcept {
  if (txn_ == nullptr) return;
  CloseCursors();
  MDB_txn* txn = std::exchange(txn_, nullptr);
  if (mode_ == Mode::kRead) {
    env_->ReleaseRead(txn, cached_);
  } else {
    mdb_txn_abort(txn);
  }
  after_commit_.clear();
}

std::optional<std::string_view> LmdbTransaction::Get(const LmdbDatabase& db,
                                                     std::string_view key) const {
  CheckKey(key);
  MDB_val k = ToVal(key);
  MDB_val value{};
  const int rc = mdb_get(txn_, db.dbi, &k, &value);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != MDB_SUCCESS) env_->Fail(In("read", db), rc);
  return FromVal(value);
}

void LmdbTransaction::Put(const LmdbDatabase& db, std::string_view key, std::string_view value) {
  CheckKey(key);
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  if (const int rc = mdb_put(txn_, db.dbi, &k, &v, 0); rc != MDB_SUCCESS)
    env_->Fail(In("write", db), rc);
}

bool LmdbTransaction::PutIfAbsent(const LmdbDatabase& db, std::string_view key,
                                  std::string_view value) {
  CheckKey(key);
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  const int rc = mdb_put(txn_, db.dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  if (rc != MDB_SUCCESS) env_->Fail(In("write", db), rc);
  return true;
}

void LmdbTransaction::Append(const LmdbDatabase& db, std::string_view key, std::string_view value) {
  CheckKey(key);
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  if (const int rc = mdb_put(txn_, db.dbi, &k, &v, MDB_APPEND); rc != MDB_SUCCESS) {
    env_->Fail(In("append", db), rc);
  }
}

bool LmdbTransaction::Delete(const LmdbDatabase& db, std::string_view key) {
  CheckKey(key);
  MDB_val k = ToVal(key);
  const int rc = mdb_del(txn_, db.dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) env_->Fail(In("delete", db), rc);
  return true;
}

std::size_t LmdbTransaction::Count(const LmdbDatabase& db) const {
  MDB_stat stat{};
  if (const int rc = mdb_stat(txn_, db.dbi, &stat); rc != MDB_SUCCESS)
    env_->Fail(In("count", db), rc);
  return stat.ms_entries;
}

void LmdbTransaction::AfterCommit(std::function<void()> done) {
  if (mode_ != Mode::kWrite) {
    throw std::logic_error("LmdbTransaction::AfterCommit on a read transaction");
  }
  after_commit_.push_back(std::move(done));
}

void LmdbTransaction::Commit() {
  if (txn_ == nullptr) throw std::logic_error("LmdbTransaction::Commit: the transaction is over");
  CloseCursors();
  if (mode_ == Mode::kRead) {
    Abort();  // nothing to commit; the cached transaction goes back to its thread's cache
    return;
  }
  std::vector<std::function<void()>> after = std::move(after_commit_);
  after_commit_.clear();
  if (const int rc = mdb_txn_commit(std::exchange(txn_, nullptr)); rc != MDB_SUCCESS) {
    env_->Fail("commit", rc);
  }
  for (const auto& done : after) done();
}

LmdbCursor::LmdbCursor(LmdbTransaction& txn, const LmdbDatabase& db) : txn_(&txn), db_(&db) {
  if (txn.txn_ == nullptr) throw std::logic_error("LmdbCursor on a transaction that is over");
  if (const int rc = mdb_cursor_open(txn.txn_, db.dbi, &cursor_); rc != MDB_SUCCESS) {
    txn.env_->Fail(In("open a cursor", db), rc);
  }
  try {
    txn.cursors_.push_back(this);
  } catch (...) {
    mdb_cursor_close(cursor_);
    throw;
  }
}

LmdbCursor::~LmdbCursor() {
  if (cursor_ != nullptr) {
    Close();
    std::erase(txn_->cursors_, this);
  }
}

void LmdbCursor::Close() noexcept {
  if (cursor_ != nullptr) mdb_cursor_close(std::exchange(cursor_, nullptr));
}

std::optional<LmdbEntry> LmdbCursor::Move(int op, std::string_view key, const char* what) {
  if (cursor_ == nullptr) throw std::logic_error("LmdbCursor used after its transaction ended");
  MDB_val k = ToVal(key);
  MDB_val value{};
  const int rc = mdb_cursor_get(cursor_, &k, &value, static_cast<MDB_cursor_op>(op));
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != MDB_SUCCESS) txn_->env_->Fail(In(what, *db_), rc);
  return LmdbEntry{.key = FromVal(k), .value = FromVal(value)};
}

std::optional<LmdbEntry> LmdbCursor::Seek(std::string_view key) {
  if (key.empty()) return First();
  CheckKey(key);
  return Move(MDB_SET_RANGE, key, "seek");
}

std::optional<LmdbEntry> LmdbCursor::First() { return Move(MDB_FIRST, {}, "read the first entry"); }

std::optional<LmdbEntry> LmdbCursor::Last() { return Move(MDB_LAST, {}, "read the last entry"); }

std::optional<LmdbEntry> LmdbCursor::Next() { return Move(MDB_NEXT, {}, "read the next entry"); }

std::optional<LmdbEntry> LmdbCursor::Previous() {
  return Move(MDB_PREV, {}, "read the previous entry");
}

void LmdbCursor::DeleteCurrent() {
  if (cursor_ == nullptr) throw std::logic_error("LmdbCursor used after its transaction ended");
  if (const int rc = mdb_cursor_del(cursor_, 0); rc != MDB_SUCCESS)
    txn_->env_->Fail(In("delete", *db_), rc);
}

}  // namespace cppblog::storage
