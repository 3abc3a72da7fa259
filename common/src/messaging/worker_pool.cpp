#include "worker_pool.hpp"

#include <algorithm>
#include <utility>

namespace cppblog::messaging {

WorkerPool::WorkerPool(std::size_t max_threads)
    : max_threads_(std::max<std::size_t>(1, max_threads)) {
  const std::lock_guard lock(mutex_);
  threads_.reserve(max_threads_);
  ++waiting_;  // counted free from the start, so that Submit does not start a second at once
  threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Submit(std::vector<Task>& tasks) {
  if (tasks.empty()) return;
  {
    const std::lock_guard lock(mutex_);
    for (Task& task : tasks) tasks_.push_back(std::move(task));
    GrowLocked();
  }
  tasks.size() == 1 ? work_cv_.notify_one() : work_cv_.notify_all();
  tasks.clear();
}

void WorkerPool::GrowLocked() {
  if (stopping_) return;
  while (tasks_.size() > waiting_ && threads_.size() < max_threads_) {
    ++waiting_;
    threads_.emplace_back([this] { Run(); });
  }
}

bool WorkerPool::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_cv_.wait_until(lock, deadline, [this] { return tasks_.empty() && running_ == 0; });
}

void WorkerPool::Stop() {
  std::vector<std::thread> threads;
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    tasks_.clear();
    threads.swap(threads_);  // no thread starts once stopping_ is set
  }
  work_cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

std::size_t WorkerPool::Threads() {
  const std::lock_guard lock(mutex_);
  return threads_.size();
}

void WorkerPool::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // waiting_ counts this thread as free from its start and whenever it finished a task.
    work_cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (stopping_) return;
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    --waiting_;
    ++running_;
    lock.unlock();
    task();  // tasks catch their own exceptions
    task = nullptr;
    lock.lock();
    --running_;
    ++waiting_;
    if (tasks_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace cppblog::messaging
