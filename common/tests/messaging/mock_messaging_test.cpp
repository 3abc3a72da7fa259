#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <vector>

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

// The callback forms' default (MessagePublisher's, which the mock keeps) reports the mocked
// future's result: at once when it is ready, else when it becomes ready.
TEST(AmqpMocks, CallbackFormReportsTheMockedFuturesResult) {
  NiceMock<MockMessagePublisher> publisher;
  std::promise<void> later;
  EXPECT_CALL(publisher, PublishToQueue(_, _))
      .WillOnce(Return(ByMove(Done())))
      .WillOnce([](const QueueSpec&, const Message&) {
        std::promise<void> refused;
        refused.set_exception(std::make_exception_ptr(
            MessagingError(MessagingErrorKind::kUnroutable, "no queue bound")));
        return refused.get_future();
      })
      .WillOnce(Return(ByMove(later.get_future())));
  MessagePublisher& role = publisher;
  std::vector<std::optional<MessagingErrorKind>> results;
  const auto record = [&](const MessagingError* error) {
    results.emplace_back(error ? std::optional{error->kind()} : std::nullopt);
  };

  role.PublishToQueue({.name = "q"}, {.body = "1"}, record);
  role.PublishToQueue({.name = "q"}, {.body = "2"}, record);
  ASSERT_EQ(results.size(), 2U);  // both futures were ready: reported before returning
  EXPECT_EQ(results[0], std::nullopt);
  EXPECT_EQ(results[1], MessagingErrorKind::kUnroutable);

  // Shared: the default reports from a thread of its own, which may still hold it after this
  // test saw the result.
  auto reported = std::make_shared<std::promise<const MessagingError*>>();
  auto outcome = reported->get_future();
  role.PublishToQueue({.name = "q"}, {.body = "3"},
                      [reported](const MessagingError* error) { reported->set_value(error); });
  EXPECT_EQ(outcome.wait_for(std::chrono::milliseconds{0}), std::future_status::timeout);
  later.set_value();
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  EXPECT_EQ(outcome.get(), nullptr);
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
