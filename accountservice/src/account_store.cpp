#include "account_store.hpp"

#include <atomic>
#include <string>
#include <system_error>
#include <utility>

#include <lmdb.h>

#include "cppblog/storage/lmdb_environment.hpp"

namespace cppblog::account {
namespace {

constexpr std::size_t kMapSize = std::size_t{1}
                                 << 30;  // address space only; the file grows as needed
constexpr unsigned kMaxDbs = 8;          // accounts, and room for the outbox and more
constexpr unsigned kMaxReaders = 510;
constexpr int kFirstSeedId = 10000;
constexpr int kSeedCount = 100;

MDB_val ToVal(std::string_view text) {
  return MDB_val{text.size(), const_cast<char*>(text.data())};
}

std::string_view FromVal(const MDB_val& value) {
  return {static_cast<const char*>(value.mv_data), value.mv_size};
}

// Aborts a write transaction unless it was committed.
class WriteTxn {
 public:
  explicit WriteTxn(MDB_txn* txn) : txn_(txn) {}
  ~WriteTxn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  MDB_txn* Get() const { return txn_; }
  int Commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }

 private:
  MDB_txn* txn_;
};

std::atomic<std::uint64_t> next_store_id{1};

// This thread's read transaction for each store it has read from. Entries of closed
// stores stay behind, harmless: ids are never reused and their txns are never touched.
struct CachedReadTxn {
  std::uint64_t store_id;
  MDB_txn* txn;
};
thread_local std::vector<CachedReadTxn> t_read_txns;

}  // namespace

// This thread's read transaction of the store, renewed for one scope and reset after it.
// Not reentrant: a thread holds at most one ReadTxn of a store at a time.
class AccountStore::ReadTxn {
 public:
  explicit ReadTxn(const AccountStore& store) : store_(store), txn_(store.AcquireReadTxn()) {}
  ~ReadTxn() { store_.ReleaseReadTxn(txn_); }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  MDB_txn* Get() const { return txn_; }

 private:
  const AccountStore& store_;
  MDB_txn* txn_;
};

AccountStore::AccountStore(std::filesystem::path data_dir)
    : path_(std::move(data_dir)), id_(next_store_id.fetch_add(1, std::memory_order_relaxed)) {
  if (const int rc = mdb_env_create(&env_); rc != MDB_SUCCESS) Fail("create environment", rc);
  try {
    if (const int rc = mdb_env_set_mapsize(env_, kMapSize); rc != MDB_SUCCESS)
      Fail("set map size", rc);
    if (const int rc = mdb_env_set_maxdbs(env_, kMaxDbs); rc != MDB_SUCCESS)
      Fail("set max dbs", rc);
    if (const int rc = mdb_env_set_maxreaders(env_, kMaxReaders); rc != MDB_SUCCESS) {
      Fail("set max readers", rc);
    }
    // MDB_NOTLS: read transactions are pooled and used by whichever HTTP thread
    // takes them. MDB_NORDAHEAD: random reads; read-ahead only inflates RSS.
    try {
      storage::OpenLmdbEnvironment(env_, path_,
                                   {.store = "account store", .flags = MDB_NOTLS | MDB_NORDAHEAD});
    } catch (const storage::StorageError& e) {
      throw StoreError(e.what());
    }
    Seed();
  } catch (...) {
    mdb_env_close(env_);
    throw;
  }
}

AccountStore::~AccountStore() {
  for (MDB_txn* txn : read_txns_) mdb_txn_abort(txn);
  mdb_env_close(env_);
}

void AccountStore::Fail(std::string_view operation, int rc) const {
  throw StoreError("account store " + path_.string() + ": " + std::string(operation) + ": " +
                   storage::LmdbErrorText(rc, path_));
}

void AccountStore::Seed() {
  // The seed needs atomicity, not durability: a crash that undoes it only means the
  // next start seeds again. Skipping the meta page sync saves a disk flush at start.
  if (const int rc = mdb_env_set_flags(env_, MDB_NOMETASYNC, 1); rc != MDB_SUCCESS) {
    Fail("set MDB_NOMETASYNC", rc);
  }
  SeedAccounts();
  // Every later write (accounts, the outbox) is durable when its commit returns.
  if (const int rc = mdb_env_set_flags(env_, MDB_NOMETASYNC, 0); rc != MDB_SUCCESS) {
    Fail("clear MDB_NOMETASYNC", rc);
  }
}

