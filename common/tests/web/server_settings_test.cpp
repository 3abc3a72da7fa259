#include "cppblog/web/server_settings.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::web {
namespace {

// The message of the ConfigError that reading `properties` throws; empty when none is thrown.
std::string ErrorOf(const config::Properties& properties) {
  try {
    static_cast<void>(ServerOptionsFrom(properties));
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return {};
}

config::Properties DefaultsWith(std::string key, std::string value, std::string source) {
  config::Properties properties = ServerDefaults(6767);
  properties.Set(std::move(key), std::move(value), std::move(source));
  return properties;
}

TEST(ServerSettings, DefaultsAreTheServersOwnAndTheGivenPort) {
  const ServerOptions options = ServerOptionsFrom(ServerDefaults(6767));
  const ServerOptions built_in;

  EXPECT_EQ(options.port, 6767);
  EXPECT_EQ(options.address, "0.0.0.0");
  EXPECT_EQ(options.max_connections, 0U);  // derived from ulimit -n
  EXPECT_EQ(options.request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(options.threads, 0U);  // one per core
  EXPECT_EQ(options.idle_timeout, built_in.idle_timeout);
  EXPECT_EQ(options.header_limit, built_in.header_limit);
  EXPECT_EQ(options.body_limit, built_in.body_limit);
}

TEST(ServerSettings, DefaultsAreTheLowestLayerAndSaySo) {
  const config::Properties defaults = ServerDefaults(8888);

  for (const char* key :
       {"server_port", "server_address", "max_connections", "request_timeout", "http_threads"}) {
    const auto* value = defaults.Find(key);
    ASSERT_NE(value, nullptr) << key;
    EXPECT_EQ(value->source, "default") << key;
  }
  EXPECT_EQ(defaults.Find("server_port")->text, "8888");
  EXPECT_EQ(defaults.Find("request_timeout")->text, "30s");
  EXPECT_EQ(defaults.All().size(), 5U);
}

TEST(ServerSettings, EveryKeyCanBeSet) {
  config::Properties properties = ServerDefaults(6767);
  config::Properties higher;
  higher.Set("server_port", "7000", "flag --set");
  higher.Set("server_address", "127.0.0.1", "environment SERVER_ADDRESS");
  higher.Set("max_connections", "500", "environment MAX_CONNECTIONS");
  higher.Set("request_timeout", "10s", "environment REQUEST_TIMEOUT");
  higher.Set("http_threads", "4", "flag --set");
  properties.OverrideWith(higher);

  const ServerOptions options = ServerOptionsFrom(properties);

  EXPECT_EQ(options.port, 7000);
  EXPECT_EQ(options.address, "127.0.0.1");
  EXPECT_EQ(options.max_connections, 500U);
  EXPECT_EQ(options.request_timeout, std::chrono::seconds(10));
  EXPECT_EQ(options.threads, 4U);
}

TEST(ServerSettings, AnIpv6AddressIsAccepted) {
  EXPECT_EQ(ServerOptionsFrom(DefaultsWith("server_address", "::", "test")).address, "::");
  EXPECT_EQ(ServerOptionsFrom(DefaultsWith("server_address", " ::1 ", "test")).address, "::1");
}

TEST(ServerSettings, ABadPortNamesKeyValueAndSource) {
  const std::string message =
      ErrorOf(DefaultsWith("server_port", "abc", "environment SERVER_PORT"));

  EXPECT_NE(message.find("server_port: 'abc' (from environment SERVER_PORT)"), std::string::npos)
      << message;
  EXPECT_NE(ErrorOf(DefaultsWith("server_port", "99999", "test")), "");
  EXPECT_NE(ErrorOf(DefaultsWith("server_port", "0", "test")), "");
}

TEST(ServerSettings, AHostNameIsRefusedWithWhatToGiveInstead) {
  const std::string message =
      ErrorOf(DefaultsWith("server_address", "localhost", "environment SERVER_ADDRESS"));

  EXPECT_NE(message.find("server_address: 'localhost' (from environment SERVER_ADDRESS) is not "
                         "an IP address"),
            std::string::npos)
      << message;
}

TEST(ServerSettings, MaxConnectionsIsBounded) {
  EXPECT_EQ(ServerOptionsFrom(DefaultsWith("max_connections", "1000000", "test")).max_connections,
            1'000'000U);
  const std::string message =
      ErrorOf(DefaultsWith("max_connections", "1000001", "environment MAX_CONNECTIONS"));

  EXPECT_NE(message.find("max_connections: '1000001' (from environment MAX_CONNECTIONS)"),
            std::string::npos)
      << message;
  EXPECT_NE(ErrorOf(DefaultsWith("max_connections", "-1", "test")), "");
  EXPECT_NE(ErrorOf(DefaultsWith("max_connections", "many", "test")), "");
}

TEST(ServerSettings, ARequestTimeoutOfZeroIsRefusedWithAnExample) {
  for (const char* zero : {"0", "0s", "0ms"}) {
    const std::string message =
        ErrorOf(DefaultsWith("request_timeout", zero, "environment REQUEST_TIMEOUT"));

    EXPECT_NE(message.find(std::string("request_timeout: '") + zero +
                           "' (from environment REQUEST_TIMEOUT) must be more than 0"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("like 30s"), std::string::npos) << message;
  }
  EXPECT_NE(ErrorOf(DefaultsWith("request_timeout", "-5s", "test")), "");
  EXPECT_EQ(ServerOptionsFrom(DefaultsWith("request_timeout", "250ms", "test")).request_timeout,
            std::chrono::milliseconds(250));
}

TEST(ServerSettings, HttpThreadsAreBounded) {
  EXPECT_EQ(ServerOptionsFrom(DefaultsWith("http_threads", "1024", "test")).threads, 1024U);
  const std::string message =
      ErrorOf(DefaultsWith("http_threads", "5000", "environment HTTP_THREADS"));

  EXPECT_NE(message.find("http_threads: '5000' (from environment HTTP_THREADS)"), std::string::npos)
      << message;
}

TEST(ServerSettings, AMissingKeySaysHowToSetIt) {
  config::Properties properties;
  properties.Set("server_port", "6767", "test");

  const std::string message = ErrorOf(properties);

  EXPECT_NE(message.find("server_address is not set"), std::string::npos) << message;
  EXPECT_NE(message.find("SERVER_ADDRESS"), std::string::npos) << message;
}

}  // namespace
}  // namespace cppblog::web
