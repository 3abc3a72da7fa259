#include "refresh_publisher.hpp"

#include <atomic>
#include <future>
#include <memory>
#include <mutex>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/mock_message_publisher.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::_;
using ::testing::ByMove;
using ::testing::DoAll;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::SaveArg;

std::future<void> Confirmed() {
  std::promise<void> promise;
  promise.set_value();
  return promise.get_future();
}

constexpr auto kMaxTestWait = std::chrono::seconds(10);

RefreshPublisherOptions FixedOptions() {
  return {.bus = "springCloudBus",
          .origin_service = "configserver:8888:abc",
          .confirm_timeout = std::chrono::milliseconds(50),
          .coalesce_window = std::chrono::milliseconds(1),
          .max_queued = 256,
          .now_ms = [] { return std::int64_t{1494514362123}; },
          .new_event_id = [] { return std::string("53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc"); }};
}

TEST(RefreshPublisher, EventJsonMatchesTheSpringCapture) {
  const RefreshEvent event{.timestamp_ms = 1494514362123,
                           .origin_service = "config-server:docker:8888",
                           .destination_service = "xxxaccoun:**",
                           .id = "53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc"};
  // The capture quoted in the seed (P9:common/config/events.go).
  EXPECT_EQ(boost::json::parse(ToJson(event)),
            boost::json::parse(R"({"type":"RefreshRemoteApplicationEvent","timestamp":1494514362123,
              "originService":"config-server:docker:8888","destinationService":"xxxaccoun:**",
              "id":"53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc"})"));
}

// Announces and waits (bounded) for the outcome.
std::optional<std::string> AnnounceAndWait(RefreshAnnouncer& announcer,
                                           std::vector<std::string> destinations) {
  auto outcome = std::make_shared<std::promise<std::optional<std::string>>>();
  auto future = outcome->get_future();
  announcer.Announce(std::move(destinations), [outcome](const std::optional<std::string>& error) {
    outcome->set_value(error);
  });
  if (future.wait_for(kMaxTestWait) != std::future_status::ready) {
    return "the test gave up waiting for the announcement";
  }
  return future.get();
}

TEST(RefreshPublisher, PublishesOnTheBusTopicExchangeWithTheBusAsRoutingKey) {
  NiceMock<messaging::MockMessagePublisher> broker;
  messaging::ExchangeSpec exchange;
  std::string routing_key;
  messaging::Message message;
  EXPECT_CALL(broker, Publish(_, _, _))
      .WillOnce(DoAll(SaveArg<0>(&exchange), SaveArg<1>(&routing_key), SaveArg<2>(&message),
                      Return(ByMove(Confirmed()))));
  RefreshPublisher publisher{broker, FixedOptions()};

  EXPECT_EQ(AnnounceAndWait(publisher, {"accountservice:**"}), std::nullopt);

  EXPECT_EQ(exchange.name, "springCloudBus");
  EXPECT_EQ(exchange.type, messaging::ExchangeType::kTopic);
  EXPECT_TRUE(exchange.durable);
  EXPECT_EQ(routing_key, "springCloudBus");
  EXPECT_EQ(message.content_type, "application/json");
  EXPECT_TRUE(message.persistent);
  EXPECT_FALSE(message.mandatory);
  EXPECT_EQ(message.message_id, "53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc");
  EXPECT_EQ(message.body,
            R"({"type":"RefreshRemoteApplicationEvent","timestamp":1494514362123,)"
            R"("originService":"configserver:8888:abc","destinationService":"accountservice:**",)"
            R"("id":"53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc"})");
}

TEST(RefreshPublisher, BrokerRefusalIsReportedWithTheDestination) {
  NiceMock<messaging::MockMessagePublisher> broker;
  std::promise<void> refused;
  refused.set_exception(std::make_exception_ptr(
      messaging::MessagingError(messaging::MessagingErrorKind::kNacked, "nacked")));
  EXPECT_CALL(broker, Publish(_, _, _)).WillOnce(Return(ByMove(refused.get_future())));
  RefreshPublisher publisher{broker, FixedOptions()};

  const auto error = AnnounceAndWait(publisher, {"**"});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("'**'"));
  EXPECT_THAT(*error, HasSubstr("nacked"));
}

