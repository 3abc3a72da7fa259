// The configserver binary as a process: HTTP over a socket, SIGTERM, and (with
// $CPPBLOG_TEST_AMQP_URL, which ./dev test sets) refresh events on a real broker.
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "http_client.hpp"
#include "sample_git_repo.hpp"
#include "service_process.hpp"
#include "test_dir.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::HasSubstr;
namespace json = boost::json;

constexpr auto kMaxTestWait = std::chrono::seconds(10);

struct RunningServer {
  std::uint16_t port;
  std::unique_ptr<e2e::ServiceProcess> process;
};

RunningServer Start(std::vector<std::string> settings) {
  static const TempDir empty_config_dir;  // no configserver.yml: only defaults and --set
  const std::uint16_t port = e2e::FreePort();
  std::vector<std::string> args{"--config-dir", empty_config_dir.path().string(), "--set",
                                "server_port=" + std::to_string(port)};
  for (auto& setting : settings) {
    args.emplace_back("--set");
    args.push_back(std::move(setting));
  }
  auto process = std::make_unique<e2e::ServiceProcess>(e2e::ServiceOptions{
      .binary = e2e::BinaryPath("CPPBLOG_CONFIGSERVER_BIN", CPPBLOG_CONFIGSERVER_BIN),
      .args = std::move(args),
      .env = {}});
  if (!process->WaitHealthy(port)) {
    throw std::runtime_error("configserver did not become healthy: " + process->Output());
  }
  return {port, std::move(process)};
}

std::string AmqpUrl() {
  const char* url = std::getenv("CPPBLOG_TEST_AMQP_URL");
  if (url == nullptr || *url == '\0') {
    throw std::runtime_error(
        "CPPBLOG_TEST_AMQP_URL is not set: run these tests with ./dev test, or start a broker "
        "with ./dev rabbit start and export its AMQP URL");
  }
  return url;
}

// Refresh events seen on the bus by a Spring-like subscriber (exclusive queue, key '#').
class BusListener {
 public:
  explicit BusListener(const std::string& url)
      : client_({.url = url, .connection_name = "configserver-e2e"}) {
    client_
        .Subscribe({.name = "springCloudBus", .type = messaging::ExchangeType::kTopic}, {"#"},
                   {.name = "", .exclusive = true, .auto_delete = true},
                   [this](const messaging::Message& message) {
                     std::lock_guard lock{mutex_};
                     bodies_.push_back(message.body);
                     arrived_.notify_all();
                     return messaging::Outcome::kAck;
                   },
                   {})
        .get();
  }

