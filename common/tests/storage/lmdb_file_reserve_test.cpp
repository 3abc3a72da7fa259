#include "cppblog/storage/lmdb_file_reserve.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <lmdb.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::storage {
namespace {

constexpr FileReserveOptions kSmall{.low_water_bytes = 64 << 10, .reserve_bytes = 256 << 10};

/// One LMDB environment in a temp dir, with a write transaction helper.
class Env {
 public:
  explicit Env(const std::filesystem::path& dir) {
    EXPECT_EQ(mdb_env_create(&env_), MDB_SUCCESS);
    EXPECT_EQ(mdb_env_set_mapsize(env_, std::size_t{64} << 20), MDB_SUCCESS);
    EXPECT_EQ(mdb_env_open(env_, dir.c_str(), 0, 0644), MDB_SUCCESS);
  }
  ~Env() { mdb_env_close(env_); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  [[nodiscard]] MDB_env* Get() const { return env_; }

  /// Writes `count` records key-<first..>, reserving first when `reserve`; returns the result.
  FileReserveResult Write(int first, int count, bool reserve) {
    MDB_txn* txn = nullptr;
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, 0, &txn), MDB_SUCCESS);
    FileReserveResult result;
    if (reserve) result = ReserveFileSpace(env_, txn, kSmall);
    MDB_dbi dbi = 0;
    EXPECT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), MDB_SUCCESS);
    for (int i = first; i < first + count; ++i) {
      std::string key = "key-" + std::to_string(i);
      std::string value(100, static_cast<char>('a' + i % 26));
      MDB_val k{key.size(), key.data()};
      MDB_val v{value.size(), value.data()};
      EXPECT_EQ(mdb_put(txn, dbi, &k, &v, 0), MDB_SUCCESS);
    }
    EXPECT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
    return result;
  }

  [[nodiscard]] std::uint64_t UsedBytes() const {
    MDB_envinfo info{};
    MDB_stat stat{};
    EXPECT_EQ(mdb_env_info(env_, &info), MDB_SUCCESS);
    EXPECT_EQ(mdb_env_stat(env_, &stat), MDB_SUCCESS);
    return (info.me_last_pgno + 1) * std::uint64_t{stat.ms_psize};
  }

  [[nodiscard]] std::size_t Count() const {
    MDB_txn* txn = nullptr;
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_stat stat{};
    MDB_dbi dbi = 0;
    EXPECT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), MDB_SUCCESS);
    EXPECT_EQ(mdb_stat(txn, dbi, &stat), MDB_SUCCESS);
    mdb_txn_abort(txn);
    return stat.ms_entries;
  }

 private:
  MDB_env* env_ = nullptr;
};

std::uint64_t FileSize(const std::filesystem::path& dir) {
  return std::filesystem::file_size(dir / "data.mdb");
}

bool ZerosFrom(const std::filesystem::path& dir, std::uint64_t offset) {
  std::ifstream in{dir / "data.mdb", std::ios::binary};
  in.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  while (in.get(c)) {
    if (c != 0) return false;
  }
  return true;
}

TEST(LmdbFileReserve, ExtendsTheFileWithZerosPastTheUsedPages) {
  const TempDir dir;
  Env env{dir.path()};
  env.Write(0, 10, false);
  const std::uint64_t before = FileSize(dir.path());

  const FileReserveResult result = env.Write(10, 10, true);

  EXPECT_EQ(result.error, 0);
  EXPECT_GT(result.added_bytes, 0U);
  EXPECT_GE(FileSize(dir.path()), env.UsedBytes() + kSmall.low_water_bytes);
  EXPECT_EQ(FileSize(dir.path()), before + result.added_bytes);
  EXPECT_TRUE(ZerosFrom(dir.path(), env.UsedBytes()));
}

TEST(LmdbFileReserve, CommitsWithinTheReserveDoNotGrowTheFile) {
  const TempDir dir;
  Env env{dir.path()};
  ASSERT_GT(env.Write(0, 1, true).added_bytes, 0U);
  const std::uint64_t reserved = FileSize(dir.path());

  // 200 records of ~120 bytes, some 15 pages: well inside the reserve, so no call extends again.
  for (int round = 0; round < 10; ++round) {
    EXPECT_EQ(env.Write(1 + round * 20, 20, true).added_bytes, 0U) << "round " << round;
  }

  EXPECT_EQ(FileSize(dir.path()), reserved);
  EXPECT_LT(env.UsedBytes() + kSmall.low_water_bytes, reserved);
  EXPECT_EQ(env.Count(), 201U);
}

TEST(LmdbFileReserve, TopsUpOnceTheUsedPagesReachTheLowWaterMark) {
  const TempDir dir;
  Env env{dir.path()};
  ASSERT_GT(env.Write(0, 1, true).added_bytes, 0U);
  const std::uint64_t first = FileSize(dir.path());

  int next = 1;
  int extensions = 0;
  while (env.UsedBytes() + kSmall.low_water_bytes < first + (256 << 10) && next < 100000) {
    extensions += env.Write(next, 100, true).added_bytes > 0 ? 1 : 0;
    next += 100;
  }

  EXPECT_GE(extensions, 1);
  EXPECT_GE(FileSize(dir.path()), env.UsedBytes() + kSmall.low_water_bytes);
  EXPECT_EQ(env.Count(), static_cast<std::size_t>(next));
}

TEST(LmdbFileReserve, TheReservedFileReopensWithEveryRecord) {
  const TempDir dir;
  {
    Env env{dir.path()};
    ASSERT_GT(env.Write(0, 500, true).added_bytes, 0U);
  }
  ASSERT_GT(FileSize(dir.path()), std::uint64_t{kSmall.low_water_bytes});

  Env reopened{dir.path()};
  EXPECT_EQ(reopened.Count(), 500U);
  EXPECT_EQ(reopened.Write(500, 10, true).error, 0);
  EXPECT_EQ(reopened.Count(), 510U);
}

TEST(LmdbFileReserve, WithoutAnEnvironmentItDoesNothing) {
  const FileReserveResult result = ReserveFileSpace(nullptr, nullptr);
  EXPECT_EQ(result.added_bytes, 0U);
  EXPECT_EQ(result.error, 0);
}

}  // namespace
}  // namespace cppblog::storage