void AccountStore::SeedAccounts() {
  MDB_txn* raw = nullptr;
  if (const int rc = mdb_txn_begin(env_, nullptr, 0, &raw); rc != MDB_SUCCESS) {
    Fail("begin seed transaction", rc);
  }
  WriteTxn txn{raw};
  MDB_dbi dbi = 0;
  if (const int rc = mdb_dbi_open(txn.Get(), "accounts", MDB_CREATE, &dbi); rc != MDB_SUCCESS) {
    Fail("open database 'accounts'", rc);
  }
  for (int i = 0; i < kSeedCount; ++i) {
    const std::string id = std::to_string(kFirstSeedId + i);
    const std::string name = "Person_" + std::to_string(i);
    MDB_val key = ToVal(id);
    MDB_val value = ToVal(name);
    // MDB_NOOVERWRITE: an account already there (maybe changed since) stays as it is.
    const int rc = mdb_put(txn.Get(), dbi, &key, &value, MDB_NOOVERWRITE);
    if (rc != MDB_SUCCESS && rc != MDB_KEYEXIST) Fail("seed account " + id, rc);
  }
  if (const int rc = txn.Commit(); rc != MDB_SUCCESS) Fail("commit seed transaction", rc);
  accounts_dbi_ = dbi;
}

MDB_txn* AccountStore::AcquireReadTxn() const {
  for (const CachedReadTxn& cached : t_read_txns) {
    if (cached.store_id != id_) continue;
    if (const int rc = mdb_txn_renew(cached.txn); rc != MDB_SUCCESS) {
      Fail("renew read transaction", rc);
    }
    return cached.txn;
  }
  MDB_txn* txn = nullptr;
  if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != MDB_SUCCESS) {
    Fail("begin read transaction", rc);
  }
  try {
    {
      const std::lock_guard lock{read_txns_mutex_};
      read_txns_.push_back(txn);
    }
    t_read_txns.push_back({.store_id = id_, .txn = txn});
  } catch (...) {  // out of memory: the transaction is not cached, so end it here
    {
      const std::lock_guard lock{read_txns_mutex_};
      std::erase(read_txns_, txn);
    }
    mdb_txn_abort(txn);
    throw;
  }
  return txn;
}

void AccountStore::ReleaseReadTxn(MDB_txn* txn) const noexcept { mdb_txn_reset(txn); }

std::optional<Account> AccountStore::FindAccount(std::string_view id) const {
  const ReadTxn txn{*this};
  MDB_val key = ToVal(id);
  MDB_val value{};
  const int rc = mdb_get(txn.Get(), accounts_dbi_, &key, &value);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != MDB_SUCCESS) Fail("read account " + std::string(id), rc);
  return Account{.id = std::string(id), .name = std::string(FromVal(value))};
}

void AccountStore::PutAccount(const Account& account) {
  MDB_txn* raw = nullptr;
  if (const int rc = mdb_txn_begin(env_, nullptr, 0, &raw); rc != MDB_SUCCESS) {
    Fail("begin write transaction", rc);
  }
  WriteTxn txn{raw};
  MDB_val key = ToVal(account.id);
  MDB_val value = ToVal(account.name);
  if (const int rc = mdb_put(txn.Get(), accounts_dbi_, &key, &value, 0); rc != MDB_SUCCESS) {
    Fail("write account " + account.id, rc);
  }
  if (const int rc = txn.Commit(); rc != MDB_SUCCESS) Fail("commit account " + account.id, rc);
}

std::size_t AccountStore::CountAccounts() const {
  const ReadTxn txn{*this};
  MDB_stat stat{};
  if (const int rc = mdb_stat(txn.Get(), accounts_dbi_, &stat); rc != MDB_SUCCESS) {
    Fail("stat database 'accounts'", rc);
  }
  return stat.ms_entries;
}

bool AccountStore::IsOpen() const noexcept {
  try {
    static_cast<void>(CountAccounts());
    return true;
  } catch (...) {  // any failure to read is exactly what "not usable" means here
    return false;
  }
}

}  // namespace cppblog::account
