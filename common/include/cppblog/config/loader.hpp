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

/// The environment variable that overrides `key`: upper-cased, '.' '-' and '[' as '_',
/// ']' dropped (Spring's form): server_port → SERVER_PORT, amqp.server-url → AMQP_SERVER_URL,
/// a[0].b → A_0_B.
[[nodiscard]] std::string EnvironmentVariableName(std::string_view key);

struct LoadOptions {
  std::string app;  // "accountservice"
  const CommandLine& command_line;
  const Properties& defaults;  // every key the service knows, with its built-in default
  EnvironmentLookup environment = ProcessEnvironment();
  /// A layer above the local files and below the environment: the config server's
  /// merged property sources, when there is one.
  const Properties* remote = nullptr;
};

/// Builds the service's configuration from layers, lowest first:
///   defaults → {config_dir}/{app}.yml → {config_dir}/{app}-{profile}.yml (for each
///   profile of a comma-separated list, the last winning) → remote → environment → `--set`.
/// A file is `.yml`, or `.yaml` when there is no `.yml`; files read are logged at info, missing
/// files are skipped (logged at debug). The environment is consulted for every key known to the
/// layers below, list keys by their base name only (VIP_ACCOUNTS="10000,10001" replaces
/// vip_accounts[*]). When NAME is unset, NAME_FILE may name a file that holds the value (a
/// mounted secret; one trailing newline dropped). Sources: "default", the file path, "environment
/// NAME", "file named by NAME_FILE", "flag --set". Throws ConfigError naming the file for an
/// unreadable or malformed file (also one a NAME_FILE names), and for a profile that is not a plain
/// name.
[[nodiscard]] Properties Load(const LoadOptions& options);

/// Parses one YAML document into flattened properties with `source` as their origin,
/// as Spring flattens YAML: nested maps → "a.b", sequences → "a[0]", scalars as their
/// text, null → "", an empty sequence → "", an empty map → nothing; an empty document
/// → no properties. Pure function. Throws ConfigError naming `source` and the
/// line/column of a syntax error, a non-map document, a non-scalar or duplicate key, or a second
/// document in the stream.
[[nodiscard]] Properties ParseYaml(std::string_view yaml, const std::string& source);

}  // namespace cppblog::config
