#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "cppblog/config/refresh_event.hpp"
#include "cppblog/config/refresh_listener.hpp"
#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/web/server.hpp"

#include "broker_test_env.hpp"
#include "fake_config_server.hpp"
#include "inbox.hpp"

namespace cppblog::config {
namespace {

using namespace std::chrono_literals;
using messaging::Inbox;

constexpr auto kWait = 20s;

std::string Environment(const std::string& vip_accounts, const std::string& server_port) {
  return R"({"name":"accountservice","profiles":["test"],"label":"master","version":"v)" +
         vip_accounts + R"(","state":null,"propertySources":[{"name":"accountservice-test.yml",
         "source":{"vip_accounts":")" +
         vip_accounts + R"(","server_port":)" + server_port + "}}]}";
}

/// Records what the change callbacks saw; tests wait on it with a deadline.
class Changes {
 public:
  void Record(const PropertiesSnapshot& now, const std::vector<std::string>& changed) {
    {
      const std::lock_guard lock{mutex_};
      vip_accounts_.push_back(now->GetString("vip_accounts"));
      changed_.push_back(changed);
    }
    cv_.notify_all();
  }
  bool WaitFor(std::size_t count) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, kWait, [&] { return vip_accounts_.size() >= count; });
  }
  std::vector<std::string> VipAccounts() const {
    const std::lock_guard lock{mutex_};
    return vip_accounts_;
  }
  std::vector<std::vector<std::string>> Changed() const {
    const std::lock_guard lock{mutex_};
    return changed_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> vip_accounts_;
  std::vector<std::vector<std::string>> changed_;
};

ConfigClientOptions ClientOptions(const FakeConfigServer& server) {
  CommandLine command_line;
  command_line.config_server_url = server.Url();
  command_line.config_dir = "/nonexistent-cppblog-config-dir";  // remote layer only
  Properties defaults;
  defaults.Set("vip_accounts", "", "default");
  defaults.Set("server_port", "6767", "default");
  return {
      .app = "accountservice",
      .command_line = command_line,
      .defaults = defaults,
      .environment = [](std::string_view) -> std::optional<std::string> { return std::nullopt; },
      .retry = {.max_attempts = 2, .initial_interval = 10ms},
      .request_timeout = 2s};
}

messaging::ExchangeSpec Bus(const std::string& name) {
  return {.name = name, .type = messaging::ExchangeType::kTopic, .durable = true};
}

void PublishEvent(messaging::MessagePublisher& publisher, const std::string& bus,
                  const std::string& body) {
  messaging::Message message;
  message.body = body;
  message.mandatory = false;
  auto confirmed = publisher.Publish(Bus(bus), bus, std::move(message));
  ASSERT_EQ(confirmed.wait_for(kWait), std::future_status::ready);
  confirmed.get();
}

/// Everything one test needs: broker client, config server, client, live properties, listener,
/// and a spy queue on the same bus that sees every event (acks included).
struct Landscape {
  std::string bus = messaging::UniqueName("springCloudBus");
  std::string bus_id = MakeBusId("accountservice", 6767);
  FakeConfigServer server;
  bool served = (server.Serve(Environment("10000", "6767")), true);  // before client.Load()
  ConfigClient client{ClientOptions(server)};
  LiveProperties live{client.Load().properties};
  Changes changes;
  Inbox spy;
  // After what it delivers into: destroyed before the spy, the changes and the live properties,
  // so no delivery reaches them once they are gone (the listener guards itself).
  messaging::AmqpClient amqp{{.url = messaging::TestAmqpUrl(), .connection_name = "refresh-test"}};
  std::unique_ptr<RefreshListener> listener;

  Landscape() {
    live.OnChange([this](const PropertiesSnapshot& now, const std::vector<std::string>& changed) {
      changes.Record(now, changed);
    });
    auto spying = amqp.Subscribe(Bus(bus), {"#"}, {.name = ""}, spy.Recorder(), {});
    EXPECT_EQ(spying.wait_for(kWait), std::future_status::ready);
    spying.get();
    listener = std::make_unique<RefreshListener>(
        amqp, amqp, client, live,
        RefreshListenerOptions{
            .bus_exchange = bus,
            .bus_id = bus_id,
            .live_keys = {"log_level", "vip_accounts", "offer_cooldown", "server_name"}});
    auto subscribed = listener->Subscribed();
    EXPECT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
    subscribed.get();
  }

  void SendRefresh(const std::string& destination, const std::string& id,
                   const std::string& origin = "configserver:8888:test") {
    PublishEvent(amqp, bus, MakeRefreshJson(origin, destination, id, 1700000000000));
  }
};

