#pragma once

#include <gmock/gmock.h>

#include "cppblog/messaging/message_publisher.hpp"

namespace cppblog::messaging {

/// Each callback form does by default what MessagePublisher's default does: it calls the
/// (mocked) future form and reports that future's result, so a test that sets only the future
/// forms drives callback users too. ON_CALL a callback form to settle it directly.
class MockMessagePublisher : public MessagePublisher {
 public:
  MockMessagePublisher() {
    using ::testing::_;
    ON_CALL(*this, Publish(_, _, _, _))
        .WillByDefault([this](const ExchangeSpec& exchange, std::string routing_key,
                              Message message, PublishCallback on_done) {
          MessagePublisher::Publish(exchange, std::move(routing_key), std::move(message),
                                    std::move(on_done));
        });
    ON_CALL(*this, PublishToQueue(_, _, _))
        .WillByDefault([this](const QueueSpec& queue, Message message, PublishCallback on_done) {
          MessagePublisher::PublishToQueue(queue, std::move(message), std::move(on_done));
        });
  }

  MOCK_METHOD(std::future<void>, Publish,
              (const ExchangeSpec& exchange, std::string routing_key, Message message), (override));
  MOCK_METHOD(std::future<void>, PublishToQueue, (const QueueSpec& queue, Message message),
              (override));
  MOCK_METHOD(void, Publish,
              (const ExchangeSpec& exchange, std::string routing_key, Message message,
               PublishCallback on_done),
              (override));
  MOCK_METHOD(void, PublishToQueue,
              (const QueueSpec& queue, Message message, PublishCallback on_done), (override));
};

}  // namespace cppblog::messaging
