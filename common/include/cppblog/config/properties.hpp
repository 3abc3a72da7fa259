#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cppblog::config {

/// One value and where it came from ("default", "config/accountservice-test.yml",
/// "environment SERVER_PORT", "flag --set", "configserver <source name>").
struct PropertyValue {
  std::string text;
  std::string source;

  friend bool operator==(const PropertyValue&, const PropertyValue&) = default;
};

/// Flat configuration: keys as in the config repository ("server_port"), nested
/// YAML maps flattened to dotted keys ("a.b"), list items to "key[0]", "key[1]" (as Spring).
/// A value object: copy it, compare it; const member functions may be called from
/// any number of threads. Typed getters throw ConfigError naming key, value and
/// source when a value is missing or does not parse.
class Properties {
 public:
  /// Sets or overrides one key (no list semantics: use OverrideWith for layering).
  void Set(std::string key, std::string text, std::string source);
  /// Overrides this with every key of `higher`. A list in `higher` replaces the whole
  /// list here (Spring semantics), it is not merged item by item: when `higher` has
  /// "k" or "k[i]…", every "k" and "k[j]…" of this is removed first. Maps merge key by key.
  void OverrideWith(const Properties& higher);

  /// True when `key` is set as a value, or as a list ("key[0]…").
  [[nodiscard]] bool Has(std::string_view key) const;
  /// The value of exactly `key`, or nullptr.
  [[nodiscard]] const PropertyValue* Find(std::string_view key) const;
  [[nodiscard]] const std::map<std::string, PropertyValue, std::less<>>& All() const {
    return values_;
  }

  /// The text as it is. Throws ConfigError "<key> is not set …" when missing (also for
  /// the getters below).
  [[nodiscard]] std::string GetString(std::string_view key) const;
  /// 1..65535.
  [[nodiscard]] std::uint16_t GetPort(std::string_view key) const;
  /// A decimal integer in [min, max].
  [[nodiscard]] std::int64_t GetInt(std::string_view key, std::int64_t min, std::int64_t max) const;
  /// true/false (also yes/no, on/off, 1/0), case-insensitive.
  [[nodiscard]] bool GetBool(std::string_view key) const;
  /// An IPv4 ("0.0.0.0", "127.0.0.1") or IPv6 ("::", "::1") address in numeric form, trimmed;
  /// a host name is rejected (the error says to give an address).
  [[nodiscard]] std::string GetIpAddress(std::string_view key) const;
  /// A level logging::SetLevel takes (logging::IsLevel), as written; else the error names
  /// key, value, source and the levels: "log_level: 'verbose' (from environment LOG_LEVEL)
  /// is not a log level (one of trace, debug, …)".
  [[nodiscard]] std::string GetLogLevel(std::string_view key) const;
  /// "250ms", "10s", "5m", "24h", "1d", or a bare integer of seconds; 0 is allowed,
  /// negative values are rejected.
  [[nodiscard]] std::chrono::milliseconds GetDuration(std::string_view key) const;
  /// A YAML list (key[0], key[1], … of scalars) or a comma-separated scalar
  /// ("10000, 10001"); items are trimmed, empty items dropped; "" is the empty list.
  [[nodiscard]] std::vector<std::string> GetList(std::string_view key) const;

  friend bool operator==(const Properties&, const Properties&) = default;

 private:
  [[nodiscard]] const PropertyValue& Require(std::string_view key) const;

  std::map<std::string, PropertyValue, std::less<>> values_;
};

}  // namespace cppblog::config
