#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "account.hpp"

// LMDB's handles, declared here so that lmdb.h stays out of this header.
struct MDB_env;
struct MDB_txn;

namespace cppblog::account {

/// The store failed (open, read or write). The message names the store's path,
/// the operation and LMDB's error.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The accounts, in an LMDB environment under `data_dir` (created when missing;
/// one file `data.mdb` plus its lock file). The named database "accounts" maps
/// id → name. Other named databases (the VIP outbox) can join it later.
///
/// On construction the contract's 100 accounts (10000..10099, Person_0..Person_99)
/// are written in one transaction, each only when its id is absent: a restart
/// neither duplicates nor overwrites them.
///
/// Thread-safe: FindAccount may be called from any number of threads at once
/// (readers never block, and take no lock); writes are serialised by LMDB. Each
/// thread that reads keeps one LMDB reader slot until the store closes (at most 510
/// threads). Not copyable or movable.
class AccountStore {
 public:
  /// Opens (or creates) the store and seeds it. Throws StoreError.
  explicit AccountStore(std::filesystem::path data_dir);
  ~AccountStore();
  AccountStore(const AccountStore&) = delete;
  AccountStore& operator=(const AccountStore&) = delete;

  /// The account with that id, or nullopt when there is none. Throws StoreError
  /// when the store cannot be read.
  [[nodiscard]] std::optional<Account> FindAccount(std::string_view id) const;

  /// Inserts or replaces an account, durably. Throws StoreError.
  void PutAccount(const Account& account);

  /// Number of accounts stored. Throws StoreError.
  [[nodiscard]] std::size_t CountAccounts() const;

  /// True when the store can be read right now (for /health). Never throws.
  [[nodiscard]] bool IsOpen() const noexcept;

  [[nodiscard]] const std::filesystem::path& Path() const noexcept { return path_; }

  /// The LMDB environment, for other named databases in the same file (the VIP outbox).
  /// Valid as long as the store; opened without MDB_NOSYNC, so a commit is durable.
  [[nodiscard]] MDB_env* Environment() const noexcept { return env_; }

 private:
  class ReadTxn;

  void Seed();
  void SeedAccounts();
  [[noreturn]] void Fail(std::string_view operation, int rc) const;
  MDB_txn* AcquireReadTxn() const;
  void ReleaseReadTxn(MDB_txn* txn) const noexcept;

  std::filesystem::path path_;
  std::uint64_t id_;  // unique per store in this process: keys each thread's cached read txn
  MDB_env* env_ = nullptr;
  unsigned accounts_dbi_ = 0;
  // Every read transaction made for this store, one per thread that has read from it,
  // aborted when the store closes. Between reads each sits reset in its thread's cache:
  // a renew is far cheaper than a begin, and no lock is taken on the read path.
  mutable std::mutex read_txns_mutex_;
  mutable std::vector<MDB_txn*> read_txns_;
};

}  // namespace cppblog::account
