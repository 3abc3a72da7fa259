#pragma once

#include <cstdint>

#include "cppblog/config/properties.hpp"
#include "cppblog/web/server_options.hpp"

namespace cppblog::web {

/// The HTTP server's keys, read alike by every service (docs/configuration.md):
///
///   server_port      1-65535; each service gives its own default
///   server_address   an IPv4 or IPv6 address (not a host name); default 0.0.0.0
///   max_connections  0-1000000; 0 (the default): derived from ulimit -n
///   request_timeout  a duration above 0 ("30s", "500ms"); default 30s
///   http_threads     0-1024; 0 (the default): one per core
///
/// The lowest configuration layer for these keys (source "default"): server_port is
/// `default_port`, the others ServerOptions{}'s values. A service overrides it with its own
/// defaults and then with the loaded layers.
[[nodiscard]] config::Properties ServerDefaults(std::uint16_t default_port);

/// The ServerOptions those keys give; idle_timeout and the size limits keep ServerOptions{}'s.
/// Throws config::ConfigError naming the key, the value, where it came from and what is
/// accepted when a value is missing or bad.
[[nodiscard]] ServerOptions ServerOptionsFrom(const config::Properties& properties);

}  // namespace cppblog::web
