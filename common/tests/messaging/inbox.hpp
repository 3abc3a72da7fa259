#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "cppblog/messaging/message.hpp"

namespace cppblog::messaging {

/// Collects delivered messages across handler threads; tests wait on it with a deadline.
class Inbox {
 public:
  void Add(const Message& message) {
    {
      std::lock_guard lock(mutex_);
      messages_.push_back(message);
    }
    cv_.notify_all();
  }

  /// A handler that records and acks.
  auto Recorder() {
    return [this](const Message& message) {
      Add(message);
      return Outcome::kAck;
    };
  }

  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
  }

  std::vector<Message> Messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
};

}  // namespace cppblog::messaging
