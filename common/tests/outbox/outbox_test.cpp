#include "cppblog/outbox/outbox.hpp"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/metrics/registry.hpp"
#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/trace/trace_context.hpp"

#include "outbox_test_support.hpp"

namespace cppblog::outbox {
namespace {

TEST(Outbox, AppendedEntriesAreReadInOrder) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};

  const auto first = AppendAndWait(outbox, "id-1", R"({"a":1})");
  const auto second = AppendAndWait(outbox, "id-2", R"({"a":2})");

  EXPECT_LT(first, second);
  EXPECT_EQ(outbox.LastSequence(), second);
  EXPECT_EQ(outbox.Size(), 2U);
  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[0],
            (OutboxEntry{.sequence = first, .message_id = "id-1", .body = R"({"a":1})"}));
  EXPECT_EQ(entries[1],
            (OutboxEntry{.sequence = second, .message_id = "id-2", .body = R"({"a":2})"}));
}

TEST(Outbox, AnEntryKeepsItsTraceparent) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::promise<std::uint64_t> appended;
  outbox.AppendAsync(
      {.message_id = "id-1", .body = R"({"a":1})", .traceparent = traceparent},
      [&](std::exception_ptr, std::uint64_t sequence) { appended.set_value(sequence); });
  const std::uint64_t first = appended.get_future().get();
  const std::uint64_t second = AppendAndWait(outbox, "id-2", R"({"a":2})");

  const auto entries = outbox.Read(0, 10);

  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[0], (OutboxEntry{.sequence = first,
                                     .message_id = "id-1",
                                     .body = R"({"a":1})",
                                     .traceparent = traceparent}));
  EXPECT_EQ(entries[1],
            (OutboxEntry{.sequence = second, .message_id = "id-2", .body = R"({"a":2})"}));
}

TEST(Outbox, AnEntryKeepsItsTracestateBesideItsTraceparent) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
  std::promise<std::uint64_t> appended;
  outbox.AppendAsync(
      {.message_id = "id-1",
       .body = R"({"a":1})",
       .traceparent = traceparent,
       .tracestate = tracestate},
      [&](std::exception_ptr, std::uint64_t sequence) { appended.set_value(sequence); });
  const std::uint64_t sequence = appended.get_future().get();

  const auto entries = outbox.Read(0, 10);

  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0], (OutboxEntry{.sequence = sequence,
                                     .message_id = "id-1",
                                     .body = R"({"a":1})",
                                     .traceparent = traceparent,
                                     .tracestate = tracestate}));
}

TEST(Outbox, ATracestateItCannotCarryIsNotKept) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::vector<std::pair<std::string, std::string>> appends{
      {traceparent, std::string("a=1\x1f"
                                "b=2")},                                   // a separator inside
      {traceparent, std::string("a=1\0b=2", 7)},                           // a NUL inside
      {traceparent, "k=" + std::string(trace::kMaxTraceStateBytes, 'v')},  // over the bound
      {"", "a=1"},                                                         // no traceparent
  };
  for (const auto& [parent, state] : appends) {
    std::promise<void> appended;
    outbox.AppendAsync(
        {.message_id = "id", .body = R"({"a":1})", .traceparent = parent, .tracestate = state},
        [&](std::exception_ptr, std::uint64_t) { appended.set_value(); });
    appended.get_future().get();
  }

  const auto entries = outbox.Read(0, 10);

  ASSERT_EQ(entries.size(), 4U);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].message_id, "id") << i;
    EXPECT_EQ(entries[i].body, R"({"a":1})") << i;
    EXPECT_EQ(entries[i].traceparent, appends[i].first) << i;
    EXPECT_EQ(entries[i].tracestate, "") << i;
  }
}

TEST(Outbox, ReadStartsAfterTheGivenSequenceAndStopsAtMax) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  std::vector<std::uint64_t> sequences;
  for (int i = 0; i < 5; ++i)
    sequences.push_back(AppendAndWait(outbox, "id-" + std::to_string(i), "b"));

  const auto entries = outbox.Read(sequences[1], 2);

  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[0].message_id, "id-2");
  EXPECT_EQ(entries[1].message_id, "id-3");
}

TEST(Outbox, RemovedEntriesAreGoneAndMissingOnesIgnored) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const auto first = AppendAndWait(outbox, "id-1", "b1");
  const auto second = AppendAndWait(outbox, "id-2", "b2");

  const std::vector<std::uint64_t> removed = {first, second + 100};
  RemoveNow(outbox, removed);

  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].message_id, "id-2");
  EXPECT_EQ(outbox.Size(), 1U);
}

