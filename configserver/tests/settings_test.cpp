#include "settings.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::configserver {
namespace {

TEST(Settings, DefaultsServeTheNativeRepositoryOnPort8888) {
  const Settings settings = Settings::From(Settings::Defaults());
  EXPECT_EQ(settings.server.port, 8888);
  EXPECT_EQ(settings.backend, Backend::kNative);
  EXPECT_EQ(settings.repository, "deploy/config-repo");
  EXPECT_TRUE(settings.accept_empty);
  EXPECT_TRUE(settings.watch);
  EXPECT_EQ(settings.watch_debounce, std::chrono::milliseconds(300));
  EXPECT_EQ(settings.default_label, "");
}

TEST(Settings, GitBackendAndLabelAreRead) {
  config::Properties properties = Settings::Defaults();
  properties.Set("config_backend", "git", "test");
  properties.Set("config_default_label", "P9", "test");
  properties.Set("config_accept_empty", "false", "test");
  const Settings settings = Settings::From(properties);
  EXPECT_EQ(settings.backend, Backend::kGit);
  EXPECT_EQ(settings.default_label, "P9");
  EXPECT_FALSE(settings.accept_empty);
}

TEST(Settings, UnknownBackendNamesKeyValueAndSource) {
  config::Properties properties = Settings::Defaults();
  properties.Set("config_backend", "svn", "environment CONFIG_BACKEND");
  try {
    static_cast<void>(Settings::From(properties));
    FAIL() << "expected ConfigError";
  } catch (const config::ConfigError& e) {
    EXPECT_STREQ(
        e.what(),
        "config_backend: 'svn' (environment CONFIG_BACKEND) is not a backend; use native or git");
  }
}

TEST(Settings, BadPortIsAConfigError) {
  config::Properties properties = Settings::Defaults();
  properties.Set("server_port", "99999", "test");
  EXPECT_THROW(static_cast<void>(Settings::From(properties)), config::ConfigError);
}

// The keys themselves are web::ServerOptionsFrom's (common/tests/web/server_settings_test.cpp).
TEST(Settings, HttpServerKeysReachTheServerOptions) {
  config::Properties properties = Settings::Defaults();
  properties.Set("server_address", "127.0.0.1", "environment SERVER_ADDRESS");
  properties.Set("max_connections", "500", "environment MAX_CONNECTIONS");
  const Settings settings = Settings::From(properties);
  EXPECT_EQ(settings.server.address, "127.0.0.1");
  EXPECT_EQ(settings.server.max_connections, 500U);
  EXPECT_EQ(settings.server.request_timeout, std::chrono::seconds(30));
}

TEST(Settings, AuthenticationIsOffUntilAPasswordIsSet) {
  const Settings defaults = Settings::From(Settings::Defaults());
  EXPECT_EQ(defaults.security_user, "user");
  EXPECT_EQ(defaults.security_password, "");
  EXPECT_EQ(defaults.monitor_webhook_secret, "");

  config::Properties properties = Settings::Defaults();
  properties.Set("spring.security.user.name", "configserver", "test");
  properties.Set("spring.security.user.password", "s3cret", "test");
  properties.Set("monitor_webhook_secret", "hook", "test");
  const Settings settings = Settings::From(properties);
  EXPECT_EQ(settings.security_user, "configserver");
  EXPECT_EQ(settings.security_password, "s3cret");
  EXPECT_EQ(settings.monitor_webhook_secret, "hook");
}

TEST(Settings, APasswordWithoutAUserIsAnErrorThatShowsNoPassword) {
  config::Properties properties = Settings::Defaults();
  properties.Set("spring.security.user.name", "", "test");
  properties.Set("spring.security.user.password", "s3cret", "test");
  try {
    static_cast<void>(Settings::From(properties));
    FAIL() << "expected ConfigError";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("spring.security.user.name"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos);
  }
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
}  // namespace cppblog::configserver
