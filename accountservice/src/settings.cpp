#include "settings.hpp"

#include <string_view>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/property_text.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/server_settings.hpp"

namespace cppblog::account {
namespace {

// A VIP account id is a plain account id (1-32 digits): catch typos at start-up.
void CheckAccountId(const config::Properties& properties, const std::string& id) {
  const bool digits_only =
      !id.empty() && id.size() <= 32 && id.find_first_not_of("0123456789") == std::string::npos;
  if (!digits_only) {
    const auto* value = properties.Find("vip_accounts");
    const std::string source = value != nullptr ? value->source : "vip_accounts list";
    throw config::ConfigError("vip_accounts: '" + id + "' (" + source +
                              ") is not an account id (1-32 digits)");
  }
}

}  // namespace

config::Properties Settings::Defaults() {
  const Settings built_in;
  const auto* source = config::kDefaultSource;
  config::Properties defaults = web::ServerDefaults(built_in.server.port);
  defaults.Set("server_name", built_in.server_name, source);
  defaults.Set("data_dir", built_in.data_dir.string(), source);
  defaults.Set("amqp_server_url", built_in.amqp_server_url, source);
  defaults.Set("log_level", built_in.log_level, source);
  defaults.Set("metrics_enabled", config::BoolText(built_in.metrics_enabled), source);
  defaults.Set("config_event_bus", built_in.config_event_bus, source);
  for (std::size_t i = 0; i < built_in.vip_accounts.size(); ++i) {
    defaults.Set("vip_accounts[" + std::to_string(i) + "]", built_in.vip_accounts[i], source);
  }
  defaults.Set("compat_goblog_p9", config::BoolText(built_in.compat_goblog_p9), source);
  defaults.Set("vip_queue", built_in.vip_queue, source);
  defaults.Set("vip_queue_type", messaging::ToString(built_in.vip_queue_type), source);
  return defaults;
}

Settings Settings::From(const config::Properties& properties) {
  Settings settings;
  settings.server = web::ServerOptionsFrom(properties);
  settings.server_name = properties.GetString("server_name");
  settings.data_dir = properties.GetString("data_dir");
  if (settings.data_dir.empty()) {
    throw config::ConfigError("data_dir is empty (" + properties.Find("data_dir")->source +
                              "): set it to the directory for the account store");
  }
  settings.amqp_server_url = properties.GetString("amqp_server_url");
  settings.log_level = properties.GetLogLevel("log_level");
  settings.metrics_enabled = properties.GetBool("metrics_enabled");
  settings.config_event_bus = properties.GetString("config_event_bus");
  settings.vip_accounts = properties.GetList("vip_accounts");
  for (const auto& id : settings.vip_accounts) CheckAccountId(properties, id);
  settings.compat_goblog_p9 = properties.GetBool("compat_goblog_p9");
  settings.vip_queue = vip::QueueNameSetting(properties.GetString("vip_queue"),
                                             properties.Find("vip_queue")->source);
  settings.vip_queue_type =
      vip::QueueTypeSetting(properties.GetString("vip_queue_type"),
                            properties.Find("vip_queue_type")->source, settings.compat_goblog_p9);
  return settings;
}

}  // namespace cppblog::account
