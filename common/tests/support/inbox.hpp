#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "cppblog/messaging/message.hpp"

namespace cppblog::messaging {

/// Collects delivered messages across handler threads; tests wait on it with a deadline.
/// The recorded messages live in shared state that every Recorder() holds, so a delivery that
/// arrives after the Inbox is gone (the client that calls the recorder is still running) lands
/// in that state instead of in freed memory.
class Inbox {
 public:
  void Add(const Message& message) { state_->Add(message); }

  /// A handler that records and acks.
  auto Recorder() {
    return [state = state_](const Message& message) {
      state->Add(message);
      return Outcome::kAck;
    };
  }

  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    std::unique_lock lock(state_->mutex);
    return state_->cv.wait_for(lock, timeout, [&] { return state_->messages.size() >= count; });
  }

  std::vector<Message> Messages() const {
    std::lock_guard lock(state_->mutex);
    return state_->messages;
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Message> messages;

    void Add(const Message& message) {
      {
        std::lock_guard lock(mutex);
        messages.push_back(message);
      }
      cv.notify_all();
    }
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace cppblog::messaging
