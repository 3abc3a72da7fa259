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
#include "cppblog/storage/temp_dir.hpp"

#include "http_client.hpp"
#include "sample_git_repo.hpp"
#include "service_process.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace json = boost::json;

constexpr auto kMaxTestWait = std::chrono::seconds(10);

struct RunningServer {
  std::uint16_t port;
  std::unique_ptr<e2e::ServiceProcess> process;
};

RunningServer Start(std::vector<std::string> settings,
                    std::vector<std::pair<std::string, std::string>> env = {}) {
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
      .env = std::move(env)});
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
  explicit BusListener(const std::string& url, const std::string& bus = "springCloudBus")
      : client_({.url = url, .connection_name = "configserver-e2e"}) {
    client_
        .Subscribe({.name = bus, .type = messaging::ExchangeType::kTopic}, {"#"},
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

  std::size_t Count() {
    std::lock_guard lock{mutex_};
    return bodies_.size();
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
  // Before the broker client connects the endpoint answers 503 at once.
  ASSERT_TRUE(server.process->WaitForOutput("amqp publisher: connected", kMaxTestWait));
  e2e::HttpConnection connection{server.port, kMaxTestWait};

  EXPECT_EQ(connection.Request("POST", "/actuator/busrefresh/vipservice").status, 204);

  EXPECT_TRUE(bus.WaitFor("vipservice:**", kMaxTestWait).has_value());
}

// Issue 16.2: four refresh POSTs while the broker was away delayed a config GET by 9.7 s.
TEST(ConfigserverE2e, RefreshPostsWhileTheBrokerIsAwayAre503AtOnceAndDelayNoGet) {
  TempDir repo;
  repo.Write("accountservice-test.yml", "server_port: 6767\n");
  const std::uint16_t closed = e2e::FreePort();  // nothing listens there
  auto server =
      Start({"config_repo=" + repo.path().string(),
             "amqp_server_url=amqp://guest:guest@127.0.0.1:" + std::to_string(closed) + "/%2F"});
  std::vector<std::unique_ptr<e2e::HttpConnection>> posts;
  for (int i = 0; i < 8; ++i) {
    posts.push_back(std::make_unique<e2e::HttpConnection>(server.port, kMaxTestWait));
    posts.back()->Send(
        "POST /actuator/busrefresh/vipservice HTTP/1.1\r\nHost: t\r\n"
        "Content-Length: 0\r\n\r\n");
  }
  const auto started = std::chrono::steady_clock::now();

  const e2e::HttpResponse get = e2e::HttpGet(server.port, "/accountservice/test");

  EXPECT_EQ(get.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  for (auto& post : posts) {
    const e2e::HttpResponse response = post->ReadResponse();
    EXPECT_EQ(response.status, 503);
    EXPECT_THAT(response.body, HasSubstr("not reachable"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(ConfigserverE2e, BasicAuthenticationWithThePasswordFromAFile) {
  TempDir repo;
  repo.Write("accountservice-test.yml", "server_port: 6767\n");
  repo.Write("password", "s3cret\n");
  auto server =
      Start({"config_repo=" + repo.path().string(),
             "amqp_server_url=", "spring.security.user.name=configserver"},
            {{"SPRING_SECURITY_USER_PASSWORD_FILE", (repo.path() / "password").string()}});
  e2e::HttpConnection connection{server.port, kMaxTestWait};

  const e2e::HttpResponse anonymous = connection.Get("/accountservice/test");
  const e2e::HttpResponse authenticated = connection.Request(
      "GET", "/accountservice/test", {},
      {{"Authorization", "Basic Y29uZmlnc2VydmVyOnMzY3JldA=="}});  // configserver:s3cret

  EXPECT_EQ(anonymous.status, 401);
  EXPECT_TRUE(anonymous.Header("WWW-Authenticate").has_value());
  EXPECT_EQ(authenticated.status, 200) << authenticated.body;
  EXPECT_EQ(connection.Get("/health").status, 200);
  EXPECT_THAT(server.process->Output(), Not(HasSubstr("s3cret")));
}

// Issue 16.1, against a real broker: a stem of 8,000 dashes made 16,001 events; 200 files
// named make one broadcast.
TEST(ConfigserverE2e, MonitorAmplificationIsBoundedOnTheBus) {
  const std::string url = AmqpUrl();
  const std::string bus = "cfgE2eMonitor" + std::to_string(e2e::FreePort());
  BusListener listener{url, bus};
  TempDir repo;
  auto server = Start(
      {"config_repo=" + repo.path().string(), "amqp_server_url=" + url, "config_event_bus=" + bus});
  ASSERT_TRUE(server.process->WaitForOutput("amqp publisher: connected", kMaxTestWait));
  e2e::HttpConnection connection{server.port, kMaxTestWait};
  const std::vector<std::pair<std::string, std::string>> form{
      {"Content-Type", "application/x-www-form-urlencoded"}};
  std::string dashes;
  for (int i = 0; i < 8'000; ++i) dashes += "a-";
  std::string many;
  for (int i = 0; i < 200; ++i) many += (i == 0 ? "" : ",") + ("app" + std::to_string(i)) + ".yml";
  const auto started = std::chrono::steady_clock::now();

  const e2e::HttpResponse refused =
      connection.Request("POST", "/monitor", "path=" + dashes + "x.yml", form);
  const e2e::HttpResponse broadcast = connection.Request("POST", "/monitor", "path=" + many, form);
  const e2e::HttpResponse sentinel = connection.Request("POST", "/actuator/busrefresh/sentinel");

  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(broadcast.status, 200) << broadcast.body;
  EXPECT_EQ(sentinel.status, 204);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ASSERT_TRUE(listener.WaitFor("sentinel:**", kMaxTestWait).has_value());
  EXPECT_TRUE(listener.WaitFor("**", kMaxTestWait).has_value());
  EXPECT_EQ(listener.Count(), 2U);  // the broadcast and the sentinel, nothing else
  EXPECT_LT(e2e::CountOccurrences(server.process->Output(), "refresh for:"), 4U);
}

}  // namespace
}  // namespace cppblog::configserver
