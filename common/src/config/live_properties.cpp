#include "cppblog/config/live_properties.hpp"

#include <exception>
#include <set>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

namespace cppblog::config {
namespace {

std::string_view BaseKey(std::string_view key) { return key.substr(0, key.find('[')); }

}  // namespace

std::vector<std::string> ChangedKeys(const Properties& before, const Properties& after) {
  std::set<std::string, std::less<>> changed;
  const auto& old_values = before.All();
  const auto& new_values = after.All();
  for (const auto& [key, value] : old_values) {
    const auto* next = after.Find(key);
    if (next == nullptr || next->text != value.text) {
      changed.emplace(BaseKey(key));
    }
  }
  for (const auto& [key, value] : new_values) {
    if (!old_values.contains(key)) {
      changed.emplace(BaseKey(key));
    }
  }
  return {changed.begin(), changed.end()};
}

LiveProperties::LiveProperties(Properties initial)
    : current_(std::make_shared<const Properties>(std::move(initial))) {}

PropertiesSnapshot LiveProperties::Get() const {
  const std::lock_guard lock{mutex_};
  return current_;
}

void LiveProperties::OnChange(ChangeCallback callback) {
  const std::lock_guard lock{replace_mutex_};
  callbacks_.push_back(std::move(callback));
}

std::vector<std::string> LiveProperties::Replace(Properties next) {
  const std::lock_guard replacing{replace_mutex_};
  const PropertiesSnapshot before = Get();
  std::vector<std::string> changed = ChangedKeys(*before, next);
  if (changed.empty()) {
    return changed;
  }
  auto snapshot = std::make_shared<const Properties>(std::move(next));
  {
    const std::lock_guard lock{mutex_};
    current_ = snapshot;
  }
  for (const ChangeCallback& callback : callbacks_) {
    try {
      callback(snapshot, changed);
    } catch (const std::exception& e) {
      spdlog::error("configuration: a change callback failed: {}", e.what());
    }
  }
  return changed;
}

}  // namespace cppblog::config
