#pragma once

#include <exception>
#include <functional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace cppblog {

/// For tests that take down what every test shares (the test broker, the PostgreSQL server of
/// `./dev test`): `stop` runs in the constructor, `start` in End() or at the latest in the
/// destructor, so that a failing test leaves it running for the next ones; a `start` that fails
/// in the destructor is a test failure naming `what`. A suite using one must run alone
/// (RUN_SERIAL): every other test's server is gone meanwhile.
class ScopedOutage {
 public:
  ScopedOutage(std::string what, const std::function<void()>& stop, std::function<void()> start)
      : what_(std::move(what)), start_(std::move(start)) {
    stop();
  }
  ~ScopedOutage() {
    try {
      End();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not start " << what_ << " again: " << e.what();
    }
  }
  ScopedOutage(const ScopedOutage&) = delete;
  ScopedOutage& operator=(const ScopedOutage&) = delete;

  /// Starts it again (once); throws what `start` throws, and the destructor tries again.
  void End() {
    if (ended_) return;
    start_();
    ended_ = true;
  }

 private:
  std::string what_;
  std::function<void()> start_;
  bool ended_ = false;
};

}  // namespace cppblog
