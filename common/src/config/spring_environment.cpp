#include "cppblog/config/spring_environment.hpp"

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::config {
namespace {

namespace json = boost::json;

// Double.toString: plain in [1e-3, 1e7), else "d.dddE±n"; always a fraction digit.
std::string JavaDouble(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "Infinity" : "-Infinity";
  }
  if (value == 0.0) {
    return std::signbit(value) ? "-0.0" : "0.0";
  }
  char buffer[64];
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const auto result =
        std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
    std::string text(buffer, result.ptr);
    if (text.find('.') == std::string::npos) {
      text += ".0";
    }
    return text;
  }
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const std::string text(buffer, result.ptr);
  const auto e = text.find('e');
  std::string mantissa = text.substr(0, e);
  if (mantissa.find('.') == std::string::npos) {
    mantissa += ".0";
  }
  std::string_view exponent = std::string_view(text).substr(e + 1);
  const bool negative = exponent.front() == '-';
  if (exponent.front() == '-' || exponent.front() == '+') {
    exponent.remove_prefix(1);
  }
  while (exponent.size() > 1 && exponent.front() == '0') {
    exponent.remove_prefix(1);
  }
  return mantissa + "E" + (negative ? "-" : "") + std::string(exponent);
}

void Flatten(const json::value& value, const std::string& key, const std::string& source,
             Properties& out) {
  switch (value.kind()) {
    case json::kind::string:
      out.Set(key, std::string(value.get_string()), source);
      break;
    case json::kind::int64:
      out.Set(key, std::to_string(value.get_int64()), source);
      break;
    case json::kind::uint64:
      out.Set(key, std::to_string(value.get_uint64()), source);
      break;
    case json::kind::double_:
      out.Set(key, JavaDouble(value.get_double()), source);
      break;
    case json::kind::bool_:
      out.Set(key, value.get_bool() ? "true" : "false", source);
      break;
    case json::kind::null:
      out.Set(key, "", source);
      break;
    case json::kind::object:
      for (const auto& entry : value.get_object()) {
        const std::string child(entry.key());
        Flatten(entry.value(), key.empty() ? child : key + "." + child, source, out);
      }
      break;
    case json::kind::array: {
      const auto& items = value.get_array();
      if (items.empty()) {
        out.Set(key, "", source);
      }
      for (std::size_t i = 0; i < items.size(); ++i) {
        Flatten(items[i], fmt::format("{}[{}]", key, i), source, out);
      }
      break;
    }
  }
}

class Reader {
 public:
  explicit Reader(std::string_view origin) : origin_(origin) {}

  [[noreturn]] void Fail(std::string_view what) const {
    throw ConfigError(fmt::format("{}: not a Spring Cloud Config environment: {}", origin_, what));
  }

  // A string or null field; absent counts as null.
  std::optional<std::string> OptionalString(const json::object& object,
                                            std::string_view field) const {
    const json::value* value = object.if_contains(field);
    if (value == nullptr || value->is_null()) {
      return std::nullopt;
    }
    if (!value->is_string()) {
      Fail(fmt::format("\"{}\" is not a string", field));
    }
    return std::string(value->get_string());
  }

 private:
  std::string_view origin_;
};

}  // namespace

SpringEnvironment ParseSpringEnvironment(std::string_view text, std::string_view origin) {
  const Reader reader(origin);
  std::error_code error;
  const json::value root = json::parse(text, error);
  if (error) {
    reader.Fail(fmt::format("malformed JSON ({})", error.message()));
  }
  if (!root.is_object()) {
    reader.Fail("the body is not a JSON object");
  }
  const json::object& object = root.get_object();

  SpringEnvironment environment;
  environment.name = reader.OptionalString(object, "name").value_or("");
  if (const json::value* profiles = object.if_contains("profiles");
      profiles != nullptr && !profiles->is_null()) {
    if (!profiles->is_array()) {
      reader.Fail("\"profiles\" is not an array");
    }
    for (const json::value& profile : profiles->get_array()) {
      if (!profile.is_string()) {
        reader.Fail("\"profiles\" holds something other than a string");
      }
      environment.profiles.emplace_back(profile.get_string());
    }
  }
  environment.label = reader.OptionalString(object, "label");
  environment.version = reader.OptionalString(object, "version");
  environment.state = reader.OptionalString(object, "state");

  const json::value* sources = object.if_contains("propertySources");
  if (sources == nullptr || sources->is_null()) {
    return environment;
  }
  if (!sources->is_array()) {
    reader.Fail("\"propertySources\" is not an array");
  }
  std::size_t index = 0;
  for (const json::value& entry : sources->get_array()) {
    if (!entry.is_object()) {
      reader.Fail(fmt::format("propertySources[{}] is not an object", index));
    }
    PropertySource source;
    source.name = reader.OptionalString(entry.get_object(), "name")
                      .value_or(fmt::format("propertySources[{}]", index));
    const json::value* values = entry.get_object().if_contains("source");
    if (values != nullptr && !values->is_null()) {
      if (!values->is_object()) {
        reader.Fail(fmt::format("propertySources[{}].source is not an object", index));
      }
      const std::string shown = "configserver " + source.name;
      for (const auto& item : values->get_object()) {
        Flatten(item.value(), std::string(item.key()), shown, source.properties);
      }
    }
    environment.property_sources.push_back(std::move(source));
    ++index;
  }
  return environment;
}

Properties MergePropertySources(const SpringEnvironment& environment) {
  Properties merged;
  for (auto it = environment.property_sources.rbegin(); it != environment.property_sources.rend();
       ++it) {
    merged.OverrideWith(it->properties);
  }
  return merged;
}

}  // namespace cppblog::config
