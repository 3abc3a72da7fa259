#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cppblog/logging/logging.hpp"

namespace cppblog::config {

/// What a service's command line says. The original's single-dash flags are kept
/// (-profile, -configServerUrl, -configBranch) beside long forms
/// (--profile, --config-server-url, --config-branch).
struct CommandLine {
  std::string profile = "test";
  std::optional<std::string> config_server_url;  // absent: run on local files only
  std::string config_branch = "master";
  std::filesystem::path config_dir = "config";
  logging::LogFormat log_format = logging::LogFormat::kText;
  /// `--set key=value`, repeatable: the highest configuration layer.
  std::vector<std::pair<std::string, std::string>> overrides;
};

/// Parses argv. Returns nullopt after printing --help or --version to `out`
/// (the caller then exits 0). Throws ConfigError naming the bad flag and saying
/// to run with --help, also when --config-dir is given and names no directory.
[[nodiscard]] std::optional<CommandLine> ParseCommandLine(int argc, const char* const* argv,
                                                          std::string_view app, std::ostream& out);

}  // namespace cppblog::config
