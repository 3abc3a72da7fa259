#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/properties.hpp"

namespace cppblog::config {

/// Reads an environment variable; injectable so tests need not touch the process environment.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment (getenv).
[[nodiscard]] EnvironmentLookup ProcessEnvironment();

struct LoadOptions {
  std::string app;            // "accountservice"
  const CommandLine& command_line;
  const Properties& defaults;  // every key the service knows, with its built-in default
  EnvironmentLookup environment = ProcessEnvironment();
};

/// Builds the service's configuration from layers, lowest first:
///   defaults → {config_dir}/{app}.yml → {config_dir}/{app}-{profile}.yml
///   → environment (the key upper-cased, '.', '-' and '[]' as '_': SERVER_PORT, AMQP_SERVER_URL)
///   → `--set key=value` flags.
/// Missing files are skipped; a malformed file throws ConfigError naming the file,
/// line and problem. Keys unknown to `defaults` are kept (and logged once at debug).
[[nodiscard]] Properties Load(const LoadOptions& options);

/// Parses one YAML document into flattened properties with `source` as their origin.
/// Throws ConfigError naming `source` and the position of a syntax error.
[[nodiscard]] Properties ParseYaml(std::string_view yaml, const std::string& source);

}  // namespace cppblog::config
