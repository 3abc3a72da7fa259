#pragma once

#include <csignal>

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace cppblog {

/// For tests of a store that cannot write, without root: while it lives, this process may
/// write no regular file past its first byte (RLIMIT_FSIZE), so LMDB's commits fail with EFBIG
/// ("File too large") as they fail with ENOSPC on a full disk. SIGXFSZ is ignored meanwhile.
/// Pipes and terminals are not affected (the test's output still flows). Process-wide: use
/// in tests that run alone in their process (ctest runs each test so). Not thread-safe.
class FileWritesRefused {
 public:
  FileWritesRefused() {
    previous_signal_ = std::signal(SIGXFSZ, SIG_IGN);
    EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &previous_), 0);
    rlimit limit = previous_;
    limit.rlim_cur = 1;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileWritesRefused() { Lift(); }
  FileWritesRefused(const FileWritesRefused&) = delete;
  FileWritesRefused& operator=(const FileWritesRefused&) = delete;

  /// Writes work again.
  void Lift() {
    if (lifted_) return;
    lifted_ = true;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &previous_), 0);
    std::signal(SIGXFSZ, previous_signal_);
  }

 private:
  rlimit previous_{};
  void (*previous_signal_)(int) = SIG_DFL;
  bool lifted_ = false;
};

}  // namespace cppblog
