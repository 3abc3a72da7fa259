#include "cppblog/web/server_settings.hpp"

#include <chrono>
#include <string>

#include "cppblog/config/config_error.hpp"

namespace cppblog::web {
namespace {

constexpr const char* kDefault = "default";
constexpr std::int64_t kMaxConnections = 1'000'000;
constexpr std::int64_t kMaxThreads = 1024;

// As GetDuration reads it back: "30s", or "1500ms" when not whole seconds.
std::string DurationText(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
}

}  // namespace

config::Properties ServerDefaults(std::uint16_t default_port) {
  const ServerOptions built_in;
  config::Properties defaults;
  defaults.Set("server_port", std::to_string(default_port), kDefault);
  defaults.Set("server_address", built_in.address, kDefault);
  defaults.Set("max_connections", std::to_string(built_in.max_connections), kDefault);
  defaults.Set("request_timeout", DurationText(built_in.request_timeout), kDefault);
  defaults.Set("http_threads", std::to_string(built_in.threads), kDefault);
  return defaults;
}

ServerOptions ServerOptionsFrom(const config::Properties& properties) {
  ServerOptions options;
  options.port = properties.GetPort("server_port");
  options.address = properties.GetIpAddress("server_address");
  options.max_connections =
      static_cast<std::size_t>(properties.GetInt("max_connections", 0, kMaxConnections));
  options.request_timeout = properties.GetDuration("request_timeout");
  if (options.request_timeout.count() == 0) {
    const auto* value = properties.Find("request_timeout");
    throw config::ConfigError("request_timeout: '" + value->text + "' (from " + value->source +
                              ") must be more than 0: give how long a request may take to "
                              "arrive, like 30s");
  }
  options.threads = static_cast<unsigned>(properties.GetInt("http_threads", 0, kMaxThreads));
  return options;
}

}  // namespace cppblog::web
