#include "settings.hpp"

#include <string_view>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/property_text.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/server_settings.hpp"

namespace cppblog::vipservice {
namespace {

std::string SourceOf(const config::Properties& properties, std::string_view key) {
  const auto* value = properties.Find(key);
  return value != nullptr ? value->source : "unknown source";
}

}  // namespace

config::Properties Settings::Defaults() {
  const Settings built_in;
  const auto* source = config::kDefaultSource;
  config::Properties defaults = web::ServerDefaults(built_in.server.port);
  defaults.Set("server_name", built_in.server_name, source);
  defaults.Set("data_dir", built_in.data_dir.string(), source);
  defaults.Set("offer_store_url", built_in.offer_store_url, source);
  defaults.Set("offer_store_password_file", built_in.offer_store_password_file.string(), source);
  defaults.Set("processed_id_retention", config::DurationText(built_in.processed_id_retention),
               source);
  defaults.Set("amqp_server_url", built_in.amqp_server_url, source);
  defaults.Set("log_level", built_in.log_level, source);
  defaults.Set("metrics_enabled", config::BoolText(built_in.metrics_enabled), source);
  defaults.Set("config_event_bus", built_in.config_event_bus, source);
  defaults.Set("offer_cooldown", config::DurationText(built_in.offer_cooldown), source);
  defaults.Set("compat_goblog_p9", config::BoolText(built_in.compat_goblog_p9), source);
  defaults.Set("vip_queue", built_in.vip_queue, source);
  defaults.Set("vip_queue_type", messaging::ToString(built_in.vip_queue_type), source);
  defaults.Set("prefetch", std::to_string(built_in.prefetch), source);
  defaults.Set("handler_threads", std::to_string(built_in.handler_threads), source);
  defaults.Set("drain_timeout", config::DurationText(built_in.drain_timeout), source);
  return defaults;
}

Settings Settings::From(const config::Properties& properties) {
  Settings settings;
  settings.server = web::ServerOptionsFrom(properties);
  settings.server_name = properties.GetString("server_name");
  settings.data_dir = properties.GetString("data_dir");
  if (settings.data_dir.empty()) {
    throw config::ConfigError("data_dir is empty (" + SourceOf(properties, "data_dir") +
                              "): set it to the directory for the offer store");
  }
  settings.offer_store_url = properties.GetString("offer_store_url");
  if (!settings.offer_store_url.empty() && !settings.offer_store_url.starts_with("postgresql://") &&
      !settings.offer_store_url.starts_with("postgres://")) {
    // The value is not shown: a libpq "key=value" string would show its password.
    throw config::ConfigError("offer_store_url (" + SourceOf(properties, "offer_store_url") +
                              ") is not a PostgreSQL URL (it does not begin with postgresql://): "
                              "write it as postgresql://user:password@host:port/database, or "
                              "leave it empty for the LMDB store under data_dir");
  }
  settings.offer_store_password_file = properties.GetString("offer_store_password_file");
  settings.processed_id_retention = properties.GetDuration("processed_id_retention");
  if (settings.processed_id_retention.count() <= 0) {
    throw config::ConfigError("processed_id_retention: '" +
                              properties.GetString("processed_id_retention") + "' (" +
                              SourceOf(properties, "processed_id_retention") +
                              ") must be longer than 0: give how long a redelivery must still be "
                              "recognised, e.g. 7d");
  }
  settings.amqp_server_url = properties.GetString("amqp_server_url");
  settings.log_level = properties.GetLogLevel("log_level");
  settings.metrics_enabled = properties.GetBool("metrics_enabled");
  settings.config_event_bus = properties.GetString("config_event_bus");
  settings.offer_cooldown = properties.GetDuration("offer_cooldown");
  settings.compat_goblog_p9 = properties.GetBool("compat_goblog_p9");
  settings.vip_queue =
      vip::QueueNameSetting(properties.GetString("vip_queue"), SourceOf(properties, "vip_queue"));
  settings.vip_queue_type =
      vip::QueueTypeSetting(properties.GetString("vip_queue_type"),
                            SourceOf(properties, "vip_queue_type"), settings.compat_goblog_p9);
  settings.prefetch = static_cast<std::uint16_t>(properties.GetInt("prefetch", 1, 65535));
  settings.handler_threads = static_cast<std::size_t>(properties.GetInt("handler_threads", 1, 256));
  settings.drain_timeout = properties.GetDuration("drain_timeout");
  return settings;
}

}  // namespace cppblog::vipservice