TEST(Outbox, RemovalsAreCommittedByTheWriterAndSurviveReopen) {
  const TempDir dir;
  {
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    metrics::Registry metrics;
    Outbox outbox{env, {.metrics = &metrics}};
    std::vector<std::uint64_t> sequences;
    for (int i = 0; i < 4; ++i)
      sequences.push_back(AppendAndWait(outbox, "id-" + std::to_string(i), "b"));
    const std::uint64_t commits_before = Commits(metrics);

    RemoveNow(outbox, std::span(sequences).first(3));

    EXPECT_EQ(Commits(metrics), commits_before + 1);
    EXPECT_EQ(outbox.Size(), 1U);
  }
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  const Outbox reopened{env};
  const auto entries = reopened.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].message_id, "id-3");
}

TEST(Outbox, FlushRemovalsReturnsOnceQueuedDeletionsAreCommitted) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const auto first = AppendAndWait(outbox, "id-1", "b1");
  static_cast<void>(AppendAndWait(outbox, "id-2", "b2"));

  outbox.RemoveLater(std::vector<std::uint64_t>{first});
  outbox.FlushRemovals();

  EXPECT_EQ(outbox.Size(), 1U);
  outbox.FlushRemovals();  // nothing queued: returns at once
  EXPECT_EQ(outbox.Size(), 1U);
}

TEST(Outbox, DeletionsRideOnTheNextAppendsCommit) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  metrics::Registry metrics;
  Outbox outbox{env,
                {.removal_delay = std::chrono::minutes(1),
                 .metrics = &metrics}};  // the append surely comes within the delay
  const auto first = AppendAndWait(outbox, "id-1", "b1");
  const auto commits_before = Commits(metrics);

  outbox.RemoveLater(std::vector<std::uint64_t>{first});
  static_cast<void>(AppendAndWait(outbox, "id-2", "b2"));  // within the delay: one commit for both

  EXPECT_EQ(Commits(metrics), commits_before + 1);
  EXPECT_EQ(outbox.Size(), 1U);
  EXPECT_EQ(outbox.Read(0, 10).at(0).message_id, "id-2");
}

TEST(Outbox, DeletionsAloneAreCommittedWithoutAnAppend) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const auto first = AppendAndWait(outbox, "id-1", "b1");

  outbox.RemoveLater(std::vector<std::uint64_t>{first});

  // No append comes: the writer commits them on its own after a short delay.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (outbox.Size() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(outbox.Size(), 0U);
}

TEST(Outbox, DeletionsCommittedAloneSurviveReopening) {
  const TempDir dir;
  {
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    Outbox outbox{env};
    const auto first = AppendAndWait(outbox, "id-1", "b1");
    static_cast<void>(AppendAndWait(outbox, "id-2", "b2"));
    RemoveNow(outbox,
              std::vector<std::uint64_t>{first});  // a commit of deletions alone, then close
  }
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  ASSERT_EQ(outbox.Size(), 1U);
  EXPECT_EQ(outbox.Read(0, 10).at(0).message_id, "id-2");
}

TEST(Outbox, DeletionsQueuedBeforeCloseAreCommittedByIt) {
  const TempDir dir;
  {
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    Outbox outbox{env};
    std::vector<std::uint64_t> sequences;
    for (int i = 0; i < 3; ++i)
      sequences.push_back(AppendAndWait(outbox, "id-" + std::to_string(i), "b"));

    outbox.RemoveLater(std::span(sequences).first(2));
  }  // closing drains what is queued
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  const Outbox reopened{env};
  const auto entries = reopened.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].message_id, "id-2");
}

TEST(Outbox, EntriesSurviveReopenAndSequencesKeepIncreasing) {
  const TempDir dir;
  std::uint64_t last = 0;
  {
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    const storage::LmdbDatabase state = env.OpenDatabase("state");
    storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
    txn.Put(state, "10000", "Person_0");
    txn.Commit();
    Outbox outbox{env};
    static_cast<void>(AppendAndWait(outbox, "id-1", "b1"));
    last = AppendAndWait(outbox, "id-2", "b2");
  }
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};

  EXPECT_EQ(outbox.LastSequence(), last);
  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[1].message_id, "id-2");
  EXPECT_GT(AppendAndWait(outbox, "id-3", "b3"), last);
  // The application's database beside the outbox is untouched.
  const storage::LmdbDatabase state = env.OpenDatabase("state");
  const storage::LmdbTransaction read = storage::LmdbTransaction::Read(env);
  EXPECT_EQ(read.Get(state, "10000"), "Person_0");
}

