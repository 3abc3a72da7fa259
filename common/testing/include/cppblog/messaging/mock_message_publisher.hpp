#pragma once

#include <gmock/gmock.h>

#include "cppblog/messaging/message_publisher.hpp"

namespace cppblog::messaging {

class MockMessagePublisher : public MessagePublisher {
 public:
  MOCK_METHOD(std::future<void>, Publish,
              (const ExchangeSpec& exchange, std::string routing_key, Message message), (override));
  MOCK_METHOD(std::future<void>, PublishToQueue, (const QueueSpec& queue, Message message),
              (override));
};

}  // namespace cppblog::messaging
