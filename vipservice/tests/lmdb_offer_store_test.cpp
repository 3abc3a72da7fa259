#include "lmdb_offer_store.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <lmdb.h>

#include "cppblog/storage/temp_dir.hpp"

#include "offer_counts.hpp"

namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

const system_clock::time_point kT0 = system_clock::time_point{} + std::chrono::hours{480'000};

vip::VipNotification Notification(std::string account, system_clock::time_point read_at) {
  return {.account_id = std::move(account), .read_at = read_at};
}

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

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

TEST(LmdbOfferStore, FirstNotificationYieldsAnOffer) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};

  const ProcessResult result = store.Process("m1", Notification("10000", kT0), kT0 + 1ms, 24h);

  EXPECT_EQ(result, ProcessResult::kOffered);
  const std::vector<Offer> offers = store.OffersFor("10000");
  ASSERT_EQ(offers.size(), 1U);
  EXPECT_EQ(
      offers[0],
      (Offer{.account_id = "10000", .message_id = "m1", .read_at = kT0, .offered_at = kT0 + 1ms}));
}

TEST(LmdbOfferStore, SameMessageIdTwiceChangesNothing) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 0ms), ProcessResult::kOffered);

  const ProcessResult again = store.Process("m1", Notification("10000", kT0 + 1h), kT0 + 1h, 0ms);

  EXPECT_EQ(again, ProcessResult::kDuplicate);
  EXPECT_EQ(CountOffers(store), 1U);
  EXPECT_EQ(CountProcessed(store), 1U);
  EXPECT_EQ(store.OffersFor("10000").at(0).offered_at, kT0);
}

TEST(LmdbOfferStore, NotificationWithinCooldownIsProcessedWithoutOffer) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);

  const ProcessResult later = store.Process("m2", Notification("10000", kT0 + 23h), kT0, 24h);
  const ProcessResult earlier = store.Process("m3", Notification("10000", kT0 - 23h), kT0, 24h);

  EXPECT_EQ(later, ProcessResult::kCooldown);
  EXPECT_EQ(earlier, ProcessResult::kCooldown);
  EXPECT_EQ(CountOffers(store), 1U);
  EXPECT_EQ(CountProcessed(store), 3U);
  EXPECT_EQ(store.Process("m2", Notification("10000", kT0 + 23h), kT0, 24h),
            ProcessResult::kDuplicate);
}

TEST(LmdbOfferStore, NotificationAfterCooldownYieldsAnotherOffer) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);

  const ProcessResult result = store.Process("m2", Notification("10000", kT0 + 24h), kT0, 24h);

  EXPECT_EQ(result, ProcessResult::kOffered);
  EXPECT_EQ(store.OffersFor("10000").size(), 2U);
}

TEST(LmdbOfferStore, CooldownIsPerAccount) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);

  EXPECT_EQ(store.Process("m2", Notification("1000", kT0), kT0, 24h), ProcessResult::kOffered);
  EXPECT_EQ(store.Process("m3", Notification("100000", kT0), kT0, 24h), ProcessResult::kOffered);
  EXPECT_EQ(store.OffersFor("10000").size(), 1U);
  EXPECT_EQ(store.OffersFor("1000").size(), 1U);
}

TEST(LmdbOfferStore, ZeroCooldownMakesEveryDistinctMessageAnOffer) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};

  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(store.Process("m" + std::to_string(i), Notification("10000", kT0), kT0, 0ms),
              ProcessResult::kOffered);
  }
  ASSERT_EQ(store.Process("m7", Notification("10000", kT0), kT0, 0ms), ProcessResult::kDuplicate);

  EXPECT_EQ(CountOffers(store), 50U);
  EXPECT_EQ(store.OffersFor("10000").size(), 50U);
}

TEST(LmdbOfferStore, OffersAreListedByReadAt) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("late", Notification("10000", kT0 + 2h), kT0, 0ms),
            ProcessResult::kOffered);
  ASSERT_EQ(store.Process("early", Notification("10000", kT0 - 2h), kT0, 0ms),
            ProcessResult::kOffered);

  const std::vector<Offer> offers = store.OffersFor("10000");

  ASSERT_EQ(offers.size(), 2U);
  EXPECT_EQ(offers[0].message_id, "early");
  EXPECT_EQ(offers[1].message_id, "late");
}

TEST(LmdbOfferStore, UnknownAccountHasNoOffers) {
  const TempDir dir;
  const LmdbOfferStore store{dir.path()};

  EXPECT_TRUE(store.OffersFor("10001").empty());
}

