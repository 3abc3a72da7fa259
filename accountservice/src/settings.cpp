#include "settings.hpp"

#include <string_view>

#include "cppblog/config/config_error.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/server_settings.hpp"

namespace cppblog::account {
namespace {

constexpr const char* kDefault = "default";
constexpr std::size_t kMaxQueueName = 200;  // AMQP allows 255; "<name>.dlq" must fit too

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
  config::Properties defaults = web::ServerDefaults(kServerPort);
  defaults.Set("server_name", kServiceName, kDefault);
  defaults.Set("data_dir", "./data/accountservice", kDefault);
  defaults.Set("amqp_server_url", "amqp://guest:guest@127.0.0.1:5672/%2F", kDefault);
  defaults.Set("log_level", "info", kDefault);
  defaults.Set("metrics_enabled", "true", kDefault);
  defaults.Set("config_event_bus", "springCloudBus", kDefault);
  defaults.Set("vip_accounts[0]", "10000", kDefault);
  defaults.Set("compat_goblog_p9", "false", kDefault);
  defaults.Set("vip_queue", std::string(vip::kVipQueueName), kDefault);
  defaults.Set("vip_queue_type", "classic", kDefault);
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
  settings.vip_queue = properties.GetString("vip_queue");
  if (settings.vip_queue.empty() || settings.vip_queue.size() > kMaxQueueName) {
    throw config::ConfigError("vip_queue: '" + settings.vip_queue + "' (" +
                              properties.Find("vip_queue")->source +
                              ") must be a queue name of 1 to 200 bytes");
  }
  settings.vip_queue_type =
      vip::QueueTypeSetting(properties.GetString("vip_queue_type"),
                            properties.Find("vip_queue_type")->source, settings.compat_goblog_p9);
  return settings;
}

}  // namespace cppblog::account