TEST(Outbox, ConcurrentAppendsAreEachStoredOnceAndShareCommits) {
  const TempDir dir;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  constexpr int kAppends = kThreads * kPerThread;
  std::vector<std::vector<std::uint64_t>> sequences(kThreads);
  std::uint64_t commits = 0;
  std::uint64_t appended = 0;
  {
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    metrics::Registry metrics;
    Outbox outbox{env, {.metrics = &metrics}};
    {
      // Rounds of eight appends started together: while one commit syncs, the appends that
      // arrive meanwhile queue up and must go out in the next one, not one commit each.
      std::barrier round{kThreads};
      std::vector<std::jthread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&outbox, &sequences, &round, t] {
          for (int i = 0; i < kPerThread; ++i) {
            round.arrive_and_wait();
            sequences[t].push_back(
                AppendAndWait(outbox, "t" + std::to_string(t) + "-" + std::to_string(i), "body"));
          }
        });
      }
    }
    commits = Commits(metrics);
    appended = Appended(metrics);
  }
  // Reopened: what Append returned is durable.
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const auto entries = outbox.Read(0, kAppends + 10);

  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kAppends));
  std::set<std::string> ids;
  std::set<std::uint64_t> stored_sequences;
  for (const auto& entry : entries) {
    ids.insert(entry.message_id);
    stored_sequences.insert(entry.sequence);
  }
  EXPECT_EQ(ids.size(), entries.size());
  for (const auto& per_thread : sequences) {
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    for (const auto sequence : per_thread) EXPECT_TRUE(stored_sequences.contains(sequence));
  }
  EXPECT_EQ(appended, static_cast<std::uint64_t>(kAppends));
  EXPECT_LE(commits, static_cast<std::uint64_t>(kAppends));
  // Shared: one commit per append would be 400. Each round of eight needs at most a few
  // commits even when the threads reach the queue one by one (the first commit's sync lets the
  // rest gather), so half is a bound that only a writer committing entries singly breaks.
  EXPECT_LE(commits, static_cast<std::uint64_t>(kAppends / 2))
      << "concurrent appends did not share commits: " << commits << " commits for " << kAppends
      << " appends";
  RecordProperty("commits", std::to_string(commits));
}

TEST(Outbox, WaitForEntriesAfterReturnsOnceAnEntryIsCommitted) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  EXPECT_FALSE(outbox.WaitForEntriesAfter(0, std::chrono::milliseconds{1}));

  std::jthread appender{[&outbox] { static_cast<void>(AppendAndWait(outbox, "id-1", "b")); }};

  EXPECT_TRUE(outbox.WaitForEntriesAfter(0, std::chrono::seconds{10}));
}

TEST(Outbox, AppendAsyncCompletesOnTheWriterThreadOnceCommitted) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  metrics::Registry metrics;
  Outbox outbox{env, {.metrics = &metrics}};
  struct Completion {
    std::exception_ptr error;
    std::uint64_t sequence = 0;
    std::thread::id thread;
    std::size_t stored = 0;  // entries readable when the callback ran
  };
  std::promise<Completion> completed;

  outbox.AppendAsync({.message_id = "id-1", .body = "b"},
                     [&](std::exception_ptr error, std::uint64_t sequence) {
                       completed.set_value({.error = error,
                                            .sequence = sequence,
                                            .thread = std::this_thread::get_id(),
                                            .stored = outbox.Size()});
                     });

  auto result = completed.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  const Completion completion = result.get();
  EXPECT_FALSE(completion.error);
  EXPECT_EQ(completion.sequence, outbox.LastSequence());
  EXPECT_NE(completion.thread, std::this_thread::get_id());
  EXPECT_EQ(completion.stored, 1U);
  EXPECT_EQ(Appended(metrics), 1U);
}

TEST(Outbox, CallbackMayAppendAgain) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  std::promise<std::uint64_t> second;

  // Callbacks run outside the outbox's lock: appending from one does not deadlock.
  outbox.AppendAsync({.message_id = "id-1", .body = "b"}, [&](std::exception_ptr, std::uint64_t) {
    outbox.AppendAsync(
        {.message_id = "id-2", .body = "b"},
        [&](std::exception_ptr, std::uint64_t sequence) { second.set_value(sequence); });
  });

  auto result = second.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  EXPECT_EQ(result.get(), outbox.LastSequence());
  EXPECT_EQ(outbox.Size(), 2U);
}

