#include "cppblog/config/refresh_listener.hpp"

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/refresh_event.hpp"
#include "cppblog/messaging/mock_message_publisher.hpp"
#include "cppblog/messaging/mock_message_subscriber.hpp"

#include "fake_config_server.hpp"

namespace cppblog::config {
namespace {

using namespace std::chrono_literals;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::SaveArg;

constexpr const char* kBusId = "accountservice:6767:0123456789abcdef0123456789abcdef";

std::string Environment(const std::string& vip_accounts) {
  return R"({"name":"accountservice","profiles":["test"],"label":"master","version":"v1",)"
         R"("state":null,"propertySources":[{"name":"accountservice-test.yml",)"
         R"("source":{"vip_accounts":")" +
         vip_accounts + R"("}}]})";
}

std::future<void> Done() {
  std::promise<void> promise;
  promise.set_value();
  return promise.get_future();
}

ConfigClientOptions ClientOptions(const FakeConfigServer& server) {
  CommandLine command_line;
  command_line.config_server_url = server.Url();
  command_line.config_dir = "/nonexistent-cppblog-config-dir";
  Properties defaults;
  defaults.Set("vip_accounts", "", "default");
  return {
      .app = "accountservice",
      .command_line = command_line,
      .defaults = defaults,
      .environment = [](std::string_view) -> std::optional<std::string> { return std::nullopt; },
      .retry = {.max_attempts = 2, .initial_interval = 1ms, .max_interval = 2ms},
      .request_timeout = 2s};
}

messaging::Message Event(const std::string& body) {
  messaging::Message message;
  message.body = body;
  return message;
}

/// The listener wired to mocks; the bus handler it subscribed is kept to call directly.
struct Harness {
  FakeConfigServer server;
  bool served = (server.Serve(Environment("10000")), true);  // before client.Load()
  ConfigClient client{ClientOptions(server)};
  LiveProperties live{client.Load().properties};
  NiceMock<messaging::MockMessageSubscriber> subscriber;
  NiceMock<messaging::MockMessagePublisher> publisher;
  messaging::Handler handler;
  metrics::Registry metrics;
  std::unique_ptr<RefreshListener> listener;

  explicit Harness(std::function<void(const Properties&)> validate = {}) {
    ON_CALL(subscriber, Subscribe).WillByDefault([this](auto&&, auto&&, auto&&, auto h, auto&&) {
      handler = std::move(h);
      return Done();
    });
    ON_CALL(publisher, Publish).WillByDefault([](auto&&...) { return Done(); });
    listener = std::make_unique<RefreshListener>(
        subscriber, publisher, client, live,
        RefreshListenerOptions{.bus_exchange = "springCloudBus",
                               .bus_id = kBusId,
                               .live_keys = {"vip_accounts"},
                               .validate = std::move(validate),
                               .now_ms = [] { return std::int64_t{1700000000000}; },
                               .metrics = &metrics});
  }
};

TEST(RefreshListener, SubscribesAsSpringCloudBusDoes) {
  FakeConfigServer server;
  const ConfigClient client(ClientOptions(server));
  LiveProperties live(Properties{});
  NiceMock<messaging::MockMessageSubscriber> subscriber;
  NiceMock<messaging::MockMessagePublisher> publisher;
  EXPECT_CALL(
      subscriber,
      Subscribe(AllOf(Field(&messaging::ExchangeSpec::name, "springCloudBus"),
                      Field(&messaging::ExchangeSpec::type, messaging::ExchangeType::kTopic),
                      Field(&messaging::ExchangeSpec::durable, true)),
                ElementsAre("#"),
                AllOf(Field(&messaging::QueueSpec::name, ""),
                      Field(&messaging::QueueSpec::exclusive, true),
                      Field(&messaging::QueueSpec::auto_delete, true)),
                _, _))
      .WillOnce([](auto&&...) { return Done(); });

  const RefreshListener listener(subscriber, publisher, client, live, {.bus_id = kBusId});

  EXPECT_EQ(listener.Subscribed().wait_for(0s), std::future_status::ready);
}

