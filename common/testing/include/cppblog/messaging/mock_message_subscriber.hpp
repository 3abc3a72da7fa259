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
};

}  // namespace cppblog::messaging
