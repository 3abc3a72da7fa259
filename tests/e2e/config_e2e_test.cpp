#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "service_process.hpp"
#include "vip_support.hpp"

// Centralized configuration with real processes: the configserver binary serving a temporary
// copy of deploy/config-repo, the services loading from it (-configServerUrl) and refreshing
// over a bus exchange of the test's own (config_event_bus), on the broker of `./dev test`.
namespace cppblog::e2e {
namespace {

namespace fs = std::filesystem;
using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kStartTimeout = 20s;
// The config client's retries against a closed port (6 attempts, ≈6.1 s of backoff) come first.
constexpr auto kStartAfterRetriesTimeout = 30s;

std::string ReadFile(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces `from` by `to` in a file, in place, as an editor saving it does.
void EditFile(const fs::path& file, std::string_view from, std::string_view to) {
  std::string text = ReadFile(file);
  const auto at = text.find(from);
  if (at == std::string::npos) {
    throw std::runtime_error(file.string() + " does not contain '" + std::string(from) + "'");
  }
  text.replace(at, from.size(), to);
  std::ofstream{file, std::ios::binary | std::ios::trunc} << text;
}

// deploy/config-repo as it is in the source tree, copied into `dir`.
fs::path CopyOfConfigRepo(const TempDir& dir) {
  fs::path copy = dir.path() / "config-repo";
  fs::copy(CPPBLOG_CONFIG_REPO, copy, fs::copy_options::recursive);
  return copy;
}

std::string ConfigServerUrl(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

ServiceOptions ConfigserverOptions(std::uint16_t port, const fs::path& repo, const std::string& bus,
                                   bool watch) {
  fs::create_directories(repo / "no-local-config");
  return {.binary = BinaryPath("CPPBLOG_CONFIGSERVER_BIN", CPPBLOG_CONFIGSERVER_BIN),
          .args = {"--config-dir", (repo / "no-local-config").string(), "--set",
                   "server_port=" + std::to_string(port), "--set", "config_repo=" + repo.string(),
                   "--set", "config_watch=" + std::string(watch ? "true" : "false"), "--set",
                   "amqp_server_url=" + TestAmqpUrl(), "--set", "config_event_bus=" + bus},
          .env = {}};
}

// A service instance loading from the config server: the test's broker, bus and queue, a port
// and data directory of its own, no local files unless `local_config` names a directory.
struct Instance {
  fs::path binary;
  std::string config_server_url;
  std::uint16_t port = 0;
  fs::path data_dir{};
  std::string bus;
  std::string vip_queue;
  std::optional<fs::path> local_config{};
  std::vector<std::pair<std::string, std::string>> settings{};  // more --set flags
};

ServiceOptions ConfigClientService(const Instance& instance) {
  std::vector<std::pair<std::string, std::string>> settings{{"amqp_server_url", TestAmqpUrl()},
                                                            {"vip_queue", instance.vip_queue},
                                                            {"config_event_bus", instance.bus}};
  settings.insert(settings.end(), instance.settings.begin(), instance.settings.end());
  ServiceOptions options =
      ServiceOptionsFor(instance.binary, instance.data_dir, instance.port, settings);
  options.args.insert(options.args.end(),
                      {"-configServerUrl", instance.config_server_url, "-profile", "test"});
  if (instance.local_config) {
    // The last --config-dir wins over the empty one of ServiceOptionsFor.
    options.args.insert(options.args.end(), {"--config-dir", instance.local_config->string()});
  }
  return options;
}

fs::path AccountserviceBinary() {
  return BinaryPath("CPPBLOG_ACCOUNTSERVICE_BIN", CPPBLOG_ACCOUNTSERVICE_BIN);
}
fs::path VipserviceBinary() { return BinaryPath("CPPBLOG_VIPSERVICE_BIN", CPPBLOG_VIPSERVICE_BIN); }

// Whether a VIP notification for `account_id` has arrived on the collector's queue.
bool Received(VipQueueCollector& collector, std::string_view account_id) {
  const std::vector<messaging::Message> messages = collector.Messages();
  return std::any_of(messages.begin(), messages.end(), [&](const messaging::Message& message) {
    return vip::ParseVipNotification(message.body).account_id == account_id;
  });
}

// Started and subscribed to the bus: an event published from now on reaches it.
[[nodiscard]] bool WaitListeningOnBus(ServiceProcess& service, std::uint16_t port) {
  return service.WaitHealthy(port, kStartTimeout) &&
         service.WaitForOutput("amqp consumer: consuming queue=amq.gen-", kStartTimeout);
}

TEST(ConfigE2e, EditedVipAccountsApplyWithinThreeSecondsWithoutRestart) {
  const std::string bus = UniqueName("cfgbus");
  const std::string queue = UniqueName("vip_queue-cfg");
  const TempDir dir{"cppblog-config-e2e"};
  const fs::path repo = CopyOfConfigRepo(dir);
  const std::uint16_t config_port = FreePort();
  ServiceProcess configserver{ConfigserverOptions(config_port, repo, bus, /*watch=*/true)};
  ASSERT_TRUE(configserver.WaitHealthy(config_port, kStartTimeout)) << configserver.Output();
  ASSERT_TRUE(configserver.WaitForOutput("amqp publisher: connected", kStartTimeout))
      << configserver.Output();
  VipQueueCollector collector{queue};
  const std::uint16_t port = FreePort();
  ServiceProcess account{ConfigClientService({.binary = AccountserviceBinary(),
                                              .config_server_url = ConfigServerUrl(config_port),
                                              .port = port,
                                              .data_dir = dir.path() / "accountservice",
                                              .bus = bus,
                                              .vip_queue = queue})};
  ASSERT_TRUE(WaitListeningOnBus(account, port)) << account.Output();
  ASSERT_THAT(account.Output(),
              HasSubstr("configuration: fetched " + ConfigServerUrl(config_port)));
  // Before the edit 10001 is no VIP: notifications leave in read order, so once 10000's has
  // arrived, one for 10001 would have too.
  ASSERT_EQ(HttpGet(port, "/accounts/10001").status, 200);
  ASSERT_EQ(HttpGet(port, "/accounts/10000").status, 200);
  ASSERT_TRUE(WaitUntil([&] { return Received(collector, "10000"); }, 10s)) << account.Output();
  ASSERT_FALSE(Received(collector, "10001"));

  EditFile(repo / "accountservice-test.yml", "  - \"10000\"\n", "  - \"10000\"\n  - \"10001\"\n");
  const auto edited = std::chrono::steady_clock::now();

  const bool notified = WaitUntil(
      [&] {
        EXPECT_EQ(HttpGet(port, "/accounts/10001").status, 200);
        return Received(collector, "10001");
      },
      3s);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - edited);
  EXPECT_TRUE(notified) << "no VIP notification for 10001 within 3 s of the edit\n"
                        << configserver.Output() << account.Output();
  std::cout << "edit -> VIP notification for 10001: " << elapsed.count() << " ms\n";
  // Logged just after the new list is in place, so a read may have seen it first.
  EXPECT_TRUE(account.WaitForOutput("applied: vip_accounts=[10000,10001]", 5s)) << account.Output();
  EXPECT_TRUE(account.IsRunning());
  EXPECT_THAT(account.Output(), Not(HasSubstr("configuration: refresh failed")));
}

TEST(ConfigE2e, BusRefreshForVipserviceReloadsOnlyTheVipservices) {
  const std::string bus = UniqueName("cfgbus");
  const std::string queue = UniqueName("vip_queue-cfg");
  const TempDir dir{"cppblog-config-e2e"};
  const fs::path repo = CopyOfConfigRepo(dir);
  const std::uint16_t config_port = FreePort();
  // No file watch: the edits below announce nothing by themselves.
  ServiceProcess configserver{ConfigserverOptions(config_port, repo, bus, /*watch=*/false)};
  ASSERT_TRUE(configserver.WaitHealthy(config_port, kStartTimeout)) << configserver.Output();
  ASSERT_TRUE(configserver.WaitForOutput("amqp publisher: connected", kStartTimeout))
      << configserver.Output();
  const Instance base{.binary = VipserviceBinary(),
                      .config_server_url = ConfigServerUrl(config_port),
                      .bus = bus,
                      .vip_queue = queue};
  Instance vip1 = base;
  vip1.port = FreePort();
  vip1.data_dir = dir.path() / "vipservice-1";
  Instance vip2 = base;
  vip2.port = FreePort();
  vip2.data_dir = dir.path() / "vipservice-2";
  Instance account_instance = base;
  account_instance.binary = AccountserviceBinary();
  account_instance.port = FreePort();
  account_instance.data_dir = dir.path() / "accountservice";
  // At debug level the accountservice logs the events it ignores: the proof it saw this one.
  account_instance.settings = {{"log_level", "debug"}};
  ServiceProcess vipservice1{ConfigClientService(vip1)};
  ServiceProcess vipservice2{ConfigClientService(vip2)};
  ServiceProcess account{ConfigClientService(account_instance)};
  ASSERT_TRUE(WaitListeningOnBus(vipservice1, vip1.port)) << vipservice1.Output();
  ASSERT_TRUE(WaitListeningOnBus(vipservice2, vip2.port)) << vipservice2.Output();
  ASSERT_TRUE(WaitListeningOnBus(account, account_instance.port)) << account.Output();

  EditFile(repo / "vipservice-test.yml", "log_level: info", "log_level: debug");
  EditFile(repo / "accountservice-test.yml", "  - \"10000\"\n", "  - \"10000\"\n  - \"10001\"\n");
  EditFile(repo / "accountservice-test.yml", "server_name: Accountservice TEST",
           "server_name: Accountservice EDITED");
  HttpConnection connection{config_port, 10s};
  ASSERT_EQ(connection.Request("POST", "/actuator/busrefresh/vipservice:**").status, 204);

  const std::string applied = "applied: log_level=debug";
  EXPECT_TRUE(vipservice1.WaitForOutput(applied, 10s)) << vipservice1.Output();
  EXPECT_TRUE(vipservice2.WaitForOutput(applied, 10s)) << vipservice2.Output();
  ASSERT_TRUE(account.WaitForOutput(
      "destination=vipservice:**: ignored (destination does not match this instance)", 10s))
      << account.Output();
  EXPECT_THAT(account.Output(), Not(HasSubstr("configuration: refreshed")));

  // The same edits do reach the accountservice when the event is addressed to it (vip_accounts
  // live, server_name reported as needing a restart), and then not the vipservices (each logged
  // exactly one refresh).
  ASSERT_EQ(connection.Request("POST", "/actuator/busrefresh/accountservice:**").status, 204);
  EXPECT_TRUE(account.WaitForOutput("applied: vip_accounts=[10000,10001]", 10s))
      << account.Output();
  EXPECT_TRUE(account.WaitForOutput(
      "changed but applied only after a restart: server_name=Accountservice EDITED", 10s))
      << account.Output();
  for (ServiceProcess* vipservice : {&vipservice1, &vipservice2}) {
    ASSERT_TRUE(vipservice->WaitForOutput(
        "destination=accountservice:**: ignored (destination does not match this instance)", 10s))
        << vipservice->Output();
    EXPECT_EQ(CountOccurrences(vipservice->Output(), "configuration: refreshed"), 1U);
  }
}

// Both services pointed at a port nobody listens on; `fail_fast` as given.
struct UnreachableServerStart {
  TempDir dir{"cppblog-config-e2e"};
  fs::path local_config = CopyOfConfigRepo(dir);
  std::string url = ConfigServerUrl(FreePort());
  std::uint16_t account_port = FreePort();
  std::uint16_t vip_port = FreePort();
  std::unique_ptr<ServiceProcess> account;
  std::unique_ptr<ServiceProcess> vip;

  explicit UnreachableServerStart(bool fail_fast) {
    const std::string bus = UniqueName("cfgbus");
    const std::string queue = UniqueName("vip_queue-cfg");
    const std::pair<std::string, std::string> fail_fast_setting{"fail_fast",
                                                                fail_fast ? "true" : "false"};
    account = std::make_unique<ServiceProcess>(
        ConfigClientService({.binary = AccountserviceBinary(),
                             .config_server_url = url,
                             .port = account_port,
                             .data_dir = dir.path() / "accountservice",
                             .bus = bus,
                             .vip_queue = queue,
                             .local_config = local_config,
                             .settings = {fail_fast_setting}}));
    vip =
        std::make_unique<ServiceProcess>(ConfigClientService({.binary = VipserviceBinary(),
                                                              .config_server_url = url,
                                                              .port = vip_port,
                                                              .data_dir = dir.path() / "vipservice",
                                                              .bus = bus,
                                                              .vip_queue = queue,
                                                              .local_config = local_config,
                                                              .settings = {fail_fast_setting}}));
  }
};

TEST(ConfigE2e, ConfigserverDownAtStartRetriesThenRunsOnLocalFilesWithoutFailFast) {
  UnreachableServerStart start{/*fail_fast=*/false};

  ASSERT_TRUE(start.account->WaitHealthy(start.account_port, kStartAfterRetriesTimeout))
      << start.account->Output();
  ASSERT_TRUE(start.vip->WaitHealthy(start.vip_port, kStartAfterRetriesTimeout))
      << start.vip->Output();

  for (ServiceProcess* service : {start.account.get(), start.vip.get()}) {
    const std::string output = service->Output();
    EXPECT_THAT(output, HasSubstr("configuration: " + start.url));
    EXPECT_THAT(output, HasSubstr("attempt 1/6 failed"));
    EXPECT_THAT(output, HasSubstr("attempt 5/6 failed"));
    EXPECT_THAT(output, HasSubstr("(after 6 attempts); is the configserver running?"));
    EXPECT_THAT(output, HasSubstr("starting on the local configuration only (fail_fast=false)"));
    EXPECT_THAT(output, HasSubstr("configuration: reading " + start.local_config.string()));
  }
}

TEST(ConfigE2e, ConfigserverDownAtStartRetriesThenExitsOneWithFailFast) {
  UnreachableServerStart start{/*fail_fast=*/true};

  EXPECT_EQ(start.account->WaitExit(kStartAfterRetriesTimeout), 1) << start.account->Output();
  EXPECT_EQ(start.vip->WaitExit(kStartAfterRetriesTimeout), 1) << start.vip->Output();

  for (ServiceProcess* service : {start.account.get(), start.vip.get()}) {
    const std::string output = service->Output();
    EXPECT_THAT(output, HasSubstr("attempt 5/6 failed"));
    EXPECT_THAT(output, HasSubstr("cannot load configuration from " + start.url + "/"));
    EXPECT_THAT(output, HasSubstr("is the configserver running? set -configServerUrl or "
                                  "fail_fast=false"));
    EXPECT_THAT(output, Not(HasSubstr("listening on")));
  }
}

}  // namespace
}  // namespace cppblog::e2e
