#include "cppblog/messaging/message_publisher.hpp"

#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

namespace cppblog::messaging {
namespace {

void Report(const PublishCallback& on_done, std::future<void>& result) noexcept {
  try {
    try {
      result.get();
      on_done(nullptr);
    } catch (const MessagingError& e) {
      on_done(&e);
    } catch (const std::exception& e) {
      const MessagingError error(MessagingErrorKind::kChannelClosed, e.what());
      on_done(&error);
    }
  } catch (const std::exception& e) {
    spdlog::error("publisher: a publish callback threw ({}); callbacks must not throw", e.what());
  } catch (...) {
    spdlog::error("publisher: a publish callback threw; callbacks must not throw");
  }
}

// The default callback form: the result of `publish` (a call of the future form) to `on_done`.
template <typename PublishFn>
void ReportWhenDone(PublishFn&& publish, PublishCallback on_done) {
  std::future<void> result;
  try {
    result = std::forward<PublishFn>(publish)();
  } catch (...) {
    std::promise<void> failed;
    failed.set_exception(std::current_exception());
    result = failed.get_future();
  }
  if (!on_done) return;
  if (!result.valid() || result.wait_for(std::chrono::seconds{0}) == std::future_status::ready) {
    if (result.valid()) Report(on_done, result);
    return;
  }
  // Only a waiting thread can turn a pending future into a call: implementations that can do
  // better override the callback forms (AmqpClient does).
  std::thread{[on_done = std::move(on_done), result = std::move(result)]() mutable {
    result.wait();
    Report(on_done, result);
  }}.detach();
}

}  // namespace

void MessagePublisher::Publish(const ExchangeSpec& exchange, std::string routing_key,
                               Message message, PublishCallback on_done) {
  ReportWhenDone([&] { return Publish(exchange, std::move(routing_key), std::move(message)); },
                 std::move(on_done));
}

void MessagePublisher::PublishToQueue(const QueueSpec& queue, Message message,
                                      PublishCallback on_done) {
  ReportWhenDone([&] { return PublishToQueue(queue, std::move(message)); }, std::move(on_done));
}

}  // namespace cppblog::messaging
