#include "cppblog/inbox/processed_id_retention.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "cppblog/inbox/lmdb_inbox.hpp"
#include "cppblog/storage/temp_dir.hpp"

#include "broker_test_env.hpp"

namespace cppblog::inbox {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using storage::LmdbEnvironment;
using storage::LmdbTransaction;

const system_clock::time_point kT0 = system_clock::time_point{} + std::chrono::hours{480'000};

void RecordAt(const LmdbEnvironment& env, const LmdbInbox& inbox, std::string_view id,
              system_clock::time_point at) {
  auto txn = LmdbTransaction::Write(env);
  ASSERT_TRUE(inbox.Record(txn, id, at));
  txn.Commit();
}

TEST(ProcessedIdRetention, DefaultIntervalIsAFractionOfTheRetentionWithinBounds) {
  EXPECT_EQ(ProcessedIdRetention::DefaultInterval(7 * 24h), 1h);
  EXPECT_EQ(ProcessedIdRetention::DefaultInterval(24h), 30min);
  EXPECT_EQ(ProcessedIdRetention::DefaultInterval(10s), 1s);
}

TEST(ProcessedIdRetention, SweepDeletesIdsOlderThanTheRetentionByItsClock) {
  const TempDir dir;
  LmdbEnvironment env{dir.path(), {.store = "inbox test"}};
  LmdbInbox inbox{env};
  RecordAt(env, inbox, "day-0", kT0);
  RecordAt(env, inbox, "day-5", kT0 + 5 * 24h);
  std::atomic<system_clock::time_point> now{kT0 + 24h};
  ProcessedIdRetention retention{
      [&inbox](system_clock::time_point cutoff) { return inbox.DeleteProcessedBefore(cutoff); },
      {.retention = 7 * 24h, .interval = 1h, .clock = [&now] { return now.load(); }}};

  now = kT0 + 8 * 24h;
  static_cast<void>(retention.SweepOnce());  // the sweep at construction may have done it

  EXPECT_EQ(inbox.Count(), 1U);
  auto txn = LmdbTransaction::Write(env);
  EXPECT_FALSE(inbox.Record(txn, "day-5", kT0 + 8 * 24h));
  EXPECT_TRUE(inbox.Record(txn, "day-0", kT0 + 8 * 24h));
}

TEST(ProcessedIdRetention, BackgroundSweepRunsWithoutBeingAsked) {
  const TempDir dir;
  LmdbEnvironment env{dir.path(), {.store = "inbox test"}};
  LmdbInbox inbox{env};
  RecordAt(env, inbox, "old", kT0);

  const ProcessedIdRetention retention{
      [&inbox](system_clock::time_point cutoff) { return inbox.DeleteProcessedBefore(cutoff); },
      {.retention = 1h, .interval = 10ms, .clock = [] { return kT0 + 2h; }}};

  EXPECT_TRUE(messaging::WaitUntil([&inbox] { return inbox.Count() == 0; }, 10s));
}

TEST(ProcessedIdRetention, AFailedSweepIsTriedAgainAtTheNext) {
  std::atomic<int> calls{0};
  const ProcessedIdRetention retention{[&calls](system_clock::time_point) -> std::size_t {
                                         if (calls.fetch_add(1) == 0) {
                                           throw std::runtime_error("store down");
                                         }
                                         return 0;
                                       },
                                       {.retention = 1h, .interval = 10ms}};
  EXPECT_TRUE(messaging::WaitUntil([&calls] { return calls.load() >= 2; }, 10s));
}

}  // namespace
}  // namespace cppblog::inbox
