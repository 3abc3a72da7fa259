#include <csignal>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "http_client.hpp"
#include "service_process.hpp"

namespace cppblog::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::Optional;

// A running accountservice on a free port with its own data and (empty) config dir.
struct AccountService {
  explicit AccountService(const TempDir& data_dir, std::vector<std::string> extra_args = {},
                          std::vector<std::pair<std::string, std::string>> env = {})
      : port(FreePort()), process(Options(data_dir, port, std::move(extra_args), std::move(env))) {}

  static ServiceOptions Options(const TempDir& data_dir, std::uint16_t port,
                                std::vector<std::string> extra_args,
                                std::vector<std::pair<std::string, std::string>> env) {
    std::filesystem::create_directories(data_dir.path() / "no-config");
    std::vector<std::string> args = {
        "--config-dir", (data_dir.path() / "no-config").string(),
        "--set",        "server_port=" + std::to_string(port),
        "--set",        "data_dir=" + (data_dir.path() / "store").string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return {.binary = BinaryPath("CPPBLOG_ACCOUNTSERVICE_BIN", CPPBLOG_ACCOUNTSERVICE_BIN),
            .args = std::move(args),
            .env = std::move(env)};
  }

  std::uint16_t port;
  ServiceProcess process;
};

TEST(AccountServiceE2e, ServesAnAccountAsContractJson) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();

  const HttpResponse response = HttpGet(service.port, "/accounts/10000");

  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.Header("Content-Type"), Optional(std::string("application/json")));
  EXPECT_THAT(response.body,
              MatchesRegex(R"(\{"id":"10000","name":"Person_0","servedBy":"[0-9.]+"\})"));
}

TEST(AccountServiceE2e, LogsWhereItListens) {
  const TempDir data;
  AccountService service{data};

  EXPECT_TRUE(service.process.WaitForOutput(
      "accountservice listening on :" + std::to_string(service.port), 10s))
      << service.process.Output();
}

TEST(AccountServiceE2e, UnknownAccountIsNotFoundWithJsonError) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();

  const HttpResponse response = HttpGet(service.port, "/accounts/10100");

  EXPECT_EQ(response.status, 404);
  EXPECT_THAT(response.body, HasSubstr("\"error\""));
}

TEST(AccountServiceE2e, MalformedIdIsBadRequest) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();

  EXPECT_EQ(HttpGet(service.port, "/accounts/abc").status, 400);
  EXPECT_EQ(HttpGet(service.port, "/accounts/" + std::string(33, '9')).status, 400);
}

TEST(AccountServiceE2e, UnknownPathIsNotFound) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();

  EXPECT_EQ(HttpGet(service.port, "/nothing/here").status, 404);
}

TEST(AccountServiceE2e, WrongMethodIsMethodNotAllowedWithAllow) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();
  HttpConnection connection{service.port};

  const HttpResponse response = connection.Request("POST", "/accounts/10000", "{}");

  EXPECT_EQ(response.status, 405);
  EXPECT_THAT(response.Header("Allow"), Optional(HasSubstr("GET")));
}

TEST(AccountServiceE2e, HealthIsUp) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();

  const HttpResponse response = HttpGet(service.port, "/health");

  // The broker's state is part of the body; a broker outage never makes the service unhealthy.
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body,
              MatchesRegex(R"re(\{"status":"UP","broker":"(connected|recovering|blocked)",)re"
                           R"re("broker_node":"[^"]+:[0-9]+"\})re"));
}

TEST(AccountServiceE2e, TestabilitySwitchTogglesHealth) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();
  HttpConnection connection{service.port};

  EXPECT_EQ(connection.Get("/testability/healthy/false").status, 200);
  const HttpResponse down = connection.Get("/health");
  EXPECT_EQ(connection.Get("/testability/healthy/true").status, 200);
  const HttpResponse up = connection.Get("/health");

  EXPECT_EQ(down.status, 503);
  // The contract's status, and (issue 16.4) which check failed.
  EXPECT_EQ(down.body, R"({"status":"Database unaccessible","reason":"healthy_switch: unusable"})");
  EXPECT_EQ(up.status, 200);
}

TEST(AccountServiceE2e, TestabilitySwitchRejectsOtherStates) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();

  EXPECT_EQ(HttpGet(service.port, "/testability/healthy/yes").status, 400);
  EXPECT_EQ(HttpGet(service.port, "/health").status, 200);
}

