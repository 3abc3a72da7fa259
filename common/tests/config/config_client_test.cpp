#include "cppblog/config/config_client.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/web/server.hpp"

#include "fake_config_server.hpp"

namespace cppblog::config {
namespace {

using namespace std::chrono_literals;

constexpr const char* kEnvironmentJson = R"({
  "name":"accountservice","profiles":["test"],"label":"P9","version":"c0ffee","state":null,
  "propertySources":[
    {"name":"file:/repo/accountservice-test.yml",
     "source":{"server_name":"from-test-yml","from_remote":"r","env_beats_remote":"r",
               "flag_beats_remote":"r","remote_beats_file":"r"}},
    {"name":"file:/repo/application.yml",
     "source":{"server_name":"from-application-yml","shared":"app"}}]})";

/// A port nothing listens on: a server that bound it is gone.
std::uint16_t ClosedPort() {
  const FakeConfigServer server(Serving("{}"));
  return server.Port();
}

Properties Defaults() {
  Properties defaults;
  for (const char* key : {"server_name", "from_remote", "env_beats_remote", "flag_beats_remote",
                          "remote_beats_file", "file_only", "default_only"}) {
    defaults.Set(key, std::string("default-") + key, "default");
  }
  return defaults;
}

EnvironmentLookup NoEnvironment() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

RetryPolicy QuickRetry(int attempts) {
  return {.max_attempts = attempts,
          .initial_interval = 5ms,
          .multiplier = 1.1,
          .max_interval = 10ms,
          .jitter = 0.1};
}

ConfigClientOptions Options(const TempDir& dir, std::optional<std::string> url) {
  CommandLine command_line;
  command_line.config_server_url = std::move(url);
  command_line.config_branch = "P9";
  command_line.config_dir = dir.path();
  return {.app = "accountservice",
          .command_line = command_line,
          .defaults = Defaults(),
          .environment = NoEnvironment(),
          .retry = QuickRetry(3),
          .request_timeout = 2s};
}

TEST(ConfigClient, FetchesTheEnvironmentOfAppProfileAndLabel) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  const ConfigClient client(Options(dir, server.Url()));

  const RemoteConfiguration remote = client.Fetch();

  EXPECT_EQ(server.LastPath(), "/accountservice/test/P9");
  EXPECT_EQ(server.LastHeader("Accept"), "application/json");
  EXPECT_EQ(remote.environment.version, "c0ffee");
  EXPECT_EQ(remote.environment.label, "P9");
  EXPECT_EQ(remote.url, server.Url() + "/accountservice/test/P9");
  EXPECT_EQ(remote.properties.GetString("server_name"), "from-test-yml");
  EXPECT_EQ(remote.properties.GetString("shared"), "app");
  EXPECT_EQ(remote.properties.Find("shared")->source, "configserver file:/repo/application.yml");
}

TEST(ConfigClient, WritesASlashInTheLabelAsSpringsPlaceholder) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  ConfigClientOptions options = Options(dir, server.Url() + "/config/");
  options.command_line.config_branch = "feature/vip";
  options.command_line.profile = "test,cloud";

  (void)ConfigClient(std::move(options)).Fetch();

  EXPECT_EQ(server.LastPath(), "/config/accountservice/test,cloud/feature(_)vip");
}

TEST(ConfigClient, AnEmptyLabelAsksForTheServersDefault) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  ConfigClientOptions options = Options(dir, server.Url());
  options.command_line.config_branch = "";

  (void)ConfigClient(std::move(options)).Fetch();

  EXPECT_EQ(server.LastPath(), "/accountservice/test");
}

TEST(ConfigClient, AcceptsABareHostAndPort) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;

  const ConfigClient client(Options(dir, "127.0.0.1:" + std::to_string(server.Port())));

  EXPECT_EQ(client.Fetch().properties.GetString("shared"), "app");
}

TEST(ConfigClient, SendsBasicCredentialsAndNeverShowsThePassword) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  const ConfigClient client(
      Options(dir, "http://user:s3cret@127.0.0.1:" + std::to_string(server.Port())));

  (void)client.Fetch();

  EXPECT_EQ(server.LastHeader("Authorization"), "Basic dXNlcjpzM2NyZXQ=");
  EXPECT_EQ(client.Url().find("s3cret"), std::string::npos);
}

EnvironmentLookup EnvironmentOf(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto found = variables.find(std::string(name));
    if (found == variables.end()) {
      return std::nullopt;
    }
    return found->second;
  };
}

TEST(ConfigClient, CredentialsComeFromTheEnvironmentInsteadOfTheUrl) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  ConfigClientOptions options = Options(dir, server.Url());
  options.environment = EnvironmentOf({{"SPRING_CLOUD_CONFIG_USERNAME", "configserver"},
                                       {"SPRING_CLOUD_CONFIG_PASSWORD", "s3cret"}});
  const ConfigClient client(std::move(options));

  (void)client.Fetch();

  EXPECT_EQ(server.LastHeader("Authorization"), "Basic Y29uZmlnc2VydmVyOnMzY3JldA==");
}

