#include "cppblog/health/health_registry.hpp"

#include <future>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace cppblog::health {
namespace {

TEST(HealthRegistry, EmptyRegistryIsHealthy) {
  const HealthRegistry registry;

  const HealthReport report = registry.Run();

  EXPECT_TRUE(report.healthy);
  EXPECT_TRUE(report.checks.empty());
}

TEST(HealthRegistry, ReportsEveryCheckInRegistrationOrder) {
  HealthRegistry registry;
  registry.Add("store", [] { return true; });
  registry.Add("broker", [] { return CheckResult{.healthy = true, .detail = "connected"}; });

  const HealthReport report = registry.Run();

  EXPECT_TRUE(report.healthy);
  ASSERT_EQ(report.checks.size(), 2U);
  EXPECT_EQ(report.checks[0].first, "store");
  EXPECT_EQ(report.checks[1].first, "broker");
  EXPECT_EQ(report.checks[1].second.detail, "connected");
}

TEST(HealthRegistry, OneFailingCheckMakesReportUnhealthy) {
  HealthRegistry registry;
  registry.Add("store", [] { return true; });
  registry.Add("broker", [] { return CheckResult{.healthy = false, .detail = "recovering"}; });

  const HealthReport report = registry.Run();

  EXPECT_FALSE(report.healthy);
  EXPECT_TRUE(report.checks[0].second.healthy);
  EXPECT_FALSE(report.checks[1].second.healthy);
}

TEST(HealthRegistry, ThrowingCheckIsUnhealthyWithItsMessage) {
  HealthRegistry registry;
  registry.Add("store", []() -> bool { throw std::runtime_error("lmdb: environment closed"); });

  const HealthReport report = registry.Run();

  EXPECT_FALSE(report.healthy);
  ASSERT_EQ(report.checks.size(), 1U);
  EXPECT_FALSE(report.checks[0].second.healthy);
  EXPECT_EQ(report.checks[0].second.detail, "lmdb: environment closed");
}

TEST(HealthRegistry, ChecksRunEachTime) {
  HealthRegistry registry;
  HealthSwitch health_switch;
  registry.Add("switch", [&health_switch] { return health_switch.IsHealthy(); });

  EXPECT_TRUE(registry.Run().healthy);
  health_switch.Set(false);
  EXPECT_FALSE(registry.Run().healthy);
  health_switch.Set(true);
  EXPECT_TRUE(registry.Run().healthy);
}

TEST(HealthRegistry, CheckMayAddToRegistryWithoutDeadlock) {
  HealthRegistry registry;
  registry.Add("adder", [&registry] {
    registry.Add("late", [] { return true; });
    return true;
  });

  auto run = std::async(std::launch::async, [&registry] { return registry.Run(); });

  ASSERT_EQ(run.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(run.get().checks.size(), 1U);
  EXPECT_EQ(registry.Run().checks.size(), 2U);
}

TEST(HealthSwitch, StartsHealthy) {
  const HealthSwitch health_switch;

  EXPECT_TRUE(health_switch.IsHealthy());
}

}  // namespace
}  // namespace cppblog::health
