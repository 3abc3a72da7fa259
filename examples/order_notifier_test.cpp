// Testing code that publishes, without a broker: the mocks of cppblog::testing stand in for
// AmqpClient behind the MessagePublisher interface.
#include <future>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/message_publisher.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/mock_message_publisher.hpp"

namespace {

namespace messaging = cppblog::messaging;
using ::testing::_;
using ::testing::ByMove;
using ::testing::Field;
using ::testing::Return;

// [snippet code-under-test]
// The code under test takes the role (MessagePublisher), not the technology (AmqpClient).
class OrderNotifier {
 public:
  explicit OrderNotifier(messaging::MessagePublisher& publisher) : publisher_(publisher) {}

  /// True once the broker confirmed the notification; false if it did not take it.
  bool NotifyShipped(const std::string& order_id) {
    auto confirm = publisher_.PublishToQueue(
        {.name = "orders.shipped"}, {.body = order_id, .message_id = "shipped-" + order_id});
    try {
      confirm.get();
      return true;
    } catch (const messaging::MessagingError&) {
      return false;
    }
  }

 private:
  messaging::MessagePublisher& publisher_;
};
// [/snippet code-under-test]

// [snippet mock-publisher]
std::future<void> Confirmed() {
  std::promise<void> confirm;
  confirm.set_value();
  return confirm.get_future();
}

std::future<void> Failed(messaging::MessagingErrorKind kind) {
  std::promise<void> confirm;
  confirm.set_exception(std::make_exception_ptr(messaging::MessagingError(kind, "test")));
  return confirm.get_future();
}

TEST(OrderNotifier, PublishesOneConfirmedMessagePerOrder) {
  messaging::MockMessagePublisher publisher;
  EXPECT_CALL(publisher, PublishToQueue(Field(&messaging::QueueSpec::name, "orders.shipped"),
                                        Field(&messaging::Message::message_id, "shipped-42")))
      .WillOnce(Return(ByMove(Confirmed())));
  OrderNotifier notifier{publisher};
  EXPECT_TRUE(notifier.NotifyShipped("42"));
}

TEST(OrderNotifier, ReportsAMessageTheBrokerDidNotTake) {
  messaging::MockMessagePublisher publisher;
  EXPECT_CALL(publisher, PublishToQueue(_, _))
      .WillOnce(Return(ByMove(Failed(messaging::MessagingErrorKind::kTimeout))));
  OrderNotifier notifier{publisher};
  EXPECT_FALSE(notifier.NotifyShipped("42"));
}
// [/snippet mock-publisher]

}  // namespace
