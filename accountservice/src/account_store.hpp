#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "cppblog/storage/lmdb.hpp"

#include "account.hpp"

namespace cppblog::account {

/// The store failed (open, read or write): the tree's one store error.
using storage::StoreError;

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
  /// Valid as long as the store; a commit is durable when it returns.
  [[nodiscard]] storage::LmdbEnvironment& Environment() noexcept { return env_; }
  [[nodiscard]] const storage::LmdbEnvironment& Environment() const noexcept { return env_; }

 private:
  void Seed();

  std::filesystem::path path_;
  storage::LmdbEnvironment env_;
  storage::LmdbDatabase accounts_db_;
};

}  // namespace cppblog::account
