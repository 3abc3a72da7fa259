#pragma once

#include <string_view>

#include "cppblog/config/command_line.hpp"

namespace cppblog::logging {

/// Sets up the process-wide spdlog default logger once, in main: sinks to
/// stderr, human-readable text or JSON lines, the service name in every line.
/// Code then logs through spdlog directly. Not thread-safe against concurrent logging
/// setup; call before starting threads.
void Init(std::string_view service_name, config::LogFormat format = config::LogFormat::kText);

/// "trace", "debug", "info", "warn", "error", "critical", "off" (case-insensitive).
/// Throws config::ConfigError for anything else. Thread-safe; may be called at any time
/// (live refresh of log_level).
void SetLevel(std::string_view level);

}  // namespace cppblog::logging
