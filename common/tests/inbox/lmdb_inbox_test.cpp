#include "cppblog/inbox/lmdb_inbox.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::inbox {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using storage::LmdbEnvironment;
using storage::LmdbTransaction;

const system_clock::time_point kT0 = system_clock::time_point{} + std::chrono::hours{480'000};

LmdbEnvironment OpenEnvironment(const TempDir& dir) {
  return LmdbEnvironment{dir.path(), {.store = "inbox test", .map_size = std::size_t{64} << 20}};
}

TEST(LmdbInbox, ANewIdIsRecordedAndRefusedOnceCommitted) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env};
  {
    auto txn = LmdbTransaction::Write(env);
    EXPECT_TRUE(inbox.Record(txn, "m1", kT0));
    txn.Commit();
  }
  auto txn = LmdbTransaction::Write(env);
  EXPECT_FALSE(inbox.Record(txn, "m1", kT0 + 1s));
  EXPECT_TRUE(inbox.Record(txn, "m2", kT0 + 1s));
  txn.Commit();
  EXPECT_EQ(inbox.Count(), 2U);
}

TEST(LmdbInbox, ADuplicateWithinOneTransactionIsRefused) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env};
  auto txn = LmdbTransaction::Write(env);
  EXPECT_TRUE(inbox.Record(txn, "m1", kT0));
  EXPECT_FALSE(inbox.Record(txn, "m1", kT0));
  txn.Commit();
  EXPECT_EQ(inbox.Count(), 1U);
}

TEST(LmdbInbox, AnAbortedTransactionRecordsNothingNorItsEffect) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env};
  const storage::LmdbDatabase effects = env.OpenDatabase("effects");
  {
    auto txn = LmdbTransaction::Write(env);
    ASSERT_TRUE(inbox.Record(txn, "m1", kT0));
    txn.Put(effects, "m1", "done");
  }  // ended without a commit: aborted
  EXPECT_EQ(inbox.Count(), 0U);
  auto txn = LmdbTransaction::Write(env);
  EXPECT_TRUE(inbox.Record(txn, "m1", kT0));  // processed as new
  EXPECT_FALSE(txn.Get(effects, "m1").has_value());
}

TEST(LmdbInbox, TheIdAndTheEffectCommitTogether) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env};
  const storage::LmdbDatabase effects = env.OpenDatabase("effects");
  int applied = 0;
  for (int delivery = 0; delivery < 3; ++delivery) {  // the same message delivered three times
    auto txn = LmdbTransaction::Write(env);
    if (inbox.Record(txn, "m1", kT0)) {
      txn.Put(effects, "m1", "done");
      ++applied;
    }
    txn.Commit();
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(LmdbTransaction::Read(env).Count(effects), 1U);
}

TEST(LmdbInbox, IdsSurviveReopeningTheEnvironment) {
  const TempDir dir;
  {
    LmdbEnvironment env = OpenEnvironment(dir);
    const LmdbInbox inbox{env};
    auto txn = LmdbTransaction::Write(env);
    ASSERT_TRUE(inbox.Record(txn, "m1", kT0));
    txn.Commit();
  }
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env};
  auto txn = LmdbTransaction::Write(env);
  EXPECT_FALSE(inbox.Record(txn, "m1", kT0));
}

// The value is the time, 8 bytes big-endian with the sign bit flipped, then the detail: the
// format of the vipservice's "processed" database, which existing data dirs hold.
TEST(LmdbInbox, StoresTheTimeThenTheDetail) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env, "processed"};
  const auto at = system_clock::time_point{std::chrono::nanoseconds{0x0102030405060708}};
  auto txn = LmdbTransaction::Write(env);
  ASSERT_TRUE(inbox.Record(txn, "m1", at, "o"));
  ASSERT_TRUE(inbox.Record(txn, "m2", at));
  const std::optional<std::string_view> with_detail = txn.Get(inbox.Database(), "m1");
  const std::optional<std::string_view> without = txn.Get(inbox.Database(), "m2");
  ASSERT_TRUE(with_detail.has_value());
  ASSERT_TRUE(without.has_value());
  EXPECT_EQ(std::string(*with_detail), std::string("\x81\x02\x03\x04\x05\x06\x07\x08o", 9));
  EXPECT_EQ(std::string(*without), std::string("\x81\x02\x03\x04\x05\x06\x07\x08", 8));
}

TEST(LmdbInbox, RefusesIdsLmdbCannotKeep) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox inbox{env};
  auto txn = LmdbTransaction::Write(env);
  EXPECT_THROW(static_cast<void>(inbox.Record(txn, "", kT0)), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(
                   inbox.Record(txn, std::string(LmdbInbox::kMaxMessageIdBytes + 1, 'x'), kT0)),
               std::invalid_argument);
  EXPECT_TRUE(inbox.Record(txn, std::string(LmdbInbox::kMaxMessageIdBytes, 'x'), kT0));
}

TEST(LmdbInbox, DeleteProcessedBeforeDeletesOnlyOlderIdsAcrossManyTransactions) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  LmdbInbox inbox{env};
  {
    auto txn = LmdbTransaction::Write(env);
    // 10,000 ids, more than one deleting transaction scans; every other one old.
    for (int i = 0; i < 10'000; ++i) {
      ASSERT_TRUE(inbox.Record(txn, "id-" + std::to_string(i), i % 2 == 0 ? kT0 : kT0 + 2h));
    }
    txn.Commit();
  }
  EXPECT_EQ(inbox.DeleteProcessedBefore(kT0 + 1h), 5'000U);
  EXPECT_EQ(inbox.Count(), 5'000U);
  EXPECT_EQ(inbox.DeleteProcessedBefore(kT0 + 1h), 0U);
  auto txn = LmdbTransaction::Write(env);
  EXPECT_TRUE(inbox.Record(txn, "id-0", kT0 + 3h));   // deleted: new again
  EXPECT_FALSE(inbox.Record(txn, "id-1", kT0 + 3h));  // kept
}

TEST(LmdbInbox, DeleteProcessedBeforeKeepsAnIdStoredWithoutATime) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  LmdbInbox inbox{env};
  {
    auto txn = LmdbTransaction::Write(env);
    txn.Put(inbox.Database(), "no-time", "x");
    ASSERT_TRUE(inbox.Record(txn, "old", kT0));
    txn.Commit();
  }
  EXPECT_EQ(inbox.DeleteProcessedBefore(kT0 + 1h), 1U);
  EXPECT_EQ(inbox.Count(), 1U);
}

TEST(LmdbInbox, TwoInboxesOfOneEnvironmentAreIndependent) {
  const TempDir dir;
  LmdbEnvironment env = OpenEnvironment(dir);
  const LmdbInbox first{env, "first"};
  const LmdbInbox second{env, "second"};
  auto txn = LmdbTransaction::Write(env);
  EXPECT_TRUE(first.Record(txn, "m1", kT0));
  EXPECT_TRUE(second.Record(txn, "m1", kT0));
  txn.Commit();
  EXPECT_EQ(first.Count(), 1U);
  EXPECT_EQ(second.Count(), 1U);
}

}  // namespace
}  // namespace cppblog::inbox