TEST(Outbox, FailedAppendReachesTheCallbackAndAppendThrows) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  metrics::Registry metrics;
  Outbox outbox{env, {.metrics = &metrics}};
  BreakOutboxAppends(env);
  std::promise<std::exception_ptr> failed;

  outbox.AppendAsync({.message_id = "id-1", .body = "b"},
                     [&failed](std::exception_ptr error, std::uint64_t sequence) {
                       failed.set_value(sequence == 0 ? error : nullptr);
                     });

  auto result = failed.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  const std::exception_ptr error = result.get();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), storage::StoreError);
  EXPECT_THROW(static_cast<void>(AppendAndWait(outbox, "id-2", "b")), storage::StoreError);
  EXPECT_EQ(Appended(metrics), 0U);
}

TEST(Outbox, AppendsQueuedAtCloseAreStillWrittenAndCompleted) {
  const TempDir dir;
  std::promise<std::uint64_t> completed;
  auto result = completed.get_future();
  {
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    Outbox outbox{env};
    outbox.AppendAsync({.message_id = "id-1", .body = "b"},
                       [&completed](std::exception_ptr error, std::uint64_t seq) {
                         completed.set_value(error ? 0 : seq);
                       });
  }  // closed right away

  ASSERT_EQ(result.wait_for(std::chrono::seconds{0}), std::future_status::ready);
  EXPECT_NE(result.get(), 0U);
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  EXPECT_EQ(outbox.Size(), 1U);
}

TEST(Outbox, ReadsTheEntriesAnEarlierVersionWroteAndAppendsAfterThem) {
  const TempDir dir;
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  {
    // The format of the accountservice's outbox before it moved into the library: key the
    // big-endian 64-bit sequence, value message id [US traceparent [US tracestate]] NUL body.
    storage::LmdbEnvironment env = OpenEnvironment(dir.path());
    const storage::LmdbDatabase db = env.OpenDatabase("outbox");
    storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
    txn.Put(db, std::string("\0\0\0\0\0\0\0\x07", 8), std::string("id-7\0b7", 7));
    txn.Put(db, std::string("\0\0\0\0\0\0\x01\x00", 8), "id-256\x1f" + traceparent + '\0' + "b256");
    txn.Put(db, std::string("\0\0\0\0\0\0\x01\x01", 8),
            "id-257\x1f" + traceparent + "\x1f" + "k=v" + '\0' + "b257");
    txn.Commit();
  }
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};

  EXPECT_EQ(outbox.LastSequence(), 257U);
  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0], (OutboxEntry{.sequence = 7, .message_id = "id-7", .body = "b7"}));
  EXPECT_EQ(
      entries[1],
      (OutboxEntry{
          .sequence = 256, .message_id = "id-256", .body = "b256", .traceparent = traceparent}));
  EXPECT_EQ(entries[2], (OutboxEntry{.sequence = 257,
                                     .message_id = "id-257",
                                     .body = "b257",
                                     .traceparent = traceparent,
                                     .tracestate = "k=v"}));
  EXPECT_EQ(AppendAndWait(outbox, "id-258", "b258"), 258U);
}

// --- Append in the caller's transaction ---------------------------------------------------

