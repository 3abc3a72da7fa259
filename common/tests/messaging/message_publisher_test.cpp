#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/mock_message_publisher.hpp"

namespace cppblog::messaging {
namespace {

using ::testing::_;
using ::testing::ByMove;
using ::testing::NiceMock;
using ::testing::Return;

std::future<void> Done() {
  std::promise<void> promise;
  promise.set_value();
  return promise.get_future();
}

// MessagePublisher's callback form, as every implementation without one of its own gets it:
// reported at once for a ready future, from a thread of its own otherwise.
TEST(AmqpMessagePublisher, DefaultCallbackFormReportsTheFuturesResult) {
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

}  // namespace
}  // namespace cppblog::messaging
