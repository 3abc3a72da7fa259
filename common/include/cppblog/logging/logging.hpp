#pragma once

#include <string_view>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/properties.hpp"

namespace cppblog::logging {

/// Makes a logger writing to stderr the process-wide spdlog default, at level info;
/// code then logs through spdlog directly (spdlog::info(…)). Lines carry the time in
/// UTC with milliseconds and the service name:
///   text: 2026-11-27T07:30:00.123Z INFO  accountservice: message
///   json:
///   {"ts":"2026-11-27T07:30:00.123Z","level":"info","service":"accountservice","msg":"message"}
/// (one JSON object per line; the message JSON-escaped, invalid UTF-8 replaced by U+FFFD).
/// Every line is one line whatever the message holds: in text lines, line breaks, control
/// characters and bytes that are not UTF-8 are escaped (\n, \xNN; text::AppendLogEscaped),
/// so values logged from requests or messages cannot forge lines.
/// Call it in main before other threads log: calls to Init are serialised, but spdlog's
/// default logger must not be replaced while another thread logs through it.
void Init(std::string_view service_name, config::LogFormat format = config::LogFormat::kText);

/// "trace", "debug", "info", "warn" (or "warning"), "error", "critical", "off",
/// case-insensitive, for every logger. Throws config::ConfigError for anything else.
/// Thread-safe; may be called at any time (live refresh of log_level).
void SetLevel(std::string_view level);

/// SetLevel with the value of `key`; the error for a bad value names key, value and source:
/// "log_level: 'verbose' (from environment LOG_LEVEL) is not a log level (…)".
void SetLevel(const config::Properties& properties, std::string_view key = "log_level");

}  // namespace cppblog::logging