TEST(RefreshListener, ARefreshSwapsTheNewConfigurationIn) {
  Harness harness;
  harness.server.Serve(Environment("10000,10001"));

  const auto outcome =
      harness.handler(Event(MakeRefreshJson("configserver:8888:x", "accountservice:**", "e1", 1)));

  EXPECT_EQ(outcome, messaging::Outcome::kAck);
  EXPECT_EQ(harness.live.Get()->GetList("vip_accounts"),
            (std::vector<std::string>{"10000", "10001"}));
  EXPECT_EQ(harness.listener->RefreshCount(), 1U);
}

TEST(RefreshListener, AcksOnTheBusWithTheBusAsRoutingKey) {
  Harness harness;
  const std::string expected_ack_start =
      R"({"type":"AckRemoteApplicationEvent","timestamp":1700000000000,"originService":")" +
      std::string(kBusId) + R"(","destinationService":"**")";
  EXPECT_CALL(harness.publisher,
              Publish(Field(&messaging::ExchangeSpec::name, "springCloudBus"), "springCloudBus",
                      Field(&messaging::Message::body, ::testing::StartsWith(expected_ack_start))))
      .WillOnce([](auto&&...) { return Done(); });

  (void)harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e1", 1)));
}

TEST(RefreshListener, AValueTheServiceRejectsKeepsTheCurrentConfiguration) {
  Harness harness([](const Properties& properties) {
    if (properties.GetString("vip_accounts") == "oops") {
      throw ConfigError("vip_accounts: 'oops'");
    }
  });
  harness.server.Serve(Environment("oops"));
  EXPECT_CALL(harness.publisher, Publish).WillOnce([](auto&&...) { return Done(); });

  (void)harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e1", 1)));

  EXPECT_EQ(harness.live.Get()->GetString("vip_accounts"), "10000");
}

TEST(RefreshListener, AFailedReloadKeepsTheCurrentConfiguration) {
  Harness harness;
  harness.server.Serve("this is not JSON");

  (void)harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e1", 1)));

  EXPECT_EQ(harness.live.Get()->GetString("vip_accounts"), "10000");
  EXPECT_EQ(harness.listener->RefreshCount(), 1U);
}

TEST(RefreshListener, CountsAppliedAndFailedRefreshes) {
  Harness harness;
  harness.server.Serve(Environment("10000,10001"));
  (void)harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e1", 1)));
  harness.server.Serve("this is not JSON");
  (void)harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e2", 1)));
  (void)harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e3", 1)));

  const std::string text = harness.metrics.Serialize();
  EXPECT_THAT(text, ::testing::HasSubstr("cppblog_config_refreshes_total{result=\"applied\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("cppblog_config_refreshes_total{result=\"failed\"} 2\n"));
}

TEST(RefreshListener, IgnoredEventsCauseNeitherFetchNorAck) {
  Harness harness;
  const int requests = harness.server.Requests();
  EXPECT_CALL(harness.publisher, Publish).Times(0);

  for (const std::string& body : {
           MakeRefreshJson("configserver:8888:x", "vipservice:**", "e1", 1),
           MakeRefreshJson("configserver:8888:x", "accountservice-test:**", "e2", 1),
           MakeRefreshJson(kBusId, "**", "e3", 1),
           std::string(R"({"type":"AckRemoteApplicationEvent","destinationService":"**"})"),
           std::string(R"({"type":"SomethingElse","destinationService":"**"})"),
           std::string("garbage"),
       }) {
    EXPECT_EQ(harness.handler(Event(body)), messaging::Outcome::kAck) << body;
  }

  EXPECT_EQ(harness.server.Requests(), requests);
  EXPECT_EQ(harness.listener->RefreshCount(), 0U);
}

TEST(RefreshListener, DeliveriesAfterDestructionAreIgnored) {
  Harness harness;
  const int requests = harness.server.Requests();
  harness.listener.reset();

  EXPECT_EQ(harness.handler(Event(MakeRefreshJson("configserver:8888:x", "**", "e1", 1))),
            messaging::Outcome::kAck);

  EXPECT_EQ(harness.server.Requests(), requests);
}

TEST(RefreshListener, RequiresABusId) {
  FakeConfigServer server;
  const ConfigClient client(ClientOptions(server));
  LiveProperties live(Properties{});
  NiceMock<messaging::MockMessageSubscriber> subscriber;
  NiceMock<messaging::MockMessagePublisher> publisher;

  EXPECT_THROW(RefreshListener(subscriber, publisher, client, live, {}), std::invalid_argument);
}

}  // namespace
}  // namespace cppblog::config
