#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace cppblog::config {

/// Source of the lowest configuration layer, a service's built-in defaults.
inline constexpr const char* kDefaultSource = "default";

/// Typed values written as text that Properties' getters read back as the same value. A
/// service's built-in defaults are written once, as the member initializers of its `Settings`;
/// its `Settings::Defaults()` writes a default-constructed `Settings` with these (as
/// web::ServerDefaults writes ServerOptions{}).

/// "true" or "false" (GetBool).
[[nodiscard]] inline std::string BoolText(bool value) { return value ? "true" : "false"; }

/// The duration in its largest whole unit (GetDuration): "7d", "5m", "30s", "300ms"; "0s" for 0.
[[nodiscard]] inline std::string DurationText(std::chrono::milliseconds duration) {
  constexpr std::array<std::pair<std::int64_t, const char*>, 4> kUnits{{
      {86'400'000, "d"},
      {3'600'000, "h"},
      {60'000, "m"},
      {1'000, "s"},
  }};
  const std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  for (const auto& [unit_ms, suffix] : kUnits) {
    if (ms % unit_ms == 0) return std::to_string(ms / unit_ms) + suffix;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace cppblog::config