std::vector<BusEvent> Acks(const Inbox& inbox) {
  std::vector<BusEvent> acks;
  for (const auto& message : inbox.Messages()) {
    const BusEvent event = ParseBusEvent(message.body);
    if (event.kind == BusEventType::kAck) {
      acks.push_back(event);
    }
  }
  return acks;
}

TEST(RefreshListenerIntegration, ARefreshEventReloadsFromTheConfigServer) {
  Landscape landscape;
  ASSERT_EQ(landscape.live.Get()->GetString("vip_accounts"), "10000");
  const int requests_before = landscape.server.Requests();
  landscape.server.Serve(Environment("10000,10001", "6767"));

  landscape.SendRefresh("accountservice:**", "event-1");

  ASSERT_TRUE(landscape.changes.WaitFor(1));
  EXPECT_EQ(landscape.changes.VipAccounts().front(), "10000,10001");
  EXPECT_EQ(landscape.changes.Changed().front(), std::vector<std::string>{"vip_accounts"});
  EXPECT_EQ(landscape.live.Get()->GetList("vip_accounts"),
            (std::vector<std::string>{"10000", "10001"}));
  EXPECT_EQ(landscape.server.Requests(), requests_before + 1);
}

TEST(RefreshListenerIntegration, AnAckIsSentBackOnTheBusAsSpringDoes) {
  Landscape landscape;
  landscape.server.Serve(Environment("10002", "6767"));

  landscape.SendRefresh("**", "event-ack");

  // The spy sees the refresh event and then the ack.
  ASSERT_TRUE(landscape.spy.WaitFor(2));
  const std::vector<BusEvent> acks = Acks(landscape.spy);
  ASSERT_EQ(acks.size(), 1U);
  EXPECT_EQ(acks[0].ack_id, "event-ack");
  EXPECT_EQ(acks[0].origin_service, landscape.bus_id);
  EXPECT_EQ(acks[0].destination_service, "**");
  EXPECT_EQ(acks[0].ack_destination_service, "**");
  EXPECT_EQ(acks[0].event, "org.springframework.cloud.bus.event.RefreshRemoteApplicationEvent");
  const auto messages = landscape.spy.Messages();
  const auto ack_message = std::find_if(messages.begin(), messages.end(), [](const auto& m) {
    return m.body.find("AckRemoteApplicationEvent") != std::string::npos;
  });
  ASSERT_NE(ack_message, messages.end());
  EXPECT_EQ(ack_message->routing_key, landscape.bus);
  EXPECT_EQ(ack_message->content_type, "application/json");
}

// Events are handled one at a time in order, so the ignored ones are done by the time the
// final matching one has been handled.
TEST(RefreshListenerIntegration, EventsNotForThisInstanceCauseNoFetch) {
  Landscape landscape;
  const int requests_before = landscape.server.Requests();
  landscape.server.Serve(Environment("20000", "6767"));

  landscape.SendRefresh("vipservice:**", "other-service");
  landscape.SendRefresh("accountservice-test:**", "profile-name");
  landscape.SendRefresh("accountservice2:**", "similar-name");
  landscape.SendRefresh("**", "own-event", landscape.bus_id);
  PublishEvent(landscape.amqp, landscape.bus,
               R"({"type":"AckRemoteApplicationEvent","originService":"x:1:y",)"
               R"("destinationService":"**","id":"a","ackId":"b"})");
  PublishEvent(landscape.amqp, landscape.bus,
               R"({"type":"SomeOtherRemoteEvent","destinationService":"**","id":"c"})");
  PublishEvent(landscape.amqp, landscape.bus, "not json at all");
  landscape.SendRefresh("accountservice:6767:**", "finally-for-us");

  ASSERT_TRUE(landscape.changes.WaitFor(1));
  EXPECT_EQ(landscape.server.Requests(), requests_before + 1);
  EXPECT_EQ(landscape.listener->RefreshCount(), 1U);
  EXPECT_EQ(landscape.changes.VipAccounts(), std::vector<std::string>{"20000"});
}

TEST(RefreshListenerIntegration, KeysThatNeedARestartAreSwappedInButReported) {
  Landscape landscape;
  landscape.server.Serve(Environment("10000", "7000"));

  landscape.SendRefresh("accountservice", "port-change");

  ASSERT_TRUE(landscape.changes.WaitFor(1));
  EXPECT_EQ(landscape.changes.Changed().front(), std::vector<std::string>{"server_port"});
  EXPECT_EQ(landscape.live.Get()->GetString("server_port"), "7000");
}

}  // namespace
}  // namespace cppblog::config
