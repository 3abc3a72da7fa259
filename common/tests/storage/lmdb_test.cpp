#include "cppblog/storage/lmdb.hpp"

#include <atomic>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::storage {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

class LmdbTest : public ::testing::Test {
 protected:
  LmdbTest()
      : env_(dir_.path() / "store", {.store = "test store"}), db_(env_.OpenDatabase("items")) {}

  void PutCommitted(std::string_view key, std::string_view value) {
    LmdbTransaction txn = LmdbTransaction::Write(env_);
    txn.Put(db_, key, value);
    txn.Commit();
  }

  [[nodiscard]] std::optional<std::string> Read(std::string_view key) const {
    const LmdbTransaction txn = LmdbTransaction::Read(env_);
    const auto value = txn.Get(db_, key);
    return value ? std::optional<std::string>(*value) : std::nullopt;
  }

  TempDir dir_;
  LmdbEnvironment env_;
  LmdbDatabase db_;
};

TEST_F(LmdbTest, ACommittedWriteIsReadAndAnAbortedOneIsNot) {
  PutCommitted("a", "1");
  {
    LmdbTransaction txn = LmdbTransaction::Write(env_);
    txn.Put(db_, "b", "2");
    EXPECT_THAT(txn.Get(db_, "b"), Optional(std::string_view("2")));  // sees its own write
  }                                                                   // aborted
  EXPECT_THAT(Read("a"), Optional(std::string("1")));
  EXPECT_EQ(Read("b"), std::nullopt);
}

TEST(LmdbEnvironment, CommitsSurviveReopeningTheEnvironment) {
  const TempDir dir;
  {
    LmdbEnvironment env(dir.path() / "store", {.store = "test store"});
    const LmdbDatabase db = env.OpenDatabase("items");
    LmdbTransaction txn = LmdbTransaction::Write(env);
    txn.Put(db, "kept", "yes");
    txn.Commit();
  }
  LmdbEnvironment env(dir.path() / "store", {.store = "test store"});
  const LmdbDatabase db = env.OpenDatabase("items");
  const LmdbTransaction txn = LmdbTransaction::Read(env);
  EXPECT_THAT(txn.Get(db, "kept"), Optional(std::string_view("yes")));
}

TEST_F(LmdbTest, PutIfAbsentKeepsTheFirstValue) {
  LmdbTransaction txn = LmdbTransaction::Write(env_);
  EXPECT_TRUE(txn.PutIfAbsent(db_, "k", "first"));
  EXPECT_FALSE(txn.PutIfAbsent(db_, "k", "second"));
  EXPECT_THAT(txn.Get(db_, "k"), Optional(std::string_view("first")));
  txn.Commit();
}

TEST_F(LmdbTest, DeleteSaysWhetherTheKeyWasThere) {
  PutCommitted("k", "v");
  LmdbTransaction txn = LmdbTransaction::Write(env_);
  EXPECT_TRUE(txn.Delete(db_, "k"));
  EXPECT_FALSE(txn.Delete(db_, "k"));
  txn.Commit();
  EXPECT_EQ(Read("k"), std::nullopt);
}

TEST_F(LmdbTest, AppendRefusesAKeyThatIsNotTheGreatest) {
  LmdbTransaction txn = LmdbTransaction::Write(env_);
  txn.Append(db_, "b", "1");
  txn.Append(db_, "c", "2");
  EXPECT_THAT([&] { txn.Append(db_, "a", "3"); },
              ::testing::ThrowsMessage<StoreError>(
                  AllOf(HasSubstr("test store"), HasSubstr("append in 'items'"))));
}