TEST(LmdbOfferStore, ReopenKeepsOffersAndProcessedIds) {
  const TempDir dir;
  {
    LmdbOfferStore store{dir.path()};
    ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);
  }
  LmdbOfferStore reopened{dir.path()};

  EXPECT_EQ(reopened.OffersFor("10000").size(), 1U);
  EXPECT_EQ(reopened.Process("m1", Notification("10000", kT0), kT0, 24h),
            ProcessResult::kDuplicate);
  EXPECT_EQ(reopened.Process("m2", Notification("10000", kT0 + 1h), kT0, 24h),
            ProcessResult::kCooldown);
}

TEST(LmdbOfferStore, AnOfferRecordsTheTraceIdOfItsMessage) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};

  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0 + 1ms, 0ms, kTraceId),
            ProcessResult::kOffered);
  ASSERT_EQ(store.Process("m2", Notification("10000", kT0 + 1h), kT0 + 1h, 0ms),
            ProcessResult::kOffered);

  const std::vector<Offer> offers = store.OffersFor("10000");
  ASSERT_EQ(offers.size(), 2U);
  EXPECT_EQ(offers[0], (Offer{.account_id = "10000",
                              .message_id = "m1",
                              .read_at = kT0,
                              .offered_at = kT0 + 1ms,
                              .trace_id = std::string(kTraceId)}));
  EXPECT_EQ(offers[1].trace_id, "");  // its message carried none
}

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

TEST(LmdbOfferStore, RejectsMalformedTraceIds) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};

  for (const std::string_view bad :
       {"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e473",
        "00000000000000000000000000000000", "4bf92f3577b34da6a3ce929d0e0e4736ff"}) {
    EXPECT_THROW(static_cast<void>(store.Process("m1", Notification("10000", kT0), kT0, 0ms, bad)),
                 std::invalid_argument)
        << bad;
  }
  EXPECT_EQ(CountProcessed(store), 0U);
}

TEST(LmdbOfferStore, RejectsEmptyAndOverlongMessageIds) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};

  EXPECT_THROW(static_cast<void>(store.Process("", Notification("10000", kT0), kT0, 0ms)),
               std::invalid_argument);
  EXPECT_THROW(
      static_cast<void>(store.Process(std::string(256, 'x'), Notification("10000", kT0), kT0, 0ms)),
      std::invalid_argument);
  EXPECT_EQ(CountProcessed(store), 0U);
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

TEST(LmdbOfferStore, ConcurrentRedeliveriesYieldOneOffer) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  std::vector<std::future<ProcessResult>> results;

  for (int i = 0; i < 8; ++i) {
    results.push_back(std::async(std::launch::async, [&store] {
      return store.Process("same", Notification("10000", kT0), kT0, 0ms);
    }));
  }

  int offered = 0;
  for (auto& result : results) offered += result.get() == ProcessResult::kOffered ? 1 : 0;
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(CountOffers(store), 1U);
}

TEST(LmdbOfferStore, ConcurrentDistinctMessagesAreAllRecorded) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  std::vector<std::future<int>> workers;

  for (int t = 0; t < 8; ++t) {
    workers.push_back(std::async(std::launch::async, [&store, t] {
      int offered = 0;
      for (int i = 0; i < 20; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        offered +=
            store.Process(id, Notification("10000", kT0), kT0, 0ms) == ProcessResult::kOffered ? 1
                                                                                               : 0;
      }
      return offered;
    }));
  }

  int offered = 0;
  for (auto& worker : workers) offered += worker.get();
  EXPECT_EQ(offered, 160);
  EXPECT_EQ(CountOffers(store), 160U);
  EXPECT_EQ(CountProcessed(store), 160U);
}

TEST(LmdbOfferStore, DeleteProcessedBeforeDeletesOnlyOlderIds) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("old", Notification("10000", kT0 - 8 * 24h), kT0 - 8 * 24h, 0ms),
            ProcessResult::kOffered);
  ASSERT_EQ(store.Process("new", Notification("10000", kT0), kT0, 0ms), ProcessResult::kOffered);

  const std::size_t deleted = store.DeleteProcessedBefore(kT0 - 7 * 24h);

  EXPECT_EQ(deleted, 1U);
  EXPECT_EQ(CountProcessed(store), 1U);
  EXPECT_EQ(CountOffers(store), 2U);  // offers are kept
  EXPECT_EQ(store.Process("new", Notification("10000", kT0), kT0, 0ms), ProcessResult::kDuplicate);
  // A redelivery older than the retention is new again; its offer (same account, readAt and
  // id) is there already, so it makes no second one.
  EXPECT_EQ(store.Process("old", Notification("10000", kT0 - 8 * 24h), kT0, 0ms),
            ProcessResult::kOffered);
  EXPECT_EQ(CountOffers(store), 2U);
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
