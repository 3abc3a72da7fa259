#include "lmdb_offer_store.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <lmdb.h>

#include "cppblog/storage/temp_dir.hpp"

#include "offer_counts.hpp"
#include "offer_store_test.hpp"

namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;

// Opens the store's LMDB environment (the store closed) and replaces the value of every offer
// by `rewrite(value)`: to write what another version of the vipservice would have written.
// Returns the values found. Fails the test on an LMDB error.
std::vector<std::string> RewriteOfferValues(
    const std::filesystem::path& dir, const std::function<std::string(std::string_view)>& rewrite) {
  std::vector<std::string> found;
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), MDB_SUCCESS);
  EXPECT_EQ(mdb_env_set_maxdbs(env, 4), MDB_SUCCESS);
  EXPECT_EQ(mdb_env_set_mapsize(env, std::size_t{1} << 30), MDB_SUCCESS);
  if (const int rc = mdb_env_open(env, dir.c_str(), 0, 0600); rc != MDB_SUCCESS) {
    ADD_FAILURE() << "mdb_env_open " << dir << ": " << mdb_strerror(rc);
    mdb_env_close(env);
    return found;
  }
  MDB_txn* txn = nullptr;
  MDB_dbi offers = 0;
  MDB_cursor* cursor = nullptr;
  EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
  EXPECT_EQ(mdb_dbi_open(txn, "offers", 0, &offers), MDB_SUCCESS);
  EXPECT_EQ(mdb_cursor_open(txn, offers, &cursor), MDB_SUCCESS);
  MDB_val key{};
  MDB_val value{};
  for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == MDB_SUCCESS;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    found.emplace_back(static_cast<const char*>(value.mv_data), value.mv_size);
    std::string replaced = rewrite(found.back());
    MDB_val replacement{replaced.size(), replaced.data()};
    EXPECT_EQ(mdb_cursor_put(cursor, &key, &replacement, MDB_CURRENT), MDB_SUCCESS);
  }
  mdb_cursor_close(cursor);
  EXPECT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
  mdb_env_close(env);
  return found;
}

// The LMDB store in a temporary directory of its own.
class LmdbPlace final : public OfferStorePlace {
 public:
  std::unique_ptr<OfferStore> Open() override {
    return std::make_unique<LmdbOfferStore>(dir_.path());
  }
  std::size_t CountOffers(const OfferStore& store) const override {
    return vipservice::CountOffers(dynamic_cast<const LmdbOfferStore&>(store));
  }
  std::size_t CountProcessed(const OfferStore& store) const override {
    return vipservice::CountProcessed(dynamic_cast<const LmdbOfferStore&>(store));
  }

 private:
  TempDir dir_;
};

std::unique_ptr<OfferStorePlace> MakeLmdbPlace() { return std::make_unique<LmdbPlace>(); }

// The suite every offer store passes (offer_store_test.cpp).
INSTANTIATE_TEST_SUITE_P(LmdbOfferStore, OfferStoreTest,
                         ::testing::Values(OfferStoreKind{"lmdb", &MakeLmdbPlace}));

TEST(LmdbOfferStore, OfferValueIsVersion2WithTheTraceIdsBytes) {
  const TempDir dir;
  {
    LmdbOfferStore store{dir.path()};
    ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 0ms, kTraceId),
              ProcessResult::kOffered);
    ASSERT_EQ(store.Process("m2", Notification("10000", kT0 + 1h), kT0, 0ms),
              ProcessResult::kOffered);
  }

  const std::vector<std::string> values =
      RewriteOfferValues(dir.path(), [](std::string_view value) { return std::string(value); });

  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values[0].substr(8), "\x02" + TraceIdBytes(kTraceId));
  EXPECT_EQ(values[1].substr(8), "\x02");
}

TEST(LmdbOfferStore, OffersOfTheFirstVersionStillReadWithoutATraceId) {
  const TempDir dir;
  {
    LmdbOfferStore store{dir.path()};
    ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0 + 5ms, 0ms, kTraceId),
              ProcessResult::kOffered);
  }
  // Version 1 wrote offered_at alone.
  const std::vector<std::string> values = RewriteOfferValues(
      dir.path(), [](std::string_view value) { return std::string(value.substr(0, 8)); });
  ASSERT_EQ(values.size(), 1U);

  LmdbOfferStore reopened{dir.path()};

  EXPECT_EQ(
      reopened.OffersFor("10000"),
      (std::vector<Offer>{
          {.account_id = "10000", .message_id = "m1", .read_at = kT0, .offered_at = kT0 + 5ms}}));
  // And they still count for the cooldown.
  EXPECT_EQ(reopened.Process("m2", Notification("10000", kT0 + 1h), kT0, 24h),
            ProcessResult::kCooldown);
}

TEST(LmdbOfferStore, UnwritableDirectoryFailsNamingThePath) {
  const TempDir dir;
  const auto file = dir.path() / "a-file";
  { std::ofstream{file} << "x"; }

  try {
    LmdbOfferStore store{file / "store"};
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("a-file"), std::string::npos) << e.what();
  }
}

TEST(LmdbOfferStore, DeleteProcessedBeforeWorksAcrossTransactions) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  // More than one transaction's scan (4096), old and new interleaved by key; written by 16
  // threads so that group commit keeps the syncs few.
  std::vector<std::future<void>> writers;
  for (int t = 0; t < 16; ++t) {
    writers.push_back(std::async(std::launch::async, [&store, t] {
      for (int i = t; i < 10'000; i += 16) {
        const auto at = i % 2 == 0 ? kT0 - 8 * 24h : kT0;
        static_cast<void>(store.Process("m" + std::to_string(i), Notification("1", kT0), at, 0ms));
      }
    }));
  }
  for (auto& writer : writers) writer.get();
  ASSERT_EQ(CountProcessed(store), 10'000U);

  EXPECT_EQ(store.DeleteProcessedBefore(kT0 - 7 * 24h), 5'000U);
  EXPECT_EQ(CountProcessed(store), 5'000U);
  EXPECT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 0ms), ProcessResult::kDuplicate);
  EXPECT_EQ(store.DeleteProcessedBefore(kT0 - 7 * 24h), 0U);
}

}  // namespace
}  // namespace cppblog::vipservice