TEST(OutboxAppendInTransaction, TheEntryIsCommittedWithTheCallersWrites) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  const storage::LmdbDatabase orders = env.OpenDatabase("orders");
  Outbox outbox{env};
  std::vector<std::uint64_t> heard;
  outbox.SetAppendListener([&heard](std::uint64_t last) { heard.push_back(last); });

  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  txn.Put(orders, "order-1", "placed");
  const std::uint64_t sequence = outbox.Append(
      txn, {.message_id = "id-1",
            .body = R"({"order":"order-1"})",
            .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  // Not committed yet: nobody sees it, nobody is woken.
  EXPECT_EQ(outbox.Size(), 0U);
  EXPECT_EQ(outbox.LastSequence(), 0U);
  EXPECT_TRUE(heard.empty());
  txn.Commit();

  EXPECT_EQ(heard, std::vector<std::uint64_t>{sequence});
  EXPECT_EQ(outbox.LastSequence(), sequence);
  EXPECT_TRUE(outbox.WaitForEntriesAfter(0, std::chrono::milliseconds{0}));
  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(
      entries[0],
      (OutboxEntry{.sequence = sequence,
                   .message_id = "id-1",
                   .body = R"({"order":"order-1"})",
                   .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}));
  const storage::LmdbTransaction read = storage::LmdbTransaction::Read(env);
  EXPECT_EQ(read.Get(orders, "order-1"), "placed");
}

TEST(OutboxAppendInTransaction, AnAbortedTransactionLeavesNothingAndWakesNoOne) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  const storage::LmdbDatabase orders = env.OpenDatabase("orders");
  Outbox outbox{env};
  int heard = 0;
  outbox.SetAppendListener([&heard](std::uint64_t) { ++heard; });
  std::uint64_t aborted = 0;
  {
    storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
    txn.Put(orders, "order-1", "placed");
    aborted = outbox.Append(txn, {.message_id = "id-1", .body = "b"});
  }  // not committed: aborted

  EXPECT_EQ(outbox.Size(), 0U);
  EXPECT_EQ(outbox.LastSequence(), 0U);
  EXPECT_EQ(heard, 0);
  const storage::LmdbTransaction read = storage::LmdbTransaction::Read(env);
  EXPECT_EQ(read.Get(orders, "order-1"), std::nullopt);
  // The aborted sequence is a gap, never handed out again.
  EXPECT_GT(AppendAndWait(outbox, "id-2", "b"), aborted);
  EXPECT_EQ(outbox.Size(), 1U);
}

TEST(OutboxAppendInTransaction, SeveralAppendsInOneTransactionKeepTheirOrder) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};

  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  const auto first = outbox.Append(txn, {.message_id = "id-1", .body = "b1"});
  const auto second = outbox.Append(txn, {.message_id = "id-2", .body = "b2"});
  txn.Commit();

  EXPECT_EQ(second, first + 1);
  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[0].message_id, "id-1");
  EXPECT_EQ(entries[1].message_id, "id-2");
  EXPECT_EQ(outbox.LastSequence(), second);
}

TEST(OutboxAppendInTransaction, SequencesNeverGoBackAfterTheOutboxWasEmptied) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  const std::uint64_t first = AppendAndWait(outbox, "id-1", "b");
  RemoveNow(outbox, std::vector<std::uint64_t>{first});
  ASSERT_EQ(outbox.Size(), 0U);

  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  const std::uint64_t second = outbox.Append(txn, {.message_id = "id-2", .body = "b"});
  txn.Commit();

  // A relay that read up to `first` finds `second` after it.
  EXPECT_GT(second, first);
  EXPECT_EQ(outbox.Read(first, 10).size(), 1U);
}

TEST(OutboxAppendInTransaction, ATransactionOfAnotherEnvironmentOrAReadOneIsRefused) {
  const TempDir dir;
  const TempDir other_dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  storage::LmdbEnvironment other = OpenEnvironment(other_dir.path());
  Outbox outbox{env};

  storage::LmdbTransaction foreign = storage::LmdbTransaction::Write(other);
  EXPECT_THROW(static_cast<void>(outbox.Append(foreign, {.message_id = "id", .body = "b"})),
               std::invalid_argument);
  foreign.Commit();
  storage::LmdbTransaction read = storage::LmdbTransaction::Read(env);
  EXPECT_THROW(static_cast<void>(outbox.Append(read, {.message_id = "id", .body = "b"})),
               std::invalid_argument);
}

TEST(OutboxAppendInTransaction, AFailedAppendThrowsTheOutboxsStoreError) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  BreakOutboxAppends(env);

  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  try {
    static_cast<void>(outbox.Append(txn, {.message_id = "id", .body = "b"}));
    ADD_FAILURE() << "Append did not throw";
  } catch (const storage::StoreError& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith("outbox in " + dir.path().string() + ": "));
  }
}

