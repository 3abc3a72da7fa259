#include "settings.hpp"

#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::vipservice {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string ErrorOf(const config::Properties& properties) {
  try {
    static_cast<void>(Settings::From(properties));
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

TEST(Settings, DefaultsMatchTheContractAndIssue) {
  const Settings settings = Settings::From(Settings::Defaults());

  EXPECT_EQ(settings.server.port, 6868);
  EXPECT_EQ(settings.server_name, "vipservice");
  EXPECT_EQ(settings.data_dir, "./data/vipservice");
  EXPECT_EQ(settings.amqp_server_url, "amqp://guest:guest@127.0.0.1:5672/%2F");
  EXPECT_EQ(settings.log_level, "info");
  EXPECT_EQ(settings.config_event_bus, "springCloudBus");
  EXPECT_EQ(settings.offer_cooldown, std::chrono::hours{24});
  EXPECT_FALSE(settings.compat_goblog_p9);
  EXPECT_EQ(settings.vip_queue, "vip_queue");
  EXPECT_EQ(settings.prefetch, 100);
  EXPECT_EQ(settings.handler_threads, 16U);
  EXPECT_EQ(settings.drain_timeout, std::chrono::seconds{5});
  EXPECT_EQ(settings.vip_queue_type, messaging::QueueType::kClassic);
  EXPECT_EQ(settings.offer_store_url, "");  // LMDB under data_dir
  EXPECT_EQ(settings.offer_store_password_file, "");
  EXPECT_EQ(settings.processed_id_retention, std::chrono::hours{7 * 24});
}

TEST(Settings, OfferStoreUrlThatIsNoPostgresqlUrlNamesKeySourceAndFormNotValue) {
  config::Properties properties = Settings::Defaults();
  config::Properties higher;
  higher.Set("offer_store_url", "host=db password=hunter2", "environment OFFER_STORE_URL");
  properties.OverrideWith(higher);

  const std::string error = ErrorOf(properties);

  EXPECT_THAT(error, AllOf(HasSubstr("offer_store_url"), HasSubstr("environment OFFER_STORE_URL"),
                           HasSubstr("postgresql://user:password@host:port/database")));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("hunter2")));
}

TEST(Settings, PostgresqlUrlAndRetentionAreRead) {
  config::Properties properties = Settings::Defaults();
  config::Properties higher;
  higher.Set("offer_store_url", "postgresql://u:p@db:5432/offers", "flag --set");
  higher.Set("processed_id_retention", "36h", "flag --set");
  properties.OverrideWith(higher);

  const Settings settings = Settings::From(properties);

  EXPECT_EQ(settings.offer_store_url, "postgresql://u:p@db:5432/offers");
  EXPECT_EQ(settings.processed_id_retention, std::chrono::hours{36});
}

TEST(Settings, ZeroRetentionNamesKeyAndWhatToGive) {
  config::Properties properties = Settings::Defaults();
  config::Properties higher;
  higher.Set("processed_id_retention", "0", "flag --set");
  properties.OverrideWith(higher);

  EXPECT_THAT(ErrorOf(properties),
              AllOf(HasSubstr("processed_id_retention"), HasSubstr("flag --set"), HasSubstr("7d")));
}

TEST(Settings, VipQueueTypeIsClassicOrQuorum) {
  config::Properties properties = Settings::Defaults();
  properties.Set("vip_queue_type", "Quorum", "environment VIP_QUEUE_TYPE");
  EXPECT_EQ(Settings::From(properties).vip_queue_type, messaging::QueueType::kQuorum);

  properties.Set("vip_queue_type", "stream", "environment VIP_QUEUE_TYPE");
  EXPECT_THAT(ErrorOf(properties),
              AllOf(HasSubstr("vip_queue_type: 'stream' (environment VIP_QUEUE_TYPE)"),
                    HasSubstr("must be classic or quorum")));
}

