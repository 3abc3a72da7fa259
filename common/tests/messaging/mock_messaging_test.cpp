#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/mock_message_publisher.hpp"
#include "cppblog/messaging/mock_message_subscriber.hpp"

namespace cppblog::messaging {
namespace {

using ::testing::_;
using ::testing::ByMove;
using ::testing::Field;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::SaveArg;

std::future<void> Done() {
  std::promise<void> promise;
  promise.set_value();
  return promise.get_future();
}

// The mocks are what services test against; this shows they fit the roles.
TEST(AmqpMocks, PublisherMockSeesTheQueueAndBody) {
  NiceMock<MockMessagePublisher> publisher;
  EXPECT_CALL(publisher, PublishToQueue(Field(&QueueSpec::name, "vip_queue"),
                                        Field(&Message::body, R"({"accountId":"10000"})")))
      .WillOnce(Return(ByMove(Done())));

  MessagePublisher& role = publisher;
  role.PublishToQueue({.name = "vip_queue"}, {.body = R"({"accountId":"10000"})"}).get();
}

TEST(AmqpMocks, SubscriberMockHandsOutTheHandler) {
  NiceMock<MockMessageSubscriber> subscriber;
  Handler captured;
  EXPECT_CALL(subscriber, SubscribeToQueue(Field(&QueueSpec::name, "vip_queue"), _, _))
      .WillOnce([&](const QueueSpec&, Handler handler, const ConsumerOptions&) {
        captured = std::move(handler);
        return Done();
      });

  MessageSubscriber& role = subscriber;
  role.SubscribeToQueue(
          {.name = "vip_queue"},
          [](const Message& m) { return m.body.empty() ? Outcome::kDeadLetter : Outcome::kAck; },
          {})
      .get();

  ASSERT_TRUE(captured);
  EXPECT_EQ(captured(Message{.body = "x"}), Outcome::kAck);
  EXPECT_EQ(captured(Message{}), Outcome::kDeadLetter);
}

}  // namespace
}  // namespace cppblog::messaging
