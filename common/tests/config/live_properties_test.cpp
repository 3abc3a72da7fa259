#include "cppblog/config/live_properties.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace cppblog::config {
namespace {

Properties With(std::initializer_list<std::pair<std::string, std::string>> values,
                const std::string& source = "test") {
  Properties properties;
  for (const auto& [key, text] : values) {
    properties.Set(key, text, source);
  }
  return properties;
}

TEST(LiveProperties, ChangedKeysNamesAddedRemovedAndChangedKeys) {
  const Properties before = With({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  const Properties after = With({{"a", "1"}, {"b", "20"}, {"d", "4"}});

  EXPECT_EQ(ChangedKeys(before, after), (std::vector<std::string>{"b", "c", "d"}));
}

TEST(LiveProperties, ChangedKeysIgnoresAChangeOfSourceAlone) {
  EXPECT_TRUE(
      ChangedKeys(With({{"a", "1"}}, "x.yml"), With({{"a", "1"}}, "configserver y")).empty());
}

TEST(LiveProperties, ChangedKeysNamesAListByItsBaseName) {
  const Properties before = With({{"vip_accounts[0]", "10000"}});
  const Properties after = With({{"vip_accounts[0]", "10000"}, {"vip_accounts[1]", "10001"}});

  EXPECT_EQ(ChangedKeys(before, after), std::vector<std::string>{"vip_accounts"});
}

TEST(LiveProperties, ReplaceSwapsTheSnapshotAndCallsBack) {
  LiveProperties live(With({{"log_level", "info"}}));
  const PropertiesSnapshot old_snapshot = live.Get();
  std::vector<std::string> seen_changes;
  std::string seen_level;
  live.OnChange([&](const PropertiesSnapshot& now, const std::vector<std::string>& changed) {
    seen_changes = changed;
    seen_level = now->GetString("log_level");
  });

  const auto changed = live.Replace(With({{"log_level", "debug"}}));

  EXPECT_EQ(changed, std::vector<std::string>{"log_level"});
  EXPECT_EQ(seen_changes, std::vector<std::string>{"log_level"});
  EXPECT_EQ(seen_level, "debug");
  EXPECT_EQ(live.Get()->GetString("log_level"), "debug");
  EXPECT_EQ(old_snapshot->GetString("log_level"), "info");  // readers keep what they hold
}

TEST(LiveProperties, ReplaceWithoutChangesKeepsTheSnapshotAndCallsNobody) {
  LiveProperties live(With({{"a", "1"}}));
  const PropertiesSnapshot before = live.Get();
  int calls = 0;
  live.OnChange([&](const PropertiesSnapshot&, const std::vector<std::string>&) { ++calls; });

  EXPECT_TRUE(live.Replace(With({{"a", "1"}}, "elsewhere")).empty());

  EXPECT_EQ(calls, 0);
  EXPECT_EQ(live.Get(), before);
}

TEST(LiveProperties, AThrowingCallbackDoesNotStopTheOthers) {
  LiveProperties live(With({{"a", "1"}}));
  bool second_called = false;
  live.OnChange([](const PropertiesSnapshot&, const std::vector<std::string>&) {
    throw std::runtime_error("boom");
  });
  live.OnChange(
      [&](const PropertiesSnapshot&, const std::vector<std::string>&) { second_called = true; });

  (void)live.Replace(With({{"a", "2"}}));

  EXPECT_TRUE(second_called);
  EXPECT_EQ(live.Get()->GetString("a"), "2");
}

// Readers always see a whole snapshot: both keys from the same Replace.
TEST(LiveProperties, ReadersNeverSeeHalfARefresh) {
  LiveProperties live(With({{"x", "0"}, {"y", "0"}}));
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const PropertiesSnapshot snapshot = live.Get();
      if (snapshot->GetString("x") != snapshot->GetString("y")) {
        ++torn;
      }
    }
  });
  for (int i = 1; i <= 2000; ++i) {
    (void)live.Replace(With({{"x", std::to_string(i)}, {"y", std::to_string(i)}}));
  }
  stop = true;
  reader.join();

  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(live.Get()->GetString("x"), "2000");
}

}  // namespace
}  // namespace cppblog::config
