// The config bus after a broker restart: the refresh listener's queue is server-named,
// exclusive and auto-delete, so a restart of the broker removes it with its binding. The
// subscriber declares a new one and binds it again on recovery, and a refresh event sent on the
// bus afterwards still reaches the listener: the live property changes.
// stop_app/start_app of the shared test broker disturbs every client of it: the target runs
// alone (RUN_SERIAL; ./dev test runs ctest -j2). start_app runs in a scope guard, so a failing
// assertion never leaves the broker stopped.
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/config/refresh_event.hpp"
#include "cppblog/config/refresh_listener.hpp"
#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "fake_config_server.hpp"
#include "scoped_outage.hpp"

namespace cppblog::config {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 60s;

std::string Environment(const std::string& vip_accounts) {
  return R"({"name":"accountservice","profiles":["test"],"label":"master","version":"v1",)"
         R"("state":null,"propertySources":[{"name":"accountservice-test.yml",)"
         R"("source":{"vip_accounts":")" +
         vip_accounts + R"("}}]})";
}

ConfigClientOptions ClientOptions(const FakeConfigServer& server) {
  CommandLine command_line;
  command_line.config_server_url = server.Url();
  command_line.config_dir = "/nonexistent-cppblog-config-dir";  // remote layer only
  Properties defaults;
  defaults.Set("vip_accounts", "", "default");
  return {
      .app = "accountservice",
      .command_line = command_line,
      .defaults = defaults,
      .environment = [](std::string_view) -> std::optional<std::string> { return std::nullopt; },
      .retry = {.max_attempts = 2, .initial_interval = 10ms},
      .request_timeout = 2s};
}

// Losses and recoveries of the listener's client.
class StateLog {
 public:
  std::function<void(messaging::ConnectionState)> Callback() {
    return [this](messaging::ConnectionState state) {
      std::lock_guard lock(mutex_);
      if (state == messaging::ConnectionState::kRecovering) ++losses_;
      current_ = state;
      cv_.notify_all();
    };
  }
  bool WaitForLoss() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return losses_ >= 1; });
  }
  // Connected again: the consuming connection reports it only after its replay is done.
  bool WaitConnected() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait,
                        [&] { return current_ == messaging::ConnectionState::kConnected; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int losses_ = 0;
  messaging::ConnectionState current_ = messaging::ConnectionState::kRecovering;
};

TEST(RefreshListenerRestart, ARefreshEventAfterABrokerRestartStillChangesTheLiveProperty) {
  const std::string bus = messaging::UniqueName("springCloudBus");
  FakeConfigServer server;
  server.Serve(Environment("10000"));
  ConfigClient client{ClientOptions(server)};
  LiveProperties live{client.Load().properties};
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> seen;
  live.OnChange([&](const PropertiesSnapshot& now, const std::vector<std::string>&) {
    {
      std::lock_guard lock(mutex);
      seen.push_back(now->GetString("vip_accounts"));
    }
    changed.notify_all();
  });
  const auto wait_for = [&](const std::string& value) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kWait, [&] { return !seen.empty() && seen.back() == value; });
  };

  StateLog log;
  messaging::AmqpClient amqp{{.url = messaging::TestAmqpUrl(),
                              .reconnect_min = 50ms,
                              .reconnect_max = 500ms,
                              .connection_name = "refresh-restart-test",
                              .on_state_change = log.Callback()}};
  RefreshListener listener{amqp, amqp, client, live,
                           RefreshListenerOptions{.bus_exchange = bus,
                                                  .bus_id = MakeBusId("accountservice", 6767),
                                                  .live_keys = {"vip_accounts"},
                                                  .send_acks = false}};
  ASSERT_EQ(listener.Subscribed().wait_for(kWait), std::future_status::ready);
  listener.Subscribed().get();
  const messaging::ExchangeSpec exchange{
      .name = bus, .type = messaging::ExchangeType::kTopic, .durable = true};
  const auto send_refresh = [&](const std::string& id) {
    messaging::Message message;
    message.body =
        MakeRefreshJson("configserver:8888:test", "accountservice:**", id, 1700000000000);
    message.mandatory = true;  // unroutable (no bound queue) fails the publish
    auto confirmed = amqp.Publish(exchange, bus, std::move(message));
    ASSERT_EQ(confirmed.wait_for(kWait), std::future_status::ready);
    confirmed.get();
  };

  // Before the restart, as a baseline.
  server.Serve(Environment("10000,10001"));
  send_refresh("before-restart");
  ASSERT_TRUE(wait_for("10000,10001"));

  {
    ScopedOutage stopped{"the test broker", [] { messaging::RabbitCtl("stop_app"); },
                         [] { messaging::RabbitCtl("start_app"); }};
    ASSERT_TRUE(log.WaitForLoss());
    stopped.End();
  }
  ASSERT_TRUE(log.WaitConnected()) << "the listener's client did not recover";

  server.Serve(Environment("10000,10001,10002"));
  send_refresh("after-restart");
  EXPECT_TRUE(wait_for("10000,10001,10002"))
      << "a refresh event after the broker restart did not reach the listener";
  EXPECT_EQ(live.Get()->GetString("vip_accounts"), "10000,10001,10002");
  EXPECT_EQ(listener.RefreshCount(), 2U);
  amqp.Close();
  messaging::RabbitCtl("eval 'rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"" +
                       bus + "\">>), false, <<\"cppblog-test\">>).'");
}

}  // namespace
}  // namespace cppblog::config
