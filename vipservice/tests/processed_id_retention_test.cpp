#include "cppblog/inbox/processed_id_retention.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

#include "lmdb_offer_store.hpp"
#include "offer_counts.hpp"

// The offer store under the inbox's retention sweeper, as main wires them (the sweeper's own
// tests: common/tests/inbox).
namespace cppblog::vipservice {
namespace {

using inbox::ProcessedIdRetention;

using namespace std::chrono_literals;
using std::chrono::system_clock;

const system_clock::time_point kT0 = system_clock::time_point{} + std::chrono::hours{480'000};

vip::VipNotification Notification(system_clock::time_point read_at) {
  return {.account_id = "10000", .read_at = read_at};
}

TEST(OfferStoreRetention, SweepDeletesIdsOlderThanTheRetentionByItsClock) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("day-0", Notification(kT0), kT0, 0ms), ProcessResult::kOffered);
  ASSERT_EQ(store.Process("day-5", Notification(kT0), kT0 + 5 * 24h, 0ms), ProcessResult::kOffered);
  std::atomic<system_clock::time_point> now{kT0 + 24h};
  ProcessedIdRetention retention{
      [&store](system_clock::time_point cutoff) { return store.DeleteProcessedBefore(cutoff); },
      {.retention = 7 * 24h, .interval = 1h, .clock = [&now] { return now.load(); }}};

  now = kT0 + 8 * 24h;
  static_cast<void>(retention.SweepOnce());  // the sweep at construction may have done it

  EXPECT_EQ(CountProcessed(store), 1U);
  EXPECT_EQ(store.Process("day-5", Notification(kT0), kT0 + 8 * 24h, 0ms),
            ProcessResult::kDuplicate);
  EXPECT_EQ(store.Process("day-0", Notification(kT0), kT0 + 8 * 24h, 0ms), ProcessResult::kOffered);
}

TEST(OfferStoreRetention, BackgroundSweepRunsWithoutBeingAsked) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  ASSERT_EQ(store.Process("old", Notification(kT0), kT0, 0ms), ProcessResult::kOffered);

  const ProcessedIdRetention retention{
      [&store](system_clock::time_point cutoff) { return store.DeleteProcessedBefore(cutoff); },
      {.retention = 1h, .interval = 10ms, .clock = [] { return kT0 + 2h; }}};

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (CountProcessed(store) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // a poll interval, not a wait
  }
  EXPECT_EQ(CountProcessed(store), 0U);
}

}  // namespace
}  // namespace cppblog::vipservice
