#include "cppblog/storage/lmdb_environment.hpp"

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lmdb.h>

#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/storage/tmpfs_mount.hpp"

namespace cppblog::storage {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct EnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
using Env = std::unique_ptr<MDB_env, EnvCloser>;

Env NewEnv(unsigned max_readers = 126) {
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), MDB_SUCCESS);
  EXPECT_EQ(mdb_env_set_mapsize(env, std::size_t{16} << 20), MDB_SUCCESS);
  EXPECT_EQ(mdb_env_set_maxreaders(env, max_readers), MDB_SUCCESS);
  return Env{env};
}

void WriteOne(MDB_env* env, const std::string& key) {
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), MDB_SUCCESS);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{key.size(), const_cast<char*>(key.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), MDB_SUCCESS);
  ASSERT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
}

std::size_t Count(MDB_env* env) {
  MDB_txn* txn = nullptr;
  EXPECT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), MDB_SUCCESS);
  MDB_dbi dbi = 0;
  EXPECT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), MDB_SUCCESS);
  MDB_stat stat{};
  EXPECT_EQ(mdb_stat(txn, dbi, &stat), MDB_SUCCESS);
  mdb_txn_abort(txn);
  return stat.ms_entries;
}

TEST(LmdbEnvironment, ANewEnvironmentGetsTheLockFileSizeLmdbChooses) {
  for (const unsigned readers : {1U, 126U, 510U}) {
    const TempDir dir;
    const Env env = NewEnv(readers);
    OpenLmdbEnvironment(env.get(), dir.path() / "store", {.store = "test store"});
    WriteOne(env.get(), "k");
    // LMDB keeps a lock file that is big enough as it is: had ours been any other size than the
    // one it computes, it would have resized it (smaller) or derived another reader count.
    EXPECT_EQ(std::filesystem::file_size(dir.path() / "store" / "lock.mdb"),
              LmdbLockFileBytes(readers))
        << readers << " readers";
    unsigned max_readers = 0;
    ASSERT_EQ(mdb_env_get_maxreaders(env.get(), &max_readers), MDB_SUCCESS);
    EXPECT_EQ(max_readers, readers);
  }
}

TEST(LmdbEnvironment, AnExistingEnvironmentReopensWithItsRecords) {
  const TempDir dir;
  {
    const Env env = NewEnv();
    OpenLmdbEnvironment(env.get(), dir.path(), {});
    WriteOne(env.get(), "a");
    WriteOne(env.get(), "b");
  }
  const Env reopened = NewEnv();
  OpenLmdbEnvironment(reopened.get(), dir.path(), {});
  EXPECT_EQ(Count(reopened.get()), 2U);
}

TEST(LmdbEnvironment, WriteMapIsRefused) {
  const TempDir dir;
  const Env env = NewEnv();
  EXPECT_THROW(OpenLmdbEnvironment(env.get(), dir.path(), {.flags = MDB_WRITEMAP}), StoreError);
}

TEST(LmdbEnvironment, AFullFileSystemIsOneLineNamingTheDirectoryAndTheSpaceNeeded) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{256 << 10};
  tmpfs.Fill();
  const Env env = NewEnv();
  const std::filesystem::path store = tmpfs.path() / "store";

  try {
    OpenLmdbEnvironment(env.get(), store, {.store = "offer store"});
    FAIL() << "opened on a full file system";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_THAT(message,
                AllOf(HasSubstr("offer store in " + store.string()), HasSubstr("0 kB free"),
                      HasSubstr("needs at least 1024 kB"), HasSubstr("free space")));
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// Without the free-space check, the allocation alone must fail cleanly where LMDB's own open
// died of SIGBUS (which would end this test process).
TEST(LmdbEnvironment, OnAFullFileSystemTheAllocationFailsInsteadOfLmdbsMap) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{256 << 10};
  tmpfs.Fill();
  const Env env = NewEnv();

  EXPECT_THROW(OpenLmdbEnvironment(env.get(), tmpfs.path() / "store", {.min_free_bytes = 0}),
               StoreError);
}

TEST(LmdbEnvironment, OnceSpaceIsBackTheSameDirectoryOpens) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{4 << 20};
  tmpfs.Fill();
  {
    const Env env = NewEnv();
    EXPECT_THROW(OpenLmdbEnvironment(env.get(), tmpfs.path() / "store", {}), StoreError);
  }
  tmpfs.Unfill();

  const Env env = NewEnv();
  OpenLmdbEnvironment(env.get(), tmpfs.path() / "store", {});
  WriteOne(env.get(), "after");
  EXPECT_EQ(Count(env.get()), 1U);
}

TEST(LmdbEnvironment, ErrorTextIsLmdbsWhileThereIsSpace) {
  const TempDir dir;
  EXPECT_EQ(LmdbErrorText(EIO, dir.path()), mdb_strerror(EIO));
  EXPECT_EQ(LmdbErrorText(MDB_MAP_FULL, dir.path()), mdb_strerror(MDB_MAP_FULL));
}

// LMDB reports a write cut short by a full disk as EIO, which hid the cause.
TEST(LmdbEnvironment, ErrorTextSaysTheDiskIsFullWhenItIs) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{256 << 10};
  tmpfs.Fill();

  EXPECT_EQ(LmdbErrorText(EIO, tmpfs.path()),
            std::string("No space left on device (LMDB: ") + mdb_strerror(EIO) +
                ", a short write; the file system has 0 kB free)");
  EXPECT_EQ(LmdbErrorText(ENOSPC, tmpfs.path()),
            std::string(mdb_strerror(ENOSPC)) + " (the file system has 0 kB free)");
  EXPECT_EQ(LmdbErrorText(MDB_NOTFOUND, tmpfs.path()), mdb_strerror(MDB_NOTFOUND));
}

}  // namespace
}  // namespace cppblog::storage
