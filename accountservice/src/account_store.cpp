#include "account_store.hpp"

#include <string>
#include <utility>

namespace cppblog::account {
namespace {

constexpr unsigned kMaxDatabases = 8;  // accounts, and room for the outbox and more
constexpr unsigned kMaxReaders = 510;
constexpr int kFirstSeedId = 10000;
constexpr int kSeedCount = 100;

}  // namespace

AccountStore::AccountStore(std::filesystem::path data_dir)
    : path_(std::move(data_dir)),
      env_(path_,
           {.store = "account store", .max_databases = kMaxDatabases, .max_readers = kMaxReaders}) {
  Seed();
}

AccountStore::~AccountStore() = default;

void AccountStore::Seed() {
  // The seed needs atomicity, not durability: a crash that undoes it only means the
  // next start seeds again. Skipping the meta page sync saves a disk flush at start.
  env_.SetMetaSync(false);
  accounts_db_ = env_.OpenDatabase("accounts");
  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env_);
  for (int i = 0; i < kSeedCount; ++i) {
    // An account already there (maybe changed since) stays as it is.
    static_cast<void>(txn.PutIfAbsent(accounts_db_, std::to_string(kFirstSeedId + i),
                                      "Person_" + std::to_string(i)));
  }
  txn.Commit();
  // Every later write (accounts, the outbox) is durable when its commit returns.
  env_.SetMetaSync(true);
}

std::optional<Account> AccountStore::FindAccount(std::string_view id) const {
  // No key LMDB can hold: no such account.
  if (id.empty() || id.size() > storage::kMaxLmdbKeyBytes) return std::nullopt;
  const storage::LmdbTransaction txn = storage::LmdbTransaction::Read(env_);
  const std::optional<std::string_view> name = txn.Get(accounts_db_, id);
  if (!name) return std::nullopt;
  return Account{.id = std::string(id), .name = std::string(*name)};
}

void AccountStore::PutAccount(const Account& account) {
  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env_);
  txn.Put(accounts_db_, account.id, account.name);
  txn.Commit();
}

std::size_t AccountStore::CountAccounts() const {
  const storage::LmdbTransaction txn = storage::LmdbTransaction::Read(env_);
  return txn.Count(accounts_db_);
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