TEST(AccountServiceE2e, OversizedHeaderIsRequestHeaderFieldsTooLarge) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();
  HttpConnection connection{service.port};

  const HttpResponse response =
      connection.Request("GET", "/accounts/10000", {}, {{"X-Filler", std::string(9000, 'a')}});

  EXPECT_EQ(response.status, 431);
}

TEST(AccountServiceE2e, TwoHundredKeepAliveRequestsShareOneConnection) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();
  HttpConnection connection{service.port};

  int ok = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string id = std::to_string(10000 + i % 100);
    const HttpResponse response = connection.Get("/accounts/" + id);
    if (response.status == 200 &&
        response.body.find("\"id\":\"" + id + "\"") != std::string::npos) {
      ++ok;
    }
  }

  EXPECT_EQ(ok, 200);
}

TEST(AccountServiceE2e, SigtermWithAClientConnectedExitsZeroWithinTwoSeconds) {
  const TempDir data;
  AccountService service{data};
  ASSERT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();
  HttpConnection connection{service.port};
  ASSERT_EQ(connection.Get("/accounts/10001").status, 200);

  service.process.Signal(SIGTERM);

  EXPECT_THAT(service.process.WaitExit(2s), Optional(0)) << service.process.Output();
  EXPECT_TRUE(connection.WaitClosedByPeer(1s));
}

TEST(AccountServiceE2e, RestartOnTheSameDataDirKeepsTheHundredAccounts) {
  const TempDir data;
  {
    AccountService first{data};
    ASSERT_TRUE(first.process.WaitHealthy(first.port)) << first.process.Output();
    first.process.Signal(SIGTERM);
    ASSERT_THAT(first.process.WaitExit(2s), Optional(0)) << first.process.Output();
  }
  AccountService second{data};
  ASSERT_TRUE(second.process.WaitHealthy(second.port)) << second.process.Output();
  HttpConnection connection{second.port};

  int found = 0;
  for (int id = 10000; id < 10100; ++id) {
    if (connection.Get("/accounts/" + std::to_string(id)).status == 200) ++found;
  }

  EXPECT_EQ(found, 100);
  EXPECT_EQ(connection.Get("/accounts/10100").status, 404);
}

TEST(AccountServiceE2e, BadSettingExitsOneNamingTheKey) {
  const TempDir data;
  AccountService service{data, {"--set", "server_port=not-a-port"}};

  EXPECT_THAT(service.process.WaitExit(10s), Optional(1));
  EXPECT_THAT(service.process.Output(), HasSubstr("server_port"));
}

TEST(AccountServiceE2e, ServerAddressFromTheEnvironmentIsWhereItListens) {
  const TempDir data;
  AccountService service{data, {}, {{"SERVER_ADDRESS", "127.0.0.1"}}};

  EXPECT_TRUE(service.process.WaitHealthy(service.port)) << service.process.Output();
  EXPECT_THAT(service.process.Output(),
              HasSubstr("serving HTTP on 127.0.0.1:" + std::to_string(service.port)));
}

TEST(AccountServiceE2e, BadServerAddressExitsOneNamingTheKey) {
  const TempDir data;
  AccountService service{data, {}, {{"SERVER_ADDRESS", "localhost"}}};

  EXPECT_THAT(service.process.WaitExit(10s), Optional(1));
  EXPECT_THAT(service.process.Output(),
              HasSubstr("server_address: 'localhost' (from environment SERVER_ADDRESS) is not an "
                        "IP address"));
}

// Issue 16.3: an unencoded '/' or '?' in the password was printed whole, seven times.
TEST(AccountServiceE2e, AConfigServerPasswordWithSlashAndQuestionMarkIsNeverPrinted) {
  for (const std::string url : {"http://u:S3c/r3t?x@127.0.0.1:1", "u:S3c/r3t?x@127.0.0.1:1"}) {
    const TempDir data;
    AccountService service{data, {"-configServerUrl", url, "--set", "fail_fast=true"}};

    EXPECT_EQ(service.process.WaitExit(10s), 1) << url;

    const std::string output = service.process.Output();
    EXPECT_THAT(output, HasSubstr("percent-encoded")) << output;
    EXPECT_THAT(output, Not(HasSubstr("S3c"))) << output;
    EXPECT_THAT(output, Not(HasSubstr("r3t"))) << output;
  }
}

}  // namespace
}  // namespace cppblog::e2e
