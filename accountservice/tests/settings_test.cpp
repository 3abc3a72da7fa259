#include "settings.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::account {
namespace {

TEST(Settings, DefaultsMatchTheContract) {
  const Settings settings = Settings::From(Settings::Defaults());

  EXPECT_EQ(settings.server.port, 6767);
  EXPECT_EQ(settings.server_name, "accountservice");
  EXPECT_EQ(settings.data_dir, "./data/accountservice");
  EXPECT_EQ(settings.amqp_server_url, "amqp://guest:guest@127.0.0.1:5672/%2F");
  EXPECT_EQ(settings.log_level, "info");
  EXPECT_EQ(settings.config_event_bus, "springCloudBus");
  EXPECT_EQ(settings.vip_accounts, std::vector<std::string>{"10000"});
}

TEST(Settings, HigherLayerOverridesDefaults) {
  config::Properties properties = Settings::Defaults();
  config::Properties higher;
  higher.Set("server_port", "7000", "flag --set");
  higher.Set("data_dir", "/var/lib/accounts", "environment DATA_DIR");
  properties.OverrideWith(higher);

  const Settings settings = Settings::From(properties);

  EXPECT_EQ(settings.server.port, 7000);
  EXPECT_EQ(settings.data_dir, "/var/lib/accounts");
}

TEST(Settings, BadPortNamesKeyAndSource) {
  config::Properties properties = Settings::Defaults();
  properties.Set("server_port", "abc", "environment SERVER_PORT");

  try {
    static_cast<void>(Settings::From(properties));
    FAIL() << "expected ConfigError";
  } catch (const config::ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("server_port"), std::string::npos) << message;
    EXPECT_NE(message.find("SERVER_PORT"), std::string::npos) << message;
  }
}

TEST(Settings, EmptyDataDirIsRejected) {
  config::Properties properties = Settings::Defaults();
  properties.Set("data_dir", "", "flag --set");

  EXPECT_THROW(static_cast<void>(Settings::From(properties)), config::ConfigError);
}

TEST(Settings, VipAccountThatIsNoIdIsRejected) {
  config::Properties properties = Settings::Defaults();
  config::Properties higher;
  higher.Set("vip_accounts[0]", "abc", "config/accountservice.yml");
  properties.OverrideWith(higher);

  EXPECT_THROW(static_cast<void>(Settings::From(properties)), config::ConfigError);
}

TEST(Settings, UnknownLogLevelNamesKeyAndSource) {
  config::Properties properties = Settings::Defaults();
  properties.Set("log_level", "verbose", "environment LOG_LEVEL");

  try {
    static_cast<void>(Settings::From(properties));
    FAIL() << "expected ConfigError";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("LOG_LEVEL"), std::string::npos) << e.what();
  }
}

TEST(Settings, VipQueueDefaultsToTheOriginalsAndCanBeRenamed) {
  config::Properties properties = Settings::Defaults();
  const Settings defaults = Settings::From(properties);
  config::Properties higher;
  higher.Set("vip_queue", "vip_queue-test", "flag --set");
  higher.Set("compat_goblog_p9", "true", "flag --set");
  properties.OverrideWith(higher);

  const Settings settings = Settings::From(properties);

  EXPECT_EQ(defaults.vip_queue, "vip_queue");
  EXPECT_FALSE(defaults.compat_goblog_p9);
  EXPECT_EQ(settings.vip_queue, "vip_queue-test");
  EXPECT_TRUE(settings.compat_goblog_p9);
}

TEST(Settings, EmptyVipQueueNamesKeyAndSource) {
  config::Properties properties = Settings::Defaults();
  properties.Set("vip_queue", "", "environment VIP_QUEUE");

  try {
    static_cast<void>(Settings::From(properties));
    FAIL() << "an empty vip_queue was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vip_queue"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("environment VIP_QUEUE"), std::string::npos) << e.what();
  }
}

TEST(Settings, VipQueueTypeIsClassicOrQuorum) {
  config::Properties properties = Settings::Defaults();
  EXPECT_EQ(Settings::From(properties).vip_queue_type, messaging::QueueType::kClassic);
  properties.Set("vip_queue_type", "quorum", "environment VIP_QUEUE_TYPE");
  EXPECT_EQ(Settings::From(properties).vip_queue_type, messaging::QueueType::kQuorum);

  properties.Set("vip_queue_type", "replicated", "flag --set");
  try {
    static_cast<void>(Settings::From(properties));
    FAIL() << "vip_queue_type 'replicated' was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vip_queue_type: 'replicated' (flag --set) must be "
                                         "classic or quorum"),
              std::string::npos)
        << e.what();
  }

  properties.Set("vip_queue_type", "quorum", "flag --set");
  properties.Set("compat_goblog_p9", "true", "flag --set");
  EXPECT_THROW(static_cast<void>(Settings::From(properties)), config::ConfigError);
}

// The keys themselves are web::ServerOptionsFrom's (common/tests/web/server_settings_test.cpp).
TEST(Settings, HttpServerDefaultsAreTheCommonOnesOnPort6767) {
  const Settings settings = Settings::From(Settings::Defaults());
  EXPECT_EQ(settings.server.port, 6767);
  EXPECT_EQ(settings.server.address, "0.0.0.0");
  EXPECT_EQ(settings.server.request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(settings.server.threads, 0U);  // one per core
}

TEST(Settings, MetricsAreOnUnlessMetricsEnabledIsFalse) {
  config::Properties properties = Settings::Defaults();
  EXPECT_TRUE(Settings::From(properties).metrics_enabled);

  properties.Set("metrics_enabled", "false", "environment METRICS_ENABLED");
  EXPECT_FALSE(Settings::From(properties).metrics_enabled);

  properties.Set("metrics_enabled", "off-ish", "environment METRICS_ENABLED");
  EXPECT_THROW(static_cast<void>(Settings::From(properties)), config::ConfigError);
}

// The built-in defaults are written once, as Settings' member initializers; Defaults() is the
// layer that gives them back.
TEST(Settings, DefaultsAreTheDefaultConstructedSettings) {
  EXPECT_TRUE(Settings::From(Settings::Defaults()) == Settings{});
}

}  // namespace
}  // namespace cppblog::account