TEST(Settings, QuorumCannotBeDeclaredAsTheGoOriginal) {
  config::Properties properties = Settings::Defaults();
  properties.Set("vip_queue_type", "quorum", "environment VIP_QUEUE_TYPE");
  properties.Set("compat_goblog_p9", "true", "flag --set");
  EXPECT_THAT(ErrorOf(properties),
              AllOf(HasSubstr("compat_goblog_p9"), HasSubstr("set vip_queue_type=classic")));
}

TEST(Settings, HigherLayerOverridesDefaults) {
  config::Properties properties = Settings::Defaults();
  config::Properties higher;
  higher.Set("offer_cooldown", "0", "flag --set");
  higher.Set("compat_goblog_p9", "true", "environment COMPAT_GOBLOG_P9");
  higher.Set("vip_queue", "vip_queue_e2e_1", "flag --set");
  higher.Set("prefetch", "10", "flag --set");
  properties.OverrideWith(higher);

  const Settings settings = Settings::From(properties);

  EXPECT_EQ(settings.offer_cooldown, std::chrono::milliseconds{0});
  EXPECT_TRUE(settings.compat_goblog_p9);
  EXPECT_EQ(settings.vip_queue, "vip_queue_e2e_1");
  EXPECT_EQ(settings.prefetch, 10);
}

TEST(Settings, BadCooldownNamesKeyAndSource) {
  config::Properties properties = Settings::Defaults();
  properties.Set("offer_cooldown", "a day", "environment OFFER_COOLDOWN");

  EXPECT_THAT(ErrorOf(properties), AllOf(HasSubstr("offer_cooldown"), HasSubstr("OFFER_COOLDOWN")));
}

TEST(Settings, BadCompatFlagIsRejected) {
  config::Properties properties = Settings::Defaults();
  properties.Set("compat_goblog_p9", "maybe", "flag --set");

  EXPECT_THAT(ErrorOf(properties), HasSubstr("compat_goblog_p9"));
}

TEST(Settings, ZeroPrefetchIsRejected) {
  config::Properties properties = Settings::Defaults();
  properties.Set("prefetch", "0", "flag --set");

  EXPECT_THAT(ErrorOf(properties), HasSubstr("prefetch"));
}

TEST(Settings, EmptyQueueNameIsRejected) {
  config::Properties properties = Settings::Defaults();
  properties.Set("vip_queue", "", "flag --set");

  EXPECT_THAT(ErrorOf(properties), HasSubstr("vip_queue"));
}

TEST(Settings, EmptyDataDirIsRejected) {
  config::Properties properties = Settings::Defaults();
  properties.Set("data_dir", "", "flag --set");

  EXPECT_THAT(ErrorOf(properties), HasSubstr("data_dir is empty"));
}

TEST(Settings, UnknownLogLevelIsRejected) {
  config::Properties properties = Settings::Defaults();
  properties.Set("log_level", "verbose", "flag --set");

  EXPECT_THAT(ErrorOf(properties), HasSubstr("log_level: 'verbose'"));
}

// The keys themselves are web::ServerOptionsFrom's (common/tests/web/server_settings_test.cpp).
TEST(Settings, HttpServerDefaultsAreTheCommonOnesOnPort6868) {
  const Settings settings = Settings::From(Settings::Defaults());
  EXPECT_EQ(settings.server.port, 6868);
  EXPECT_EQ(settings.server.address, "0.0.0.0");
  EXPECT_EQ(settings.server.max_connections, 0U);  // derived from ulimit -n
  EXPECT_EQ(settings.server.request_timeout, std::chrono::seconds(30));
  EXPECT_THAT(ErrorOf([] {
                config::Properties properties = Settings::Defaults();
                properties.Set("request_timeout", "0", "flag --set");
                return properties;
              }()),
              HasSubstr("request_timeout: '0' (from flag --set)"));
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
}  // namespace cppblog::vipservice
