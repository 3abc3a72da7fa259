#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cppblog/text/escape.hpp"

#include "property_file.hpp"

namespace cppblog::configserver {

/// One entry of `propertySources`: a file (or one document of it) and its flattened keys.
struct PropertySource {
  std::string name{};  // "file:/srv/config-repo/accountservice-test.yml"
  FlatProperties source{};
};

/// Spring Cloud Config's Environment (org.springframework.cloud.config.environment.Environment):
/// what GET /{application}/{profile}[/{label}] answers. Sources are most specific first.
struct Environment {
  std::string name{};
  std::vector<std::string> profiles{};
  std::optional<std::string> label{};    // null: the default label
  std::optional<std::string> version{};  // git: the commit id; native: null
  std::optional<std::string> state{};    // used by Vault in Spring; always null here
  std::vector<PropertySource> property_sources{};
  /// Files that could not be read ("accountservice-test.yml: line 3, column 5: …"); not part
  /// of the JSON body itself (see config_handlers for how they are reported).
  std::vector<std::string> problems{};
};

/// The key a malformed file's placeholder source carries, after Spring's `invalid.<key>`
/// convention for values it cannot decrypt.
inline constexpr const char* kInvalidSourceKey = "invalid.source";

/// Serialises as Spring does (Jackson, creator order): name, profiles, label, version, state,
/// propertySources; numbers and booleans typed, doubles in Java notation.
[[nodiscard]] std::string ToJson(const Environment& environment);

/// All sources folded into one map, the first source winning, a list (`key[i]`) of a higher
/// source replacing the whole list of a lower one, `spring.profiles` dropped; sorted by key.
[[nodiscard]] FlatProperties Merge(const Environment& environment);

/// Replaces `${key}` and `${key:default}` in string values with other merged values, as
/// Spring's flat formats do by default (?resolvePlaceholders=true); unresolvable ones stay.
void ResolvePlaceholders(FlatProperties& merged);

/// `key: value` lines, as /{application}-{profile}.properties answers.
[[nodiscard]] std::string ToPropertiesText(const FlatProperties& merged);
/// The merged keys expanded back into nested maps and lists (/{application}-{profile}.json).
[[nodiscard]] std::string ToNestedJson(const FlatProperties& merged);
/// The same as YAML (/{application}-{profile}.yml).
[[nodiscard]] std::string ToNestedYaml(const FlatProperties& merged);

/// JSON text of one string, escaped, invalid UTF-8 replaced: the tree's one escaper.
using text::JsonString;

}  // namespace cppblog::configserver
