#pragma once

#include <stdexcept>

namespace cppblog::config {

/// A setting is missing or malformed. The message names the key, the bad value
/// and where it came from: "server_port: 'abc' (environment SERVER_PORT) is not a port (1-65535)".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cppblog::config
