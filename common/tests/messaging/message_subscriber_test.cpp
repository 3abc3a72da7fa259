#include "cppblog/messaging/message_subscriber.hpp"

#include <future>
#include <memory>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/mock_message_subscriber.hpp"

namespace cppblog::messaging {
namespace {

using ::testing::_;
using ::testing::ByMove;
using ::testing::Field;
using ::testing::Return;
using ::testing::StrictMock;

std::future<void> Done() {
  std::promise<void> promise;
  promise.set_value();
  return promise.get_future();
}

// Code that takes the role (MessageSubscriber), not AmqpClient: it stops taking orders while its
// warehouse is closed, through the subscription's handle.
class OrderIntake {
 public:
  explicit OrderIntake(MessageSubscriber& subscriber)
      : subscription_(subscriber.SubscribeToQueueHandle(
            {.name = "orders"}, [](const Message&) { return Outcome::kAck; }, {.prefetch = 10})) {}

  void WarehouseClosed() { subscription_.Pause().get(); }
  void WarehouseOpened() { subscription_.Resume().get(); }
  void Stop() { subscription_.Cancel().get(); }
  [[nodiscard]] const Subscription& Handle() const { return subscription_; }

 private:
  Subscription subscription_;
};

TEST(AmqpMessageSubscriber, AHandleFromTheInterfaceActsOnItsOwnSubscription) {
  StrictMock<MockMessageSubscriber> subscriber;
  auto control = std::make_shared<StrictMock<MockSubscriptionControl>>();
  std::promise<void> registered;
  registered.set_value();
  EXPECT_CALL(subscriber, SubscribeToQueueHandle(Field(&QueueSpec::name, "orders"), _,
                                                 Field(&ConsumerOptions::prefetch, 10)))
      .WillOnce(Return(ByMove(Subscription(control, registered.get_future().share()))));
  {
    const ::testing::InSequence in_order;
    EXPECT_CALL(*control, Pause()).WillOnce(Return(ByMove(Done())));
    EXPECT_CALL(*control, Resume()).WillOnce(Return(ByMove(Done())));
    EXPECT_CALL(*control, Cancel()).WillOnce(Return(ByMove(Done())));
  }

  OrderIntake intake(subscriber);
  ASSERT_TRUE(intake.Handle().Valid());
  EXPECT_NO_THROW(intake.Handle().Ready().get());
  intake.WarehouseClosed();
  intake.WarehouseOpened();
  intake.Stop();
}

TEST(AmqpMessageSubscriber, AHandleCarriesTheRefusalOfItsSubscription) {
  StrictMock<MockMessageSubscriber> subscriber;
  std::promise<void> refused;
  refused.set_exception(std::make_exception_ptr(MessagingError(
      MessagingErrorKind::kPreconditionFailed, "queue 'orders' declared otherwise")));
  EXPECT_CALL(subscriber, SubscribeToQueueHandle(_, _, _))
      .WillOnce(Return(ByMove(Subscription(std::make_shared<StrictMock<MockSubscriptionControl>>(),
                                           refused.get_future().share()))));

  const OrderIntake intake(subscriber);
  EXPECT_THAT([&] { intake.Handle().Ready().get(); },
              ::testing::ThrowsMessage<MessagingError>(::testing::HasSubstr("declared otherwise")));
}

}  // namespace
}  // namespace cppblog::messaging
