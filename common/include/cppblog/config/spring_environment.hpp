#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/config/properties.hpp"

namespace cppblog::config {

/// One entry of `propertySources`: a file of the config repository and its flattened keys,
/// each with the source "configserver <name>".
struct PropertySource {
  std::string name;
  Properties properties;
};

/// Spring Cloud Config's Environment, what `GET /{application}/{profile}/{label}` answers:
/// `{"name":…,"profiles":[…],"label":…,"version":…,"state":…,"propertySources":[…]}`.
/// Sources are most specific first (the first one wins).
struct SpringEnvironment {
  std::string name;
  std::vector<std::string> profiles;
  std::optional<std::string> label;    // null: the server's default label
  std::optional<std::string> version;  // git: the commit id; otherwise null
  std::optional<std::string> state;
  std::vector<PropertySource> property_sources;
};

/// Parses the Environment JSON (Spring's V1 form, `Accept: application/json`). Values become
/// text as Spring's client would read them: strings as they are, integers in decimal, doubles
/// in Java's notation ("0.5", "1.0"), booleans "true"/"false", null "". A nested object or
/// array inside `source` (not something a Spring server sends, whose sources are flat) is
/// flattened like YAML: "a.b", "a[0]". Unknown top-level fields are ignored. Pure function.
/// Throws ConfigError naming `origin` (e.g. the URL) and what is wrong for malformed JSON or a
/// field of the wrong type.
[[nodiscard]] SpringEnvironment ParseSpringEnvironment(std::string_view text,
                                                       std::string_view origin);

/// All property sources folded into one layer, the first source winning (Spring's client
/// precedence); a list (`key[i]`) of a higher source replaces the whole list of a lower one.
[[nodiscard]] Properties MergePropertySources(const SpringEnvironment& environment);

}  // namespace cppblog::config
