#include "cppblog/config/loader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/yaml.hpp"

namespace cppblog::config {
namespace {

std::string Position(std::size_t line, std::size_t column) {
  if (line == 0) {
    return "";
  }
  return fmt::format(" at line {}, column {}", line, column);
}

// A profile is part of a file name: no path separators, no "..".
void CheckProfile(std::string_view profile) {
  const bool plain = !profile.empty() && std::all_of(profile.begin(), profile.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
  if (!plain || profile.find("..") != std::string_view::npos) {
    throw ConfigError(fmt::format(
        "profile: '{}' is not a profile name (letters, digits, '-', '_' and '.'; several "
        "separated by ',')",
        profile));
  }
}

std::vector<std::string> SplitProfiles(std::string_view profiles) {
  std::vector<std::string> names;
  while (!profiles.empty()) {
    const auto comma = profiles.find(',');
    std::string_view name = profiles.substr(0, comma);
    while (!name.empty() && name.front() == ' ') {
      name.remove_prefix(1);
    }
    while (!name.empty() && name.back() == ' ') {
      name.remove_suffix(1);
    }
    CheckProfile(name);
    names.emplace_back(name);
    profiles = comma == std::string_view::npos ? std::string_view{} : profiles.substr(comma + 1);
  }
  return names;
}

// The properties of {dir}/{stem}.yml, else {dir}/{stem}.yaml; none when neither exists.
Properties LoadFile(const std::filesystem::path& dir, const std::string& stem) {
  for (const char* extension : {".yml", ".yaml"}) {
    const std::filesystem::path path = dir / (stem + extension);
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (status.type() == std::filesystem::file_type::not_found) {
      spdlog::debug("configuration: no file {}", path.string());
      continue;
    }
    if (error) {
      throw ConfigError(fmt::format("{}: cannot read it: {}", path.string(), error.message()));
    }
    if (!std::filesystem::is_regular_file(status)) {
      throw ConfigError(fmt::format("{}: cannot read it: not a regular file", path.string()));
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      throw ConfigError(fmt::format("{}: cannot read it: {}", path.string(), std::strerror(errno)));
    }
    std::ostringstream text;
    text << file.rdbuf();
    if (file.bad()) {
      throw ConfigError(fmt::format("{}: cannot read it: read error", path.string()));
    }
    spdlog::info("configuration: reading {}", path.string());
    return ParseYaml(text.str(), path.string());
  }
  return {};
}

// The content of the file `variable` names (Docker's secrets convention), one trailing newline
// dropped.
std::string ReadSecretFile(const std::string& variable, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  if (!file || !(text << file.rdbuf())) {
    throw ConfigError(
        fmt::format("{}: cannot read the file it names, '{}' ({}); check that it "
                    "exists and is readable",
                    variable, path, std::strerror(errno)));
  }
  std::string value = text.str();
  if (value.ends_with('\n')) value.pop_back();
  if (value.ends_with('\r')) value.pop_back();
  return value;
}

// Environment variables for every key the layers below know; list keys by base name. NAME
// wins over NAME_FILE, which names a file holding the value (a mounted secret).
Properties EnvironmentLayer(const Properties& below, const EnvironmentLookup& environment) {
  Properties layer;
  std::set<std::string> bases;
  for (const auto& [key, value] : below.All()) {
    bases.insert(key.substr(0, key.find('[')));
  }
  for (const std::string& base : bases) {
    const std::string name = EnvironmentVariableName(base);
    if (auto text = environment(name)) {
      layer.Set(base, std::move(*text), "environment " + name);
    } else if (auto path = environment(name + "_FILE"); path && !path->empty()) {
      layer.Set(base, ReadSecretFile(name + "_FILE", *path), "file named by " + name + "_FILE");
    }
  }
  return layer;
}

}  // namespace

EnvironmentLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    // getenv needs a terminated string; names are short.
    const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

std::string EnvironmentVariableName(std::string_view key) {
  std::string name;
  name.reserve(key.size());
  for (const char c : key) {
    if (c == '.' || c == '-' || c == '[') {
      name += '_';
    } else if (c != ']') {
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return name;
}

Properties ParseYaml(std::string_view yaml, const std::string& source) {
  std::vector<YamlDocument> documents;
  try {
    // Scalars keep their text; keys, lists, nulls, merge keys and repeated keys are read as the
    // configserver reads them (the one flattener), so a file means the same either way.
    documents = FlattenYaml(yaml, YamlScalars::kText);
  } catch (const YamlError& e) {
    throw ConfigError(fmt::format("{}{}{}: {}", source, e.Syntax() ? ": not valid YAML" : "",
                                  Position(e.Line(), e.Column()), e.Problem()));
  }
  Properties properties;
  if (documents.empty()) {
    return properties;
  }
  if (documents.size() > 1) {
    throw ConfigError(
        fmt::format("{}{}: holds {} YAML documents ('---'); a configuration file must hold one",
                    source, Position(documents[1].line, documents[1].column), documents.size()));
  }
  const YamlDocument& root = documents.front();
  if (root.empty) {
    return properties;
  }
  if (!root.is_map) {
    throw ConfigError(fmt::format("{}{}: expected a map of keys (key: value) at the top level",
                                  source, Position(root.line, root.column)));
  }
  for (const auto& [key, value] : root.properties) {
    properties.Set(key, std::get<std::string>(value), source);
  }
  return properties;
}

Properties Load(const LoadOptions& options) {
  const CommandLine& command_line = options.command_line;
  Properties merged = options.defaults;

  merged.OverrideWith(LoadFile(command_line.config_dir, options.app));
  for (const std::string& profile : SplitProfiles(command_line.profile)) {
    merged.OverrideWith(LoadFile(command_line.config_dir, options.app + "-" + profile));
  }
  if (options.remote != nullptr) {
    merged.OverrideWith(*options.remote);
  }
  if (options.environment) {
    merged.OverrideWith(EnvironmentLayer(merged, options.environment));
  }
  Properties flags;
  for (const auto& [key, value] : command_line.overrides) {
    flags.Set(key, value, "flag --set");
  }
  merged.OverrideWith(flags);

  for (const auto& [key, value] : merged.All()) {
    if (!options.defaults.Has(key.substr(0, key.find('[')))) {
      spdlog::debug("configuration: {} (from {}) is not a key {} knows", key, value.source,
                    options.app);
    }
  }
  return merged;
}

}  // namespace cppblog::config