TEST(RefreshPublisher, MissingConfirmTimesOut) {
  NiceMock<messaging::MockMessagePublisher> broker;
  std::promise<void> never;  // kept alive: the future stays pending
  EXPECT_CALL(broker, Publish(_, _, _)).WillOnce(Return(ByMove(never.get_future())));
  RefreshPublisher publisher{broker, FixedOptions()};

  const auto error = AnnounceAndWait(publisher, {"**"});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("did not confirm"));
}

TEST(RefreshPublisher, AnnounceReturnsBeforeTheBrokerConfirms) {
  NiceMock<messaging::MockMessagePublisher> broker;
  std::promise<void> confirm;
  EXPECT_CALL(broker, Publish(_, _, _)).WillOnce(Return(ByMove(confirm.get_future())));
  RefreshPublisherOptions options = FixedOptions();
  options.confirm_timeout = kMaxTestWait;
  RefreshPublisher publisher{broker, options};
  std::promise<std::optional<std::string>> outcome;

  publisher.Announce(
      {"**"}, [&outcome](const std::optional<std::string>& error) { outcome.set_value(error); });
  auto future = outcome.get_future();
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

  confirm.set_value();
  ASSERT_EQ(future.wait_for(kMaxTestWait), std::future_status::ready);
  EXPECT_EQ(future.get(), std::nullopt);
}

TEST(RefreshPublisher, RequestsWithinTheWindowShareOneEventPerDestination) {
  NiceMock<messaging::MockMessagePublisher> broker;
  std::mutex mutex;
  std::vector<std::string> bodies;
  ON_CALL(broker, Publish(_, _, _))
      .WillByDefault([&](const messaging::ExchangeSpec&, std::string, messaging::Message m) {
        std::lock_guard lock{mutex};
        bodies.push_back(m.body);
        return Confirmed();
      });
  RefreshPublisherOptions options = FixedOptions();
  options.coalesce_window = std::chrono::milliseconds(500);
  RefreshPublisher publisher{broker, options};
  std::vector<std::future<std::optional<std::string>>> outcomes;
  std::vector<std::shared_ptr<std::promise<std::optional<std::string>>>> promises;

  for (int i = 0; i < 20; ++i) {
    auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
    outcomes.push_back(promise->get_future());
    publisher.Announce(i % 2 == 0 ? std::vector<std::string>{"vipservice:**"}
                                  : std::vector<std::string>{"vipservice:**", "**", "**"},
                       [promise](const std::optional<std::string>& e) { promise->set_value(e); });
  }

  for (auto& outcome : outcomes) {
    ASSERT_EQ(outcome.wait_for(kMaxTestWait), std::future_status::ready);
    EXPECT_EQ(outcome.get(), std::nullopt);
  }
  std::lock_guard lock{mutex};
  EXPECT_EQ(bodies.size(), 2U);  // one for vipservice:**, one for **
}

TEST(RefreshPublisher, TooManyWaitingDestinationsAreRefused) {
  NiceMock<messaging::MockMessagePublisher> broker;
  RefreshPublisherOptions options = FixedOptions();
  options.coalesce_window = kMaxTestWait;  // nothing leaves during the test
  options.max_queued = 2;
  std::atomic<int> completed{0};  // before the publisher: its destructor completes the rest
  const AnnounceDone count = [&completed](const std::optional<std::string>&) { ++completed; };
  RefreshPublisher publisher{broker, options};

  publisher.Announce({"a:**", "b:**"}, count);
  publisher.Announce({"a:**"}, count);  // already waiting: joins
  EXPECT_THROW(publisher.Announce({"c:**"}, count), AnnouncerBusyError);
  EXPECT_EQ(completed.load(), 0);
}

TEST(RefreshPublisher, BusIdsAreUniquePerInstance) {
  const std::string first = MakeBusId("configserver", 8888);
  EXPECT_THAT(first, MatchesRegex("configserver:8888:[0-9a-f]{32}"));
  EXPECT_NE(first, MakeBusId("configserver", 8888));
}

}  // namespace
}  // namespace cppblog::configserver
