#pragma once

#include <stdexcept>

namespace cppblog::config {

/// A setting, a flag or a configuration file is missing or malformed. The message
/// names the key (or flag, or file), the bad value and where it came from, e.g.
/// "server_port: 'abc' (from environment SERVER_PORT) is not a port number (1-65535)".
/// Secrets (passwords in URLs, keys naming a password, secret or token) are masked.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cppblog::config
