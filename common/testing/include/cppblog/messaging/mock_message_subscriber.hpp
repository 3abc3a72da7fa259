#pragma once

#include <gmock/gmock.h>

#include "cppblog/messaging/message_subscriber.hpp"

namespace cppblog::messaging {

class MockMessageSubscriber : public MessageSubscriber {
 public:
  MOCK_METHOD(std::future<void>, Subscribe,
              (const ExchangeSpec& exchange, std::vector<std::string> binding_keys,
               const QueueSpec& queue, Handler handler, const ConsumerOptions& options),
              (override));
  MOCK_METHOD(std::future<void>, SubscribeToQueue,
              (const QueueSpec& queue, Handler handler, const ConsumerOptions& options),
              (override));
  MOCK_METHOD(Subscription, SubscribeHandle,
              (const ExchangeSpec& exchange, std::vector<std::string> binding_keys,
               const QueueSpec& queue, Handler handler, const ConsumerOptions& options),
              (override));
  MOCK_METHOD(Subscription, SubscribeToQueueHandle,
              (const QueueSpec& queue, Handler handler, const ConsumerOptions& options),
              (override));
};

/// What a Subscription acts through, mocked: `Subscription(control, ready)` with a
/// std::shared_ptr<MockSubscriptionControl> is a handle whose Pause, Resume and Cancel the test
/// expects and answers (each returns a std::future<void>).
class MockSubscriptionControl : public Subscription::Control {
 public:
  MOCK_METHOD(std::future<void>, Pause, (), (override));
  MOCK_METHOD(std::future<void>, Resume, (), (override));
  MOCK_METHOD(std::future<void>, Cancel, (), (override));
};

}  // namespace cppblog::messaging
