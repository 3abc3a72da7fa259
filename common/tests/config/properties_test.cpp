#include "cppblog/config/properties.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/property_text.hpp"
#include "cppblog/logging/logging.hpp"

namespace cppblog::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

Properties With(const std::string& key, const std::string& text,
                const std::string& source = "default") {
  Properties properties;
  properties.Set(key, text, source);
  return properties;
}

// The message of the ConfigError `call` throws; fails the test when it throws none.
template <typename Call>
std::string ErrorOf(Call call) {
  try {
    call();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

TEST(Properties, GetStringReturnsTheText) {
  EXPECT_EQ(With("server_name", "accountservice").GetString("server_name"), "accountservice");
}

TEST(Properties, MissingKeyErrorNamesKeyAndWaysToSetIt) {
  const std::string error = ErrorOf([] { (void)Properties{}.GetString("data_dir"); });
  EXPECT_THAT(error, HasSubstr("data_dir is not set"));
  EXPECT_THAT(error, HasSubstr("DATA_DIR"));
  EXPECT_THAT(error, HasSubstr("--set data_dir="));
}

// Moved from the logging tests with Properties' log-level check (logging depends on no config).
TEST(Properties, GetLogLevelNamesKeyAndSource) {
  Properties properties;
  properties.Set("log_level", "loud", "environment LOG_LEVEL");
  try {
    static_cast<void>(properties.GetLogLevel("log_level"));
    FAIL() << "no ConfigError thrown";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("log_level: 'loud' (from environment LOG_LEVEL) is not a log level"));
    EXPECT_THAT(e.what(), HasSubstr("(one of trace, debug, info, warn, error, critical, off)"));
  }
  properties.Set("log_level", "Debug", "flag --set");
  logging::SetLevel(properties.GetLogLevel("log_level"));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  spdlog::set_level(spdlog::level::info);
}

TEST(Properties, GetLogLevelTakesEveryLevelInAnyCase) {
  Properties properties;
  for (const char* level :
       {"trace", "DEBUG", "Info", "warn", "warning", "error", "critical", "off"}) {
    properties.Set("log_level", level, "test");
    EXPECT_EQ(properties.GetLogLevel("log_level"), level);
  }
  for (const char* level : {"", "verbose", " info", "warn ing"}) {
    properties.Set("log_level", level, "test");
    EXPECT_THROW(static_cast<void>(properties.GetLogLevel("log_level")), ConfigError) << level;
  }
}

TEST(Properties, GetPortAcceptsTheWholeRange) {
  EXPECT_EQ(With("server_port", "6767").GetPort("server_port"), 6767);
  EXPECT_EQ(With("server_port", "1").GetPort("server_port"), 1);
  EXPECT_EQ(With("server_port", "65535").GetPort("server_port"), 65535);
}

TEST(Properties, BadPortErrorNamesKeyValueAndSource) {
  const auto properties = With("server_port", "abc", "environment SERVER_PORT");
  EXPECT_EQ(ErrorOf([&] { (void)properties.GetPort("server_port"); }),
            "server_port: 'abc' (from environment SERVER_PORT) is not a port number (1-65535)");
}

TEST(Properties, GetPortRejectsOutOfRangeAndTrailingText) {
  for (const char* text : {"0", "65536", "-1", "80x", "", "99999999999999999999"}) {
    EXPECT_THROW((void)With("server_port", text).GetPort("server_port"), ConfigError) << text;
  }
}

TEST(Properties, GetIpAddressAcceptsIpv4AndIpv6) {
  EXPECT_EQ(With("server_address", "127.0.0.1").GetIpAddress("server_address"), "127.0.0.1");
  EXPECT_EQ(With("server_address", " 0.0.0.0 ").GetIpAddress("server_address"), "0.0.0.0");
  EXPECT_EQ(With("server_address", "::").GetIpAddress("server_address"), "::");
  EXPECT_EQ(With("server_address", "::1").GetIpAddress("server_address"), "::1");
}

TEST(Properties, BadIpAddressErrorNamesKeyValueAndSource) {
  const auto properties = With("server_address", "localhost", "environment SERVER_ADDRESS");
  const std::string error = ErrorOf([&] { (void)properties.GetIpAddress("server_address"); });
  EXPECT_THAT(error, HasSubstr("server_address: 'localhost' (from environment SERVER_ADDRESS) is "
                               "not an IP address"));
  for (const char* text : {"", "256.0.0.1", "1.2.3", "127.0.0.1:80", "[::1]"}) {
    EXPECT_THROW((void)With("server_address", text).GetIpAddress("server_address"), ConfigError)
        << text;
  }
}

TEST(Properties, GetIntChecksTheRange) {
  const auto properties = With("prefetch", "100", "config/vipservice.yml");
  EXPECT_EQ(properties.GetInt("prefetch", 1, 1000), 100);
  EXPECT_EQ(ErrorOf([&] { (void)properties.GetInt("prefetch", 1, 50); }),
            "prefetch: '100' (from config/vipservice.yml) is not an integer between 1 and 50");
  EXPECT_EQ(With("n", " -5 ").GetInt("n", -10, 10), -5);
}

TEST(Properties, GetBoolAcceptsCommonSpellings) {
  for (const char* text : {"true", "TRUE", "yes", "On", "1"}) {
    EXPECT_TRUE(With("fail_fast", text).GetBool("fail_fast")) << text;
  }
  for (const char* text : {"false", "No", "off", "0"}) {
    EXPECT_FALSE(With("fail_fast", text).GetBool("fail_fast")) << text;
  }
  EXPECT_THAT(ErrorOf([] { (void)With("fail_fast", "maybe").GetBool("fail_fast"); }),
              HasSubstr("fail_fast: 'maybe' (from default) is not a boolean"));
}

TEST(Properties, GetDurationReadsUnitsAndBareSeconds) {
  EXPECT_EQ(With("d", "250ms").GetDuration("d"), 250ms);
  EXPECT_EQ(With("d", "10s").GetDuration("d"), 10s);
  EXPECT_EQ(With("d", "5m").GetDuration("d"), 5min);
  EXPECT_EQ(With("d", "24h").GetDuration("d"), 24h);
  EXPECT_EQ(With("d", "1d").GetDuration("d"), 24h);
  EXPECT_EQ(With("d", "30").GetDuration("d"), 30s);
  EXPECT_EQ(With("d", "0").GetDuration("d"), 0ms);
  EXPECT_EQ(With("d", " 2 h ").GetDuration("d"), 2h);
}

TEST(Properties, DurationTextIsReadBackAsTheSameDuration) {
  EXPECT_EQ(DurationText(7 * 24h), "7d");
  EXPECT_EQ(DurationText(24h), "1d");
  EXPECT_EQ(DurationText(90min), "90m");
  EXPECT_EQ(DurationText(30s), "30s");
  EXPECT_EQ(DurationText(300ms), "300ms");
  EXPECT_EQ(DurationText(0ms), "0s");
  const std::vector<std::chrono::milliseconds> durations{0ms, 1ms,  1500ms, 5s,
                                                         61s, 5min, 25h,    24h * 7};
  for (const auto duration : durations) {
    EXPECT_EQ(With("d", DurationText(duration)).GetDuration("d"), duration) << duration.count();
  }
}

TEST(Properties, BoolTextIsReadBackAsTheSameBool) {
  EXPECT_TRUE(With("b", BoolText(true)).GetBool("b"));
  EXPECT_FALSE(With("b", BoolText(false)).GetBool("b"));
}

TEST(Properties, GetDurationRejectsNegativeUnknownUnitsAndOverflow) {
  for (const char* text : {"-1s", "5x", "s", "", "1.5s", "10 sec", "99999999999999999999d"}) {
    EXPECT_THROW((void)With("d", text).GetDuration("d"), ConfigError) << text;
  }
  EXPECT_THAT(ErrorOf([] { (void)With("offer_cooldown", "5x").GetDuration("offer_cooldown"); }),
              HasSubstr("offer_cooldown: '5x' (from default) is not a duration"));
}

TEST(Properties, GetListReadsIndexedItems) {
  Properties properties;
  properties.Set("vip_accounts[0]", "10000", "f.yml");
  properties.Set("vip_accounts[1]", "10001", "f.yml");
  EXPECT_TRUE(properties.Has("vip_accounts"));
  EXPECT_THAT(properties.GetList("vip_accounts"), ElementsAre("10000", "10001"));
}

TEST(Properties, GetListSplitsACommaSeparatedScalar) {
  EXPECT_THAT(With("vip_accounts", "10000, 10001,,").GetList("vip_accounts"),
              ElementsAre("10000", "10001"));
  EXPECT_THAT(With("vip_accounts", "").GetList("vip_accounts"), IsEmpty());
}

TEST(Properties, GetListOfMapsIsAnError) {
  Properties properties;
  properties.Set("routes[0].path", "/a", "f.yml");
  EXPECT_THAT(ErrorOf([&] { (void)properties.GetList("routes"); }),
              HasSubstr("routes: item 0 (from f.yml) is a map or a list"));
}

TEST(Properties, GetListOfMissingKeyIsAnError) {
  EXPECT_THROW((void)Properties{}.GetList("vip_accounts"), ConfigError);
}

TEST(Properties, OverrideWithReplacesScalarsAndKeepsOthers) {
  Properties lower;
  lower.Set("server_port", "6767", "default");
  lower.Set("server_name", "accountservice", "default");
  lower.OverrideWith(With("server_port", "7000", "environment SERVER_PORT"));
  EXPECT_EQ(*lower.Find("server_port"), (PropertyValue{"7000", "environment SERVER_PORT"}));
  EXPECT_EQ(lower.GetString("server_name"), "accountservice");
}

TEST(Properties, OverrideWithReplacesAWholeList) {
  Properties lower;
  lower.Set("vip_accounts[0]", "10000", "default");
  lower.Set("vip_accounts[1]", "10001", "default");
  lower.Set("vip_accounts[2]", "10002", "default");
  Properties higher;
  higher.Set("vip_accounts[0]", "20000", "a.yml");
  lower.OverrideWith(higher);
  EXPECT_THAT(lower.GetList("vip_accounts"), ElementsAre("20000"));
  EXPECT_FALSE(lower.Has("vip_accounts[1]"));
}

TEST(Properties, OverrideWithScalarReplacesAList) {
  Properties lower;
  lower.Set("vip_accounts[0]", "10000", "default");
  lower.Set("vip_accounts[1]", "10001", "default");
  lower.OverrideWith(With("vip_accounts", "1,2,3", "environment VIP_ACCOUNTS"));
  EXPECT_THAT(lower.GetList("vip_accounts"), ElementsAre("1", "2", "3"));
  EXPECT_THAT(lower.All(), Not(testing::Contains(testing::Key("vip_accounts[0]"))));
}

TEST(Properties, OverrideWithReplacesAListOfMapsWhole) {
  Properties lower;
  lower.Set("routes[0].path", "/a", "default");
  lower.Set("routes[1].path", "/b", "default");
  lower.Set("routes_extra", "kept", "default");
  Properties higher;
  higher.Set("routes[0].name", "x", "a.yml");
  lower.OverrideWith(higher);
  EXPECT_EQ(lower.All().size(), 2U);
  EXPECT_TRUE(lower.Has("routes[0].name"));
  EXPECT_TRUE(lower.Has("routes_extra"));
}

TEST(Properties, OverrideWithMergesMapsKeyByKey) {
  Properties lower;
  lower.Set("amqp.host", "localhost", "default");
  lower.Set("amqp.port", "5672", "default");
  lower.OverrideWith(With("amqp.port", "5673", "a.yml"));
  EXPECT_EQ(lower.GetString("amqp.host"), "localhost");
  EXPECT_EQ(lower.GetPort("amqp.port"), 5673);
}

TEST(Properties, ErrorsMaskSecrets) {
  const auto url = With("amqp_server_url", "amqp://guest:s3cret@localhost:5672/", "f.yml");
  const std::string url_error = ErrorOf([&] { (void)url.GetPort("amqp_server_url"); });
  EXPECT_THAT(url_error, Not(HasSubstr("s3cret")));
  EXPECT_THAT(url_error, HasSubstr("amqp://guest:***@localhost:5672/"));

  const auto password = With("amqp_password", "hunter2", "f.yml");
  EXPECT_THAT(ErrorOf([&] { (void)password.GetInt("amqp_password", 0, 1); }),
              Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace cppblog::config
