#include "worker_pool.hpp"

#include <algorithm>

namespace cppblog::messaging {

WorkerPool::WorkerPool(std::size_t threads) {
  threads = std::max<std::size_t>(1, threads);
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Submit(std::vector<Task>& tasks) {
  if (tasks.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (Task& task : tasks) tasks_.push_back(std::move(task));
  }
  tasks.size() == 1 ? work_cv_.notify_one() : work_cv_.notify_all();
  tasks.clear();
}

bool WorkerPool::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_cv_.wait_until(lock, deadline, [this] { return tasks_.empty() && running_ == 0; });
}

void WorkerPool::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    tasks_.clear();
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (stopping_) return;
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    ++running_;
    lock.unlock();
    task();  // tasks catch their own exceptions
    task = nullptr;
    lock.lock();
    --running_;
    if (tasks_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace cppblog::messaging
