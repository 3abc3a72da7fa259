#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cppblog::messaging {

/// Up to `max_threads` threads running tasks in submission order. Threads start on demand: one
/// at construction, another whenever a task is queued and no thread is free, so an idle service
/// holds one thread (and its stack) instead of the maximum. They then stay until Stop. The queue
/// is bounded by its producers (deliveries never exceed the prefetch counts). Thread-safe.
class WorkerPool {
 public:
  using Task = std::function<void()>;

  explicit WorkerPool(std::size_t max_threads);
  /// Stop(): tasks not yet started are dropped.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Appends all of `tasks` (emptied) under one lock.
  void Submit(std::vector<Task>& tasks);
  /// True once no task is queued or running; false at the deadline.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  void Stop();

  /// Threads started so far: for tests and metrics.
  [[nodiscard]] std::size_t Threads();

 private:
  void Run();
  // With mutex_ held: starts threads for the queued tasks that no free thread will take.
  void GrowLocked();

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Task> tasks_;
  std::size_t max_threads_;
  std::size_t running_ = 0;
  std::size_t waiting_ = 0;  // threads free for a task (started, not running one)
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cppblog::messaging