TEST(ConfigClient, ThePasswordMayComeFromAFileAndWinsOverTheUrl) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  dir.Write("password", "s3cret\n");
  ConfigClientOptions options =
      Options(dir, "http://configserver:old@127.0.0.1:" + std::to_string(server.Port()));
  options.environment =
      EnvironmentOf({{"SPRING_CLOUD_CONFIG_PASSWORD_FILE", (dir.path() / "password").string()}});
  const ConfigClient client(std::move(options));

  (void)client.Fetch();

  // configserver (the URL's user) : s3cret (the file's password, newline dropped)
  EXPECT_EQ(server.LastHeader("Authorization"), "Basic Y29uZmlnc2VydmVyOnMzY3JldA==");
}

TEST(ConfigClient, AnUnreadablePasswordFileIsAClearError) {
  const TempDir dir;
  ConfigClientOptions options = Options(dir, "http://127.0.0.1:1");
  options.environment =
      EnvironmentOf({{"SPRING_CLOUD_CONFIG_PASSWORD_FILE", (dir.path() / "missing").string()}});
  try {
    const ConfigClient client(std::move(options));
    ADD_FAILURE() << "no ConfigError for a missing password file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("SPRING_CLOUD_CONFIG_PASSWORD_FILE"), std::string::npos)
        << e.what();
  }
}

// Issue 16.3: a '/' or '?' in the password made the URL unparseable before it was masked.
TEST(ConfigClient, APasswordWithSlashAndQuestionMarkReachesNoLogLineAndNoError) {
  std::ostringstream log;
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  spdlog::set_level(spdlog::level::trace);
  const TempDir dir;
  const std::string port = std::to_string(ClosedPort());
  std::string errors;
  for (const std::string& url :
       {"http://u:S3c/r3t?x@127.0.0.1:" + port, "http://u:S3c/r3t@127.0.0.1:" + port,
        "u:S3c/r3t?x@127.0.0.1:" + port, "http://u:S3c%2Fr3t%3Fx@127.0.0.1:" + port}) {
    try {
      const ConfigClient client(Options(dir, url));
      errors += client.Url() + "\n";
      const LoadedConfiguration loaded = client.Load();  // fail_fast false: warns, runs locally
      EXPECT_FALSE(loaded.remote.has_value());
      (void)client.Fetch();
    } catch (const ConfigError& e) {
      errors += std::string(e.what()) + "\n";
    }
  }
  spdlog::set_default_logger(previous);

  EXPECT_FALSE(errors.empty());
  for (const std::string& text : {errors, log.str()}) {
    EXPECT_EQ(text.find("S3c"), std::string::npos) << text;
    EXPECT_EQ(text.find("r3t"), std::string::npos) << text;
  }
}

TEST(ConfigClient, RetriesUntilTheServerAnswers) {
  const FakeConfigServer server([](const web::Request&, int request) {
    if (request <= 2) {
      return web::Response::Error(503, "starting");
    }
    return web::Response::Json(200, kEnvironmentJson);
  });
  const TempDir dir;
  const ConfigClient client(Options(dir, server.Url()));

  const LoadedConfiguration loaded = client.Load();

  EXPECT_EQ(server.Requests(), 3);
  ASSERT_TRUE(loaded.remote.has_value());
  EXPECT_EQ(loaded.properties.GetString("server_name"), "from-test-yml");
}

TEST(ConfigClient, FailFastStopsWithAClearErrorAfterTheLastAttempt) {
  const TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  ConfigClientOptions options = Options(dir, url);
  options.fail_fast = true;
  const ConfigClient client(std::move(options));

  try {
    (void)client.Load();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cannot load configuration from " + url + "/accountservice/test/P9: "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("after 3 attempts"), std::string::npos) << message;
    EXPECT_NE(message.find("is the configserver running? set -configServerUrl or fail_fast=false"),
              std::string::npos)
        << message;
  }
}

TEST(ConfigClient, WithoutFailFastStartsOnTheLocalLayers) {
  const TempDir dir;
  dir.Write("accountservice.yml", "file_only: from-file\n");
  const ConfigClient client(Options(dir, "http://127.0.0.1:" + std::to_string(ClosedPort())));

  const LoadedConfiguration loaded = client.Load();

  EXPECT_FALSE(loaded.remote.has_value());
  EXPECT_EQ(loaded.properties.GetString("file_only"), "from-file");
  EXPECT_EQ(loaded.properties.GetString("from_remote"), "default-from_remote");
}

