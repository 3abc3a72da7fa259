#include "cppblog/web/server_settings.hpp"

#include <chrono>
#include <string>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/property_text.hpp"

namespace cppblog::web {
namespace {

constexpr std::int64_t kMaxConnections = 1'000'000;
constexpr std::int64_t kMaxThreads = 1024;

}  // namespace

config::Properties ServerDefaults(std::uint16_t default_port) {
  const ServerOptions built_in;
  const auto* source = config::kDefaultSource;
  config::Properties defaults;
  defaults.Set("server_port", std::to_string(default_port), source);
  defaults.Set("server_address", built_in.address, source);
  defaults.Set("max_connections", std::to_string(built_in.max_connections), source);
  defaults.Set("request_timeout", config::DurationText(built_in.request_timeout), source);
  defaults.Set("http_threads", std::to_string(built_in.threads), source);
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
