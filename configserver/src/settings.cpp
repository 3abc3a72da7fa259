#include "settings.hpp"

#include "cppblog/config/config_error.hpp"
#include "cppblog/web/server_settings.hpp"

namespace cppblog::configserver {

config::Properties Settings::Defaults() {
  config::Properties defaults = web::ServerDefaults(kServerPort);
  const auto set = [&defaults](std::string key, std::string value) {
    defaults.Set(std::move(key), std::move(value), "default");
  };
  set("config_backend", "native");
  set("config_repo", "deploy/config-repo");
  set("config_repo_uri", "");
  set("config_default_label", "");
  set("config_accept_empty", "true");
  set("config_watch", "true");
  set("config_watch_debounce", "300ms");
  set("log_level", "info");
  set("metrics_enabled", "true");
  set("amqp_server_url", "amqp://guest:guest@127.0.0.1:5672/%2F");
  set("config_event_bus", "springCloudBus");
  set("spring.security.user.name", "user");
  set("spring.security.user.password", "");
  set("monitor_webhook_secret", "");
  return defaults;
}

Settings Settings::From(const config::Properties& properties) {
  Settings settings;
  settings.server = web::ServerOptionsFrom(properties);
  const std::string backend = properties.GetString("config_backend");
  if (backend == "native") {
    settings.backend = Backend::kNative;
  } else if (backend == "git") {
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
