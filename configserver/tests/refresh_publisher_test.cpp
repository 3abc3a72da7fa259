#include "refresh_publisher.hpp"

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
using ::testing::MatchesRegex;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::SaveArg;

std::future<void> Confirmed() {
  std::promise<void> promise;
  promise.set_value();
  return promise.get_future();
}

RefreshPublisherOptions FixedOptions() {
  return {.bus = "springCloudBus",
          .origin_service = "configserver:8888:abc",
          .confirm_timeout = std::chrono::milliseconds(50),
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

TEST(RefreshPublisher, PublishesOnTheBusTopicExchangeWithTheBusAsRoutingKey) {
  NiceMock<messaging::MockMessagePublisher> broker;
  messaging::ExchangeSpec exchange;
  std::string routing_key;
  messaging::Message message;
  EXPECT_CALL(broker, Publish(_, _, _))
      .WillOnce(DoAll(SaveArg<0>(&exchange), SaveArg<1>(&routing_key), SaveArg<2>(&message),
                      Return(ByMove(Confirmed()))));
  RefreshPublisher publisher{broker, FixedOptions()};

  publisher.Announce("accountservice:**");

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

TEST(RefreshPublisher, BrokerRefusalIsRethrown) {
  NiceMock<messaging::MockMessagePublisher> broker;
  std::promise<void> refused;
  refused.set_exception(std::make_exception_ptr(
      messaging::MessagingError(messaging::MessagingErrorKind::kNacked, "nacked")));
  EXPECT_CALL(broker, Publish(_, _, _)).WillOnce(Return(ByMove(refused.get_future())));
  RefreshPublisher publisher{broker, FixedOptions()};

  EXPECT_THROW(publisher.Announce("**"), messaging::MessagingError);
}

TEST(RefreshPublisher, MissingConfirmTimesOut) {
  NiceMock<messaging::MockMessagePublisher> broker;
  std::promise<void> never;  // kept alive: the future stays pending
  EXPECT_CALL(broker, Publish(_, _, _)).WillOnce(Return(ByMove(never.get_future())));
  RefreshPublisher publisher{broker, FixedOptions()};

  EXPECT_THROW(publisher.Announce("**"), std::runtime_error);
}

TEST(RefreshPublisher, BusIdsAreUniquePerInstance) {
  const std::string first = MakeBusId("configserver", 8888);
  EXPECT_THAT(first, MatchesRegex("configserver:8888:[0-9a-f]{32}"));
  EXPECT_NE(first, MakeBusId("configserver", 8888));
}

}  // namespace
}  // namespace cppblog::configserver
