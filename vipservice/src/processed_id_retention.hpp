#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

#include "offer_store.hpp"

namespace cppblog::vip {

/// Deletes the processed message ids older than the retention from an offer store, in the
/// background: a sweep when constructed, then one every `interval`. A failed sweep (the store
/// unreachable) is logged and tried again at the next. Every instance sharing a store sweeps it;
/// the stores make that safe. The destructor stops the thread (waiting for a sweep in progress).
/// The store must outlive this object.
class ProcessedIdRetention {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  struct Options {
    /// Ids processed longer ago than this are deleted.
    std::chrono::milliseconds retention;
    /// Time between sweeps; zero: DefaultInterval(retention).
    std::chrono::milliseconds interval{0};
    Clock clock = [] { return std::chrono::system_clock::now(); };
  };

  /// A 48th of the retention, between 1 s and 1 h: an id outlives the retention by about 2 %.
  [[nodiscard]] static std::chrono::milliseconds DefaultInterval(
      std::chrono::milliseconds retention);

  ProcessedIdRetention(OfferStore& store, Options options);
  ~ProcessedIdRetention();
  ProcessedIdRetention(const ProcessedIdRetention&) = delete;
  ProcessedIdRetention& operator=(const ProcessedIdRetention&) = delete;

  /// One sweep on the caller's thread; returns how many ids it deleted. Throws StoreError.
  std::size_t SweepOnce();

 private:
  OfferStore& store_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started once everything it uses is constructed
};

}  // namespace cppblog::vip
