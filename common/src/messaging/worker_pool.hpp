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

/// A fixed set of threads running tasks in submission order. The queue is bounded by its
/// producers (deliveries never exceed the prefetch counts). Thread-safe.
class WorkerPool {
 public:
  using Task = std::function<void()>;

  explicit WorkerPool(std::size_t threads);
  /// Stop(): tasks not yet started are dropped.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Appends all of `tasks` (emptied) under one lock.
  void Submit(std::vector<Task>& tasks);
  /// True once no task is queued or running; false at the deadline.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  void Stop();

 private:
  void Run();

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Task> tasks_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cppblog::messaging
