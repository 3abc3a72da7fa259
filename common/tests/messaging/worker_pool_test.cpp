// The handler pool starts threads on demand, never more than its maximum, and runs every task.
#include "messaging/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace cppblog::messaging {
namespace {

using std::chrono::steady_clock;
using namespace std::chrono_literals;

// Holds every task that enters until Release.
class Gate {
 public:
  void Enter() {
    std::unique_lock lock{mutex_};
    ++inside_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool WaitInside(std::size_t count) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 10s, [&] { return inside_ >= count; });
  }
  void Release() {
    const std::lock_guard lock{mutex_};
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t inside_ = 0;
  bool open_ = false;
};

std::vector<WorkerPool::Task> Tasks(std::size_t count, const WorkerPool::Task& task) {
  return std::vector<WorkerPool::Task>(count, task);
}

TEST(AmqpWorkerPool, StartsWithOneThreadAndKeepsOneForSequentialTasks) {
  WorkerPool pool{16};
  EXPECT_EQ(pool.Threads(), 1U);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    auto tasks = Tasks(1, [&] { ++ran; });
    pool.Submit(tasks);
    ASSERT_TRUE(pool.WaitIdle(steady_clock::now() + 10s));
  }
  EXPECT_EQ(ran.load(), 50);
  EXPECT_EQ(pool.Threads(), 1U);  // each task found the one thread free
}

TEST(AmqpWorkerPool, GrowsToRunBlockedTasksAtOnceUpToItsMaximum) {
  WorkerPool pool{4};
  Gate gate;
  std::atomic<int> ran{0};
  auto tasks = Tasks(6, [&] {
    gate.Enter();
    ++ran;
  });
  pool.Submit(tasks);
  ASSERT_TRUE(gate.WaitInside(4));  // four at once: the pool grew from one
  EXPECT_EQ(pool.Threads(), 4U);    // and not beyond its maximum for the other two
  gate.Release();
  ASSERT_TRUE(pool.WaitIdle(steady_clock::now() + 10s));
  EXPECT_EQ(ran.load(), 6);
  EXPECT_EQ(pool.Threads(), 4U);
}

TEST(AmqpWorkerPool, GrowsForATaskSubmittedWhileTheOnlyThreadIsBusy) {
  WorkerPool pool{2};
  Gate gate;
  auto first = Tasks(1, [&] { gate.Enter(); });
  pool.Submit(first);
  ASSERT_TRUE(gate.WaitInside(1));
  auto second = Tasks(1, [&] { gate.Enter(); });
  pool.Submit(second);
  EXPECT_TRUE(gate.WaitInside(2));  // ran beside the first, on a second thread
  EXPECT_EQ(pool.Threads(), 2U);
  gate.Release();
  EXPECT_TRUE(pool.WaitIdle(steady_clock::now() + 10s));
}

TEST(AmqpWorkerPool, StopDropsQueuedTasksAndJoinsEveryThread) {
  std::atomic<int> ran{0};
  Gate gate;
  {
    WorkerPool pool{1};
    auto tasks = Tasks(3, [&] {
      gate.Enter();
      ++ran;
    });
    pool.Submit(tasks);
    ASSERT_TRUE(gate.WaitInside(1));
    gate.Release();
    pool.Stop();
    EXPECT_EQ(pool.Threads(), 0U);
    auto late = Tasks(1, [&] { ++ran; });
    pool.Submit(late);  // after Stop: queued, never run, no thread started
    EXPECT_EQ(pool.Threads(), 0U);
  }
  EXPECT_GE(ran.load(), 1);  // the one running finished; the others may have been dropped
  EXPECT_LE(ran.load(), 3);
}

}  // namespace
}  // namespace cppblog::messaging