  // The first event for `destination` within the deadline, parsed.
  std::optional<json::object> WaitFor(const std::string& destination,
                                      std::chrono::milliseconds timeout) {
    std::unique_lock lock{mutex_};
    std::optional<json::object> found;
    arrived_.wait_for(lock, timeout, [&] {
      for (const auto& body : bodies_) {
        auto event = json::parse(body).as_object();
        if (event.at("destinationService").as_string() == destination) {
          found = std::move(event);
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> bodies_;
  // Last, so it is destroyed first: no event lands in destroyed members.
  messaging::AmqpClient client_;
};

TEST(ConfigserverE2e, ServesNativeRepositoryAndStopsCleanlyOnSigterm) {
  TempDir repo;
  repo.Write("accountservice-test.yml", "server_port: 6767\nvip_accounts:\n  - \"10000\"\n");
  repo.Write("application.yml", "config_event_bus: springCloudBus\n");
  auto server = Start({"config_repo=" + repo.path().string(), "amqp_server_url="});

  const e2e::HttpResponse response = e2e::HttpGet(server.port, "/accountservice/test");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = json::parse(response.body).as_object();
  EXPECT_EQ(body.at("propertySources").as_array().size(), 2U);
  EXPECT_EQ(body.at("propertySources").as_array()[0].at("source").at("server_port").as_int64(),
            6767);
  EXPECT_EQ(e2e::HttpGet(server.port, "/accountservice-test.properties").body,
            "config_event_bus: springCloudBus\nserver_port: 6767\nvip_accounts[0]: 10000");

  server.process->Signal(SIGTERM);
  EXPECT_EQ(server.process->WaitExit(kMaxTestWait), 0);
}

TEST(ConfigserverE2e, GitLabelServesTheBranchAndItsCommit) {
  const auto repo = MakeSampleRepo();
  auto server =
      Start({"config_backend=git", "config_repo=" + repo->dir.path().string(), "amqp_server_url="});

  const e2e::HttpResponse response = e2e::HttpGet(server.port, "/accountservice/test/P9");

  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = json::parse(response.body).as_object();
  EXPECT_EQ(body.at("version").as_string(), repo->p9_commit);
  EXPECT_EQ(body.at("label").as_string(), "P9");
  EXPECT_EQ(body.at("propertySources").as_array()[0].at("source").at("server_port").as_int64(),
            9999);
  EXPECT_EQ(e2e::HttpGet(server.port, "/accountservice/test/P10").status, 404);
}

TEST(ConfigserverE2e, MalformedFileIsReportedWhileServingTheRest) {
  TempDir repo;
  repo.Write("accountservice-test.yml", "server_port: [6767\n");
  repo.Write("application.yml", "config_event_bus: springCloudBus\n");
  auto server = Start({"config_repo=" + repo.path().string(), "amqp_server_url="});

  const e2e::HttpResponse response = e2e::HttpGet(server.port, "/accountservice/test");

  ASSERT_EQ(response.status, 200);
  ASSERT_TRUE(response.Header("Warning").has_value());
  EXPECT_THAT(*response.Header("Warning"), HasSubstr("accountservice-test.yml"));
  EXPECT_TRUE(server.process->WaitForOutput("accountservice-test.yml: line", kMaxTestWait));
}

TEST(ConfigserverE2e, WithoutBusRefreshEndpointsAnswer503) {
  TempDir repo;
  auto server = Start({"config_repo=" + repo.path().string(), "amqp_server_url="});
  e2e::HttpConnection connection{server.port};
  EXPECT_EQ(connection.Request("POST", "/actuator/busrefresh").status, 503);
}

TEST(ConfigserverE2e, EditedFileIsAnnouncedOnTheBusWithinThreeSeconds) {
  const std::string url = AmqpUrl();
  BusListener bus{url};
  TempDir repo;
  repo.Write("accountservice-test.yml", "vip_accounts:\n  - \"10000\"\n");
  auto server = Start({"config_repo=" + repo.path().string(), "amqp_server_url=" + url});
  ASSERT_TRUE(server.process->WaitForOutput("amqp publisher: connected", kMaxTestWait));

  repo.Write("accountservice-test.yml", "vip_accounts:\n  - \"10000\"\n  - \"10001\"\n");

  const auto event = bus.WaitFor("accountservice:**", std::chrono::seconds(3));
  ASSERT_TRUE(event.has_value()) << server.process->Output();
  EXPECT_EQ(event->at("type").as_string(), "RefreshRemoteApplicationEvent");
  EXPECT_THAT(std::string(event->at("originService").as_string()),
              HasSubstr("configserver:" + std::to_string(server.port) + ":"));
}

TEST(ConfigserverE2e, BusRefreshPublishesTheNormalisedDestination) {
  const std::string url = AmqpUrl();
  BusListener bus{url};
  TempDir repo;
  auto server = Start({"config_repo=" + repo.path().string(), "amqp_server_url=" + url});
  e2e::HttpConnection connection{server.port, kMaxTestWait};

  EXPECT_EQ(connection.Request("POST", "/actuator/busrefresh/vipservice").status, 204);

  EXPECT_TRUE(bus.WaitFor("vipservice:**", kMaxTestWait).has_value());
}

}  // namespace
}  // namespace cppblog::configserver
