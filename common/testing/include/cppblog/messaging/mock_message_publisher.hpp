#pragma once

#include <gmock/gmock.h>

#include "cppblog/messaging/message_publisher.hpp"

namespace cppblog::messaging {

/// Mocks the future forms. The callback forms are MessagePublisher's defaults: they call the
/// (mocked) future forms and report that future's result, so a test that sets only the future
/// forms drives callback users too. (They are not mocked themselves, so that
/// `ON_CALL(mock, Publish)` without matchers stays unambiguous.)
class MockMessagePublisher : public MessagePublisher {
 public:
  using MessagePublisher::Publish;
  using MessagePublisher::PublishToQueue;

  MOCK_METHOD(std::future<void>, Publish,
              (const ExchangeSpec& exchange, std::string routing_key, Message message), (override));
  MOCK_METHOD(std::future<void>, PublishToQueue, (const QueueSpec& queue, Message message),
              (override));
};

}  // namespace cppblog::messaging