TEST(OutboxAppendInTransaction, BothWaysInInterleavedKeepOrderAndUniqueSequences) {
  const TempDir dir;
  constexpr int kThreadsPerWay = 4;
  constexpr int kPerThread = 50;
  constexpr int kAppends = 2 * kThreadsPerWay * kPerThread;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  const storage::LmdbDatabase state = env.OpenDatabase("state");
  Outbox outbox{env};
  // What each thread got back, in the order it appended.
  std::vector<std::vector<std::uint64_t>> sequences(2 * kThreadsPerWay);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreadsPerWay; ++t) {
      threads.emplace_back([&outbox, &sequences, t] {
        for (int i = 0; i < kPerThread; ++i) {
          sequences[t].push_back(AppendAndWait(
              outbox, "async-" + std::to_string(t) + "-" + std::to_string(i), "async"));
        }
      });
      threads.emplace_back([&env, &state, &outbox, &sequences, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string id = "txn-" + std::to_string(t) + "-" + std::to_string(i);
          storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
          txn.Put(state, id, "done");
          sequences[kThreadsPerWay + t].push_back(
              outbox.Append(txn, {.message_id = id, .body = "txn"}));
          txn.Commit();
        }
      });
    }
  }

  const auto entries = outbox.Read(0, kAppends + 10);
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kAppends));
  std::set<std::string> ids;
  std::set<std::uint64_t> stored;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    ids.insert(entries[i].message_id);
    stored.insert(entries[i].sequence);
    if (i > 0) {
      EXPECT_LT(entries[i - 1].sequence, entries[i].sequence);
    }
  }
  EXPECT_EQ(ids.size(), entries.size());
  EXPECT_EQ(stored.size(), entries.size());
  for (const auto& per_thread : sequences) {
    // Each thread's appends are stored in the order it made them.
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    for (const auto sequence : per_thread) EXPECT_TRUE(stored.contains(sequence));
  }
  EXPECT_EQ(outbox.LastSequence(), *stored.rbegin());
  const storage::LmdbTransaction read = storage::LmdbTransaction::Read(env);
  EXPECT_EQ(read.Count(state), static_cast<std::size_t>(kThreadsPerWay * kPerThread));
}

}  // namespace
}  // namespace cppblog::outbox

namespace cppblog::outbox {
namespace {

// The gauges' test bodies carry the time they were made, in seconds since the epoch.
std::string BodyMadeAt(std::chrono::system_clock::time_point made) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(made.time_since_epoch()).count());
}

std::optional<std::chrono::system_clock::time_point> MadeAt(const OutboxEntry& entry) {
  return std::chrono::system_clock::time_point{std::chrono::seconds{std::stoll(entry.body)}};
}

TEST(OutboxMetrics, GaugesShowTheBacklogAndHistogramsTheCommits) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  metrics::Registry metrics;
  Outbox outbox{env, {.metrics = &metrics}};
  const OutboxGauges gauges{outbox, metrics, MadeAt};
  const auto now = std::chrono::system_clock::now();
  const auto old = AppendAndWait(outbox, "id-1", BodyMadeAt(now - std::chrono::seconds{60}));
  AppendAndWait(outbox, "id-2", BodyMadeAt(now));

  std::string text = metrics.Serialize();
  EXPECT_EQ(Sample(text, "cppblog_outbox_entries"), 2);
  EXPECT_GE(Sample(text, "cppblog_outbox_oldest_entry_age_seconds"), 60);
  EXPECT_LT(Sample(text, "cppblog_outbox_oldest_entry_age_seconds"), 120);
  EXPECT_EQ(Sample(text, "cppblog_outbox_commit_duration_seconds_count"), 2);
  EXPECT_EQ(Sample(text, "cppblog_outbox_commit_entries_sum"), 2);

  const std::uint64_t sequences[] = {old};
  RemoveNow(outbox, sequences);
  text = metrics.Serialize();
  EXPECT_EQ(Sample(text, "cppblog_outbox_entries"), 1);
  EXPECT_LT(Sample(text, "cppblog_outbox_oldest_entry_age_seconds"), 60);
}

TEST(OutboxMetrics, AnEmptyOutboxHasNoAge) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  metrics::Registry metrics;
  Outbox outbox{env, {.metrics = &metrics}};
  const OutboxGauges gauges{outbox, metrics, MadeAt};

  const std::string text = metrics.Serialize();

  EXPECT_EQ(Sample(text, "cppblog_outbox_entries"), 0);
  EXPECT_EQ(Sample(text, "cppblog_outbox_oldest_entry_age_seconds"), 0);
}

TEST(OutboxMetrics, WithoutAnEntryTimeThereIsNoAgeGauge) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  metrics::Registry metrics;
  Outbox outbox{env, {.metrics = &metrics}};
  const OutboxGauges gauges{outbox, metrics};
  static_cast<void>(AppendAndWait(outbox, "id-1", "not a time"));

  const std::string text = metrics.Serialize();

  EXPECT_EQ(Sample(text, "cppblog_outbox_entries"), 1);
  EXPECT_EQ(Sample(text, "cppblog_outbox_oldest_entry_age_seconds"), -1);
}

}  // namespace
}  // namespace cppblog::outbox
