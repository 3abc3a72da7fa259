// LmdbTransaction::Sync: a write transaction whose commit skips the meta page's sync.
#include <stdexcept>

#include <gtest/gtest.h>
#include <lmdb.h>

#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::storage {
namespace {

LmdbOptions Options() { return {.store = "sync test store", .map_size = std::size_t{16} << 20}; }

// The id of the last committed transaction, as the environment's meta page says.
std::size_t LastTransactionId(const LmdbEnvironment& env) {
  MDB_envinfo info{};
  EXPECT_EQ(mdb_env_info(env.Get(), &info), MDB_SUCCESS);
  return info.me_last_txnid;
}

TEST(LmdbTransactionSync, ACommitWithoutMetaSyncIsCommittedAndSeenByLaterReads) {
  const TempDir dir;
  LmdbEnvironment env{dir.path(), Options()};
  const LmdbDatabase db = env.OpenDatabase("records");
  const std::size_t before = LastTransactionId(env);

  LmdbTransaction txn = LmdbTransaction::Write(env, LmdbTransaction::Sync::kNoMetaSync);
  txn.Put(db, "key", "value");
  txn.Commit();

  EXPECT_EQ(LastTransactionId(env), before + 1);
  const LmdbTransaction read = LmdbTransaction::Read(env);
  EXPECT_EQ(read.Get(db, "key"), "value");
}

TEST(LmdbTransactionSync, ItSurvivesReopeningOnceSyncedToDisk) {
  const TempDir dir;
  {
    LmdbEnvironment env{dir.path(), Options()};
    const LmdbDatabase db = env.OpenDatabase("records");
    LmdbTransaction txn = LmdbTransaction::Write(env, LmdbTransaction::Sync::kNoMetaSync);
    txn.Put(db, "key", "value");
    txn.Commit();
    env.SyncToDisk();
  }
  LmdbEnvironment env{dir.path(), Options()};
  const LmdbDatabase db = env.OpenDatabase("records");
  const LmdbTransaction read = LmdbTransaction::Read(env);
  EXPECT_EQ(read.Get(db, "key"), "value");
}

TEST(LmdbTransactionSync, ItLeavesTheEnvironmentsOwnSyncAlone) {
  const TempDir dir;
  LmdbEnvironment env{dir.path(), Options()};
  const LmdbDatabase db = env.OpenDatabase("records");
  {
    LmdbTransaction txn = LmdbTransaction::Write(env, LmdbTransaction::Sync::kNoMetaSync);
    txn.Put(db, "a", "1");
    txn.Commit();
  }

  unsigned flags = 0;
  ASSERT_EQ(mdb_env_get_flags(env.Get(), &flags), MDB_SUCCESS);
  EXPECT_EQ(flags & MDB_NOMETASYNC, 0U);  // only that transaction skipped it
}

TEST(LmdbTransactionSync, AReadTransactionHasNoSyncToChoose) {
  const TempDir dir;
  const LmdbEnvironment env{dir.path(), Options()};

  EXPECT_THROW(static_cast<void>(LmdbTransaction(env, LmdbTransaction::Mode::kRead,
                                                 LmdbTransaction::Sync::kNoMetaSync)),
               std::invalid_argument);
}

}  // namespace
}  // namespace cppblog::storage
