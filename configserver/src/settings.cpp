#include "settings.hpp"

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/property_text.hpp"
#include "cppblog/web/server_settings.hpp"

namespace cppblog::configserver {

namespace {

const char* BackendName(Backend backend) { return backend == Backend::kGit ? "git" : "native"; }

}  // namespace

config::Properties Settings::Defaults() {
  const Settings built_in;
  const auto* source = config::kDefaultSource;
  config::Properties defaults = web::ServerDefaults(built_in.server.port);
  defaults.Set("config_backend", BackendName(built_in.backend), source);
  defaults.Set("config_repo", built_in.repository.string(), source);
  defaults.Set("config_repo_uri", built_in.repository_uri, source);
  defaults.Set("config_default_label", built_in.default_label, source);
  defaults.Set("config_accept_empty", config::BoolText(built_in.accept_empty), source);
  defaults.Set("config_watch", config::BoolText(built_in.watch), source);
  defaults.Set("config_watch_debounce", config::DurationText(built_in.watch_debounce), source);
  defaults.Set("log_level", built_in.log_level, source);
  defaults.Set("metrics_enabled", config::BoolText(built_in.metrics_enabled), source);
  defaults.Set("amqp_server_url", built_in.amqp_server_url, source);
  defaults.Set("config_event_bus", built_in.config_event_bus, source);
  defaults.Set("spring.security.user.name", built_in.security_user, source);
  defaults.Set("spring.security.user.password", built_in.security_password, source);
  defaults.Set("monitor_webhook_secret", built_in.monitor_webhook_secret, source);
  return defaults;
}

Settings Settings::From(const config::Properties& properties) {
  Settings settings;
  settings.server = web::ServerOptionsFrom(properties);
  const std::string backend = properties.GetString("config_backend");
  if (backend == BackendName(Backend::kNative)) {
    settings.backend = Backend::kNative;
  } else if (backend == BackendName(Backend::kGit)) {
    settings.backend = Backend::kGit;
  } else {
    const auto* value = properties.Find("config_backend");
    throw config::ConfigError("config_backend: '" + backend + "' (" +
                              (value != nullptr ? value->source : std::string("unknown source")) +
                              ") is not a backend; use native or git");
  }
  settings.repository = properties.GetString("config_repo");
  settings.repository_uri = properties.GetString("config_repo_uri");
  settings.default_label = properties.GetString("config_default_label");
  settings.accept_empty = properties.GetBool("config_accept_empty");
  settings.watch = properties.GetBool("config_watch");
  settings.watch_debounce = properties.GetDuration("config_watch_debounce");
  settings.log_level = properties.GetLogLevel("log_level");
  settings.metrics_enabled = properties.GetBool("metrics_enabled");
  settings.amqp_server_url = properties.GetString("amqp_server_url");
  settings.config_event_bus = properties.GetString("config_event_bus");
  if (settings.config_event_bus.empty()) {
    throw config::ConfigError("config_event_bus is empty; name the bus exchange (springCloudBus)");
  }
  settings.security_user = properties.GetString("spring.security.user.name");
  settings.security_password = properties.GetString("spring.security.user.password");
  if (!settings.security_password.empty() && settings.security_user.empty()) {
    throw config::ConfigError(
        "spring.security.user.name is empty while spring.security.user.password is set; name "
        "the user clients authenticate as");
  }
  settings.monitor_webhook_secret = properties.GetString("monitor_webhook_secret");
  return settings;
}

}  // namespace cppblog::configserver
