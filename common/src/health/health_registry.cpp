#include "cppblog/health/health_registry.hpp"

#include <exception>
#include <utility>

namespace cppblog::health {

void HealthRegistry::Add(std::string name, Check check) {
  const std::lock_guard lock(mutex_);
  checks_.emplace_back(std::move(name), std::move(check));
}

void HealthRegistry::Add(std::string name, std::function<bool()> check) {
  Add(std::move(name),
      Check([check = std::move(check)] { return CheckResult{.healthy = check(), .detail = {}}; }));
}

HealthReport HealthRegistry::Run() const {
  // Copy the checks so that a slow check never blocks Add() or another Run().
  std::vector<std::pair<std::string, Check>> checks;
  {
    const std::lock_guard lock(mutex_);
    checks = checks_;
  }
  HealthReport report;
  report.checks.reserve(checks.size());
  for (auto& [name, check] : checks) {
    CheckResult result;
    try {
      result = check();
    } catch (const std::exception& e) {
      result = {.healthy = false, .detail = e.what()};
    } catch (...) {
      result = {.healthy = false, .detail = "check failed with an exception of unknown type"};
    }
    report.healthy = report.healthy && result.healthy;
    report.checks.emplace_back(std::move(name), std::move(result));
  }
  return report;
}

}  // namespace cppblog::health