TEST_F(LmdbTest, KeysLmdbCannotHoldAreRefusedWithTheirSize) {
  LmdbTransaction txn = LmdbTransaction::Write(env_);
  EXPECT_THROW(txn.Put(db_, "", "v"), std::invalid_argument);
  EXPECT_THAT([&] { txn.Put(db_, std::string(kMaxLmdbKeyBytes + 1, 'k'), "v"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("512 bytes")));
  txn.Put(db_, std::string(kMaxLmdbKeyBytes, 'k'), "v");  // the longest key LMDB takes
  txn.Commit();
}

TEST_F(LmdbTest, CountCountsTheDatabasesEntries) {
  PutCommitted("a", "1");
  PutCommitted("b", "2");
  const LmdbTransaction txn = LmdbTransaction::Read(env_);
  EXPECT_EQ(txn.Count(db_), 2U);
}

TEST_F(LmdbTest, AfterCommitRunsOnlyOnceTheCommitSucceeded) {
  std::vector<int> calls;
  {
    LmdbTransaction txn = LmdbTransaction::Write(env_);
    txn.Put(db_, "a", "1");
    txn.AfterCommit([&] { calls.push_back(1); });
    txn.AfterCommit([&] { calls.push_back(2); });
    EXPECT_TRUE(calls.empty());
    txn.Commit();
  }
  EXPECT_THAT(calls, ElementsAre(1, 2));
  {
    LmdbTransaction txn = LmdbTransaction::Write(env_);
    txn.AfterCommit([&] { calls.push_back(3); });
  }  // aborted: never called
  EXPECT_THAT(calls, ElementsAre(1, 2));
  LmdbTransaction read = LmdbTransaction::Read(env_);
  EXPECT_THROW(read.AfterCommit([] {}), std::logic_error);
}

TEST_F(LmdbTest, ACursorWalksInKeyOrderBothWays) {
  for (const char* key : {"b", "d", "a", "c"}) PutCommitted(key, key);
  LmdbTransaction txn = LmdbTransaction::Read(env_);
  LmdbCursor cursor(txn, db_);
  std::string forward;
  for (auto entry = cursor.First(); entry; entry = cursor.Next()) forward += entry->key;
  EXPECT_EQ(forward, "abcd");
  std::string backward;
  for (auto entry = cursor.Last(); entry; entry = cursor.Previous()) backward += entry->key;
  EXPECT_EQ(backward, "dcba");
  EXPECT_EQ(cursor.Seek("bb")->key, "c");  // the first key >= "bb"
  EXPECT_EQ(cursor.Seek("e"), std::nullopt);
}

TEST_F(LmdbTest, DeletingThroughACursorMovesOnToTheNextEntry) {
  for (const char* key : {"a", "b", "c", "d"}) PutCommitted(key, key);
  LmdbTransaction txn = LmdbTransaction::Write(env_);
  std::string kept;
  {
    LmdbCursor cursor(txn, db_);
    for (auto entry = cursor.First(); entry; entry = cursor.Next()) {
      if (entry->key == "b" || entry->key == "c") {
        cursor.DeleteCurrent();
      } else {
        kept += entry->key;
      }
    }
  }
  txn.Commit();
  EXPECT_EQ(kept, "ad");
  EXPECT_EQ(Read("b"), std::nullopt);
  EXPECT_EQ(Read("c"), std::nullopt);
  EXPECT_THAT(Read("d"), Optional(std::string("d")));
}

TEST_F(LmdbTest, ACursorStillOpenAtCommitIsClosedByTheTransaction) {
  PutCommitted("a", "1");
  LmdbTransaction txn = LmdbTransaction::Write(env_);
  LmdbCursor cursor(txn, db_);
  ASSERT_TRUE(cursor.First());
  txn.Put(db_, "b", "2");
  txn.Commit();  // LMDB frees the cursor here: the cursor's destructor must not free it again
  EXPECT_THROW(cursor.Next(), std::logic_error);
  EXPECT_THAT(Read("b"), Optional(std::string("2")));
}

TEST_F(LmdbTest, ANestedReadOnOneThreadSeesTheSameData) {
  PutCommitted("a", "1");
  const LmdbTransaction outer = LmdbTransaction::Read(env_);
  {
    const LmdbTransaction inner = LmdbTransaction::Read(env_);  // not the cached one: in use
    EXPECT_THAT(inner.Get(db_, "a"), Optional(std::string_view("1")));
  }
  EXPECT_THAT(outer.Get(db_, "a"), Optional(std::string_view("1")));
}

TEST_F(LmdbTest, AReadTransactionSeesTheSnapshotItBeganWith) {
  PutCommitted("a", "old");
  const LmdbTransaction snapshot = LmdbTransaction::Read(env_);
  std::async(std::launch::async, [&] { PutCommitted("a", "new"); }).get();
  EXPECT_THAT(snapshot.Get(db_, "a"), Optional(std::string_view("old")));
}

TEST_F(LmdbTest, CachedReadsOnManyThreadsSeeEachCommit) {
  std::vector<std::thread> readers;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        PutCommitted(key, key);
        if (Read(key) != key) ++mismatches;  // a renewed transaction sees the latest commit
      }
    });
  }
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  const LmdbTransaction txn = LmdbTransaction::Read(env_);
  EXPECT_EQ(txn.Count(db_), 8U * 200U);
}

TEST_F(LmdbTest, AMovedTransactionKeepsItsCursors) {
  PutCommitted("a", "1");
  LmdbTransaction first = LmdbTransaction::Write(env_);
  LmdbCursor cursor(first, db_);
  LmdbTransaction second = std::move(first);
  EXPECT_EQ(cursor.First()->key, "a");
  second.Commit();
  EXPECT_THROW(cursor.First(), std::logic_error);
}

TEST(LmdbEnvironment, ErrorsNameTheStoreAndItsDirectory) {
  const TempDir dir;
  const std::filesystem::path file = dir.Write("not-a-dir", "x");
  EXPECT_THAT([&] { LmdbEnvironment env(file, {.store = "offer store"}); },
              ::testing::ThrowsMessage<StoreError>(
                  AllOf(HasSubstr("offer store"), HasSubstr(file.string()))));
}

}  // namespace
}  // namespace cppblog::storage