TEST(ConfigClient, FailFastCanComeFromTheLocalLayers) {
  const TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  ConfigClientOptions by_flag = Options(dir, url);
  by_flag.command_line.overrides.emplace_back("fail_fast", "true");
  ConfigClientOptions by_file = Options(dir, url);
  by_file.command_line.profile = "strict";
  dir.Write("accountservice-strict.yml", "fail_fast: true\n");
  ConfigClientOptions by_environment = Options(dir, url);
  by_environment.environment = [](std::string_view name) -> std::optional<std::string> {
    if (name == "FAIL_FAST") {
      return "true";
    }
    return std::nullopt;
  };

  EXPECT_THROW((void)ConfigClient(std::move(by_flag)).Load(), ConfigError);
  EXPECT_THROW((void)ConfigClient(std::move(by_file)).Load(), ConfigError);
  EXPECT_THROW((void)ConfigClient(std::move(by_environment)).Load(), ConfigError);
}

TEST(ConfigClient, ARefreshNeverFallsBackToTheLocalLayers) {
  const TempDir dir;
  const ConfigClient client(Options(dir, "http://127.0.0.1:" + std::to_string(ClosedPort())));

  EXPECT_THROW((void)client.Load(LoadMode::kRefresh), ConfigError);
}

TEST(ConfigClient, LayersRemoteBetweenFilesAndEnvironment) {
  const FakeConfigServer server(Serving(kEnvironmentJson));
  const TempDir dir;
  dir.Write("accountservice.yml", "file_only: file\nremote_beats_file: file\n");
  ConfigClientOptions options = Options(dir, server.Url());
  options.environment = [](std::string_view name) -> std::optional<std::string> {
    if (name == "ENV_BEATS_REMOTE") {
      return "env";
    }
    return std::nullopt;
  };
  options.command_line.overrides.emplace_back("flag_beats_remote", "flag");

  const Properties properties = ConfigClient(std::move(options)).Load().properties;

  EXPECT_EQ(properties.GetString("default_only"), "default-default_only");
  EXPECT_EQ(properties.GetString("file_only"), "file");
  EXPECT_EQ(properties.GetString("remote_beats_file"), "r");
  EXPECT_EQ(properties.Find("remote_beats_file")->source,
            "configserver file:/repo/accountservice-test.yml");
  EXPECT_EQ(properties.GetString("env_beats_remote"), "env");
  EXPECT_EQ(properties.Find("env_beats_remote")->source, "environment ENV_BEATS_REMOTE");
  EXPECT_EQ(properties.GetString("flag_beats_remote"), "flag");
  EXPECT_EQ(properties.GetString("server_name"), "from-test-yml");
}

TEST(ConfigClient, WithoutAServerUrlRunsOnLocalFiles) {
  const TempDir dir;
  dir.Write("accountservice-test.yml", "file_only: test-file\n");
  const ConfigClient client(Options(dir, std::nullopt));

  const LoadedConfiguration loaded = client.Load();

  EXPECT_FALSE(client.HasServer());
  EXPECT_FALSE(loaded.remote.has_value());
  EXPECT_EQ(loaded.properties.GetString("file_only"), "test-file");
  EXPECT_THROW((void)client.Fetch(), ConfigError);
}

TEST(ConfigClient, AnUnknownApplicationIsRetriedThenReported) {
  const FakeConfigServer server(
      [](const web::Request&, int) { return web::Response::Error(404, "no such application"); });
  const TempDir dir;
  ConfigClientOptions options = Options(dir, server.Url());
  options.fail_fast = true;

  try {
    (void)ConfigClient(std::move(options)).Load();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 404"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.Requests(), 3);
}

TEST(ConfigClient, AMalformedAnswerIsAnErrorEvenWithoutFailFast) {
  const FakeConfigServer server(Serving("{\"propertySources\": 5}"));
  const TempDir dir;

  EXPECT_THROW((void)ConfigClient(Options(dir, server.Url())).Load(), ConfigError);
  EXPECT_EQ(server.Requests(), 1);
}

TEST(ConfigClient, ASlowServerTimesOut) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  const FakeConfigServer server([released](const web::Request&, int) {
    (void)released.wait_for(10s);
    return web::Response::Json(200, kEnvironmentJson);
  });
  const TempDir dir;
  ConfigClientOptions options = Options(dir, server.Url());
  options.retry = QuickRetry(1);
  options.request_timeout = 200ms;
  options.fail_fast = true;

  try {
    (void)ConfigClient(std::move(options)).Load();
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no answer within 200 ms"), std::string::npos) << e.what();
  }
  release.set_value();
}

TEST(ConfigClient, RejectsUrlsItCannotUse) {
  const TempDir dir;

  EXPECT_THROW(ConfigClient(Options(dir, "https://configserver:8888")), ConfigError);
  EXPECT_THROW(ConfigClient(Options(dir, "ftp://configserver")), ConfigError);
  EXPECT_THROW(ConfigClient(Options(dir, "http://")), ConfigError);
}

}  // namespace
}  // namespace cppblog::config
