#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cppblog::health {

/// One check's result; `detail` is optional extra state ("recovering") shown in /health.
struct CheckResult {
  bool healthy = true;
  std::string detail;
};

struct HealthReport {
  bool healthy = true;
  std::vector<std::pair<std::string, CheckResult>> checks;  // in registration order
};

/// Named health checks behind /health. Add checks while wiring; Run() is
/// thread-safe and may run concurrently with Add(). Checks run on the caller's
/// thread, without the registry's lock held, so a check may be slow or re-enter.
/// Independent of web: each service maps a HealthReport to its own HTTP body.
class HealthRegistry {
 public:
  using Check = std::function<CheckResult()>;

  void Add(std::string name, Check check);
  /// A check that only says up or down.
  void Add(std::string name, std::function<bool()> check);

  /// Runs every check; a check that throws counts as unhealthy with the exception's message.
  [[nodiscard]] HealthReport Run() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, Check>> checks_;
};

/// The contract's /testability/healthy/{state} flag, as an object owned by main.
class HealthSwitch {
 public:
  void Set(bool healthy) noexcept { healthy_.store(healthy, std::memory_order_relaxed); }
  [[nodiscard]] bool IsHealthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> healthy_{true};
};

}  // namespace cppblog::health
