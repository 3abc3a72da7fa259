#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace cppblog::metrics {

/// The handles code updates on its hot paths: a relaxed atomic add or store, no lock, no
/// allocation, no lookup. They are created by a Registry (which serializes them for
/// Prometheus) and live as long as it does; keep a reference, resolved once.
///
/// A disabled Registry (metrics_enabled=false) hands out *inert* instruments instead: one of
/// each type, shared by every caller, whose updates are a predictable branch that writes
/// nothing, and whose values stay 0. Code that updates them need not know which it holds.

class Registry;

/// A monotonically increasing count. Thread-safe.
class Counter {
 public:
  Counter() = default;

  void Increment(std::uint64_t by = 1) noexcept {
    if (live_) value_.fetch_add(by, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t Value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  friend class Registry;
  struct Inert {};
  explicit Counter(Inert) noexcept : live_(false) {}

  std::atomic<std::uint64_t> value_{0};
  bool live_ = true;
};

/// A value that goes up and down. Thread-safe.
class Gauge {
 public:
  Gauge() = default;

  void Set(double value) noexcept {
    if (live_) value_.store(value, std::memory_order_relaxed);
  }
  void Add(double by) noexcept {
    if (!live_) return;
    double old = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(old, old + by, std::memory_order_relaxed)) {
    }
  }
  [[nodiscard]] double Value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  struct Inert {};
  explicit Gauge(Inert) noexcept : live_(false) {}

  std::atomic<double> value_{0.0};
  bool live_ = true;
};

/// Counts of observations per bucket (upper bounds, ascending; +Inf is implicit) and their sum.
/// Observe is lock-free: one bucket increment and one add to the sum. A scrape that runs
/// concurrently may see the two a moment apart, which Prometheus tolerates. Thread-safe.
class Histogram {
 public:
  /// `bounds` must be ascending; the Registry checks that.
  explicit Histogram(std::span<const double> bounds)
      : bounds_(bounds.begin(), bounds.end()),
        counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}

  void Observe(double value) noexcept {
    if (counts_ == nullptr) return;  // inert
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    double old = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
    }
  }

  [[nodiscard]] const std::vector<double>& Bounds() const noexcept { return bounds_; }
  /// Observations in bucket `i` alone (not cumulative); i == Bounds().size() is +Inf.
  [[nodiscard]] std::uint64_t BucketCount(std::size_t i) const noexcept {
    return counts_ != nullptr ? counts_[i].load(std::memory_order_relaxed) : 0;
  }
  [[nodiscard]] std::uint64_t Count() const noexcept {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) total += BucketCount(i);
    return total;
  }
  [[nodiscard]] double Sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  struct Inert {};
  explicit Histogram(Inert) noexcept {}  // no buckets, no counts: Observe returns at once

  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // null: inert
  std::atomic<double> sum_{0.0};
};

/// Bucket bounds for durations in seconds, from 0.5 ms (a plain read, a confirm on a quiet
/// broker) to 10 s: OpenTelemetry's defaults for HTTP and messaging plus finer ones below 5 ms.
inline constexpr double kDurationBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};

}  // namespace cppblog::metrics
