#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace cppblog::inbox {

/// Deletes the processed message ids older than the retention from an inbox, in the background:
/// a sweep when constructed, then one every `interval`. A failed sweep (the store unreachable) is
/// logged and tried again at the next. Every process sharing a store may sweep it; the inboxes
/// make that safe (LmdbInbox, PgInbox). The destructor stops the thread (waiting for a sweep in
/// progress). What `delete_before` uses must outlive this object.
class ProcessedIdRetention {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using Clock = std::function<TimePoint()>;
  /// Deletes the ids processed before the cutoff and returns how many: an inbox's
  /// DeleteProcessedBefore. Throws on a failure (logged, then tried again at the next sweep).
  using DeleteBefore = std::function<std::size_t(TimePoint cutoff)>;

  struct Options {
    /// Ids processed longer ago than this are deleted.
    std::chrono::milliseconds retention;
    /// Time between sweeps; zero: DefaultInterval(retention).
    std::chrono::milliseconds interval{0};
    Clock clock = [] { return std::chrono::system_clock::now(); };
    /// Names the inbox in the log lines ("offer store").
    std::string name = "inbox";
  };

  /// A 48th of the retention, between 1 s and 1 h: an id outlives the retention by about 2 %.
  [[nodiscard]] static std::chrono::milliseconds DefaultInterval(
      std::chrono::milliseconds retention);

  ProcessedIdRetention(DeleteBefore delete_before, Options options);
  ~ProcessedIdRetention();
  ProcessedIdRetention(const ProcessedIdRetention&) = delete;
  ProcessedIdRetention& operator=(const ProcessedIdRetention&) = delete;

  /// One sweep on the caller's thread; returns how many ids it deleted. Throws what
  /// `delete_before` throws.
  std::size_t SweepOnce();

 private:
  DeleteBefore delete_before_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started once everything it uses is constructed
};

}  // namespace cppblog::inbox
