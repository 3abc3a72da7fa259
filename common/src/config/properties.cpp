#include "cppblog/config/properties.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/loader.hpp"
#include "cppblog/logging/logging.hpp"
#include "cppblog/text/redact.hpp"

#include "config/display.hpp"

namespace cppblog::config {
namespace {

constexpr std::size_t kMaxDisplayedValue = 80;

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view Trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// "k", "k[0]", "k[0].x" → "k": a higher layer naming any of them replaces the whole list.
std::string_view ListBase(std::string_view key) { return key.substr(0, key.find('[')); }

[[noreturn]] void ThrowBadValue(std::string_view key, const PropertyValue& value,
                                std::string_view what) {
  throw ConfigError(
      fmt::format("{}: '{}' (from {}) {}", key, DisplayValue(key, value.text), value.source, what));
}

// Parses an optionally signed decimal integer that fills the whole of `text`.
std::optional<std::int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  std::int64_t number = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return number;
}

}  // namespace

std::string DisplayValue(std::string_view key, std::string_view text) {
  const std::string lower_key = Lower(key);
  for (const std::string_view secret : {"password", "secret", "token", "credential"}) {
    if (lower_key.find(secret) != std::string::npos) {
      return "***";
    }
  }
  std::string shown = text::MaskUrlCredentials(text);
  if (shown.size() > kMaxDisplayedValue) {
    shown.resize(kMaxDisplayedValue);
    shown += "…";
  }
  return shown;
}

void Properties::Set(std::string key, std::string text, std::string source) {
  values_.insert_or_assign(std::move(key), PropertyValue{std::move(text), std::move(source)});
}

void Properties::OverrideWith(const Properties& higher) {
  std::set<std::string_view> bases;
  for (const auto& [key, value] : higher.values_) {
    bases.insert(ListBase(key));
  }
  for (const std::string_view base : bases) {
    values_.erase(std::string(base));
    const std::string list_prefix = std::string(base) + "[";
    auto it = values_.lower_bound(list_prefix);
    while (it != values_.end() && it->first.starts_with(list_prefix)) {
      it = values_.erase(it);
    }
  }
  for (const auto& [key, value] : higher.values_) {
    values_.insert_or_assign(key, value);
  }
}

bool Properties::Has(std::string_view key) const {
  if (values_.contains(key)) {
    return true;
  }
  const std::string list_prefix = std::string(key) + "[";
  const auto it = values_.lower_bound(list_prefix);
  return it != values_.end() && it->first.starts_with(list_prefix);
}

const PropertyValue* Properties::Find(std::string_view key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const PropertyValue& Properties::Require(std::string_view key) const {
  if (const auto* value = Find(key)) {
    return *value;
  }
  throw ConfigError(fmt::format(
      "{} is not set: add it to a configuration file, set {} in the environment or pass "
      "--set {}=<value>",
      key, EnvironmentVariableName(ListBase(key)), key));
}

std::string Properties::GetString(std::string_view key) const { return Require(key).text; }

std::uint16_t Properties::GetPort(std::string_view key) const {
  const PropertyValue& value = Require(key);
  const auto number = ParseInt(value.text);
  if (!number || *number < 1 || *number > std::numeric_limits<std::uint16_t>::max()) {
    ThrowBadValue(key, value, "is not a port number (1-65535)");
  }
  return static_cast<std::uint16_t>(*number);
}

std::int64_t Properties::GetInt(std::string_view key, std::int64_t min, std::int64_t max) const {
  const PropertyValue& value = Require(key);
  const auto number = ParseInt(value.text);
  if (!number || *number < min || *number > max) {
    ThrowBadValue(key, value, fmt::format("is not an integer between {} and {}", min, max));
  }
  return *number;
}

bool Properties::GetBool(std::string_view key) const {
  const PropertyValue& value = Require(key);
  const std::string text = Lower(Trim(value.text));
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    return true;
  }
  if (text == "false" || text == "no" || text == "off" || text == "0") {
    return false;
  }
  ThrowBadValue(key, value, "is not a boolean (true/false, yes/no, on/off, 1/0)");
}

std::string Properties::GetLogLevel(std::string_view key) const {
  const PropertyValue& value = Require(key);
  if (!logging::IsLevel(value.text)) {
    ThrowBadValue(key, value, fmt::format("is not a log level (one of {})", logging::kLevelNames));
  }
  return value.text;
}

std::string Properties::GetIpAddress(std::string_view key) const {
  const PropertyValue& value = Require(key);
  std::string address(Trim(value.text));
  std::array<unsigned char, sizeof(in6_addr)> parsed{};
  if (::inet_pton(AF_INET, address.c_str(), parsed.data()) != 1 &&
      ::inet_pton(AF_INET6, address.c_str(), parsed.data()) != 1) {
    ThrowBadValue(key, value,
                  "is not an IP address; give one of this host's addresses, 0.0.0.0 (every IPv4 "
                  "interface) or :: (every interface), not a host name");
  }
  return address;
}

std::chrono::milliseconds Properties::GetDuration(std::string_view key) const {
  using std::chrono::milliseconds;
  const PropertyValue& value = Require(key);
  const std::string_view text = Trim(value.text);
  const auto fail = [&]() -> milliseconds {
    ThrowBadValue(key, value,
                  "is not a duration (a number with a unit: 250ms, 10s, 5m, 24h, 1d; a bare "
                  "number means seconds; 0 or more)");
  };
  const auto* const digits_end = std::find_if_not(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
  const auto digit_count = static_cast<std::size_t>(digits_end - text.begin());
  std::uint64_t amount = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + digit_count, amount);
  if (digit_count == 0 || ec != std::errc{}) {
    return fail();
  }
  const std::string unit = Lower(Trim(text.substr(digit_count)));
  std::uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60ULL * 1000;
  } else if (unit == "h") {
    factor = 60ULL * 60 * 1000;
  } else if (unit == "d") {
    factor = 24ULL * 60 * 60 * 1000;
  } else {
    return fail();
  }
  if (amount > static_cast<std::uint64_t>(std::numeric_limits<milliseconds::rep>::max()) / factor) {
    return fail();
  }
  return milliseconds{static_cast<milliseconds::rep>(amount * factor)};
}

std::vector<std::string> Properties::GetList(std::string_view key) const {
  std::vector<std::string> items;
  if (Find(key) == nullptr && Has(key)) {
    for (std::size_t i = 0;; ++i) {
      const std::string item_key = fmt::format("{}[{}]", key, i);
      const auto* item = Find(item_key);
      if (item == nullptr) {
        // Anything under "key[i]" that is not "key[i]" itself: "key[i].name" or "key[i][0]".
        const auto nested = values_.lower_bound(item_key);
        if (nested != values_.end() && nested->first.starts_with(item_key)) {
          throw ConfigError(fmt::format("{}: item {} (from {}) is a map or a list, not a value",
                                        key, i, nested->second.source));
        }
        break;
      }
      items.emplace_back(Trim(item->text));
    }
    return items;
  }
  std::string_view rest = Require(key).text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    if (!item.empty()) {
      items.emplace_back(item);
    }
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return items;
}

}  // namespace cppblog::config
