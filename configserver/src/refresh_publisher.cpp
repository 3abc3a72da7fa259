#include "refresh_publisher.hpp"

#include <mutex>
#include <stdexcept>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <spdlog/spdlog.h>

#include "environment.hpp"

namespace cppblog::configserver {

std::string ToJson(const RefreshEvent& event) {
  return R"({"type":"RefreshRemoteApplicationEvent","timestamp":)" +
         std::to_string(event.timestamp_ms) + R"(,"originService":)" +
         JsonString(event.origin_service) + R"(,"destinationService":)" +
         JsonString(event.destination_service) + R"(,"id":)" + JsonString(event.id) + "}";
}

std::string RandomUuid() {
  // boost's generator is not thread-safe; events are rare, a lock is cheap enough.
  static std::mutex mutex;
  static boost::uuids::random_generator generator;
  std::lock_guard lock{mutex};
  return boost::uuids::to_string(generator());
}

std::string MakeBusId(std::string_view application, std::uint16_t port) {
  std::string random;
  for (const char c : RandomUuid()) {
    if (c != '-') random += c;
  }
  return std::string(application) + ":" + std::to_string(port) + ":" + random;
}

RefreshPublisher::RefreshPublisher(messaging::MessagePublisher& publisher,
                                   RefreshPublisherOptions options)
    : publisher_(publisher), options_(std::move(options)) {
  if (!options_.now_ms) {
    options_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!options_.new_event_id) options_.new_event_id = RandomUuid;
}

void RefreshPublisher::Announce(const std::string& destination) {
  const RefreshEvent event{.timestamp_ms = options_.now_ms(),
                           .origin_service = options_.origin_service,
                           .destination_service = destination,
                           .id = options_.new_event_id()};
  messaging::Message message;
  message.body = ToJson(event);
  message.content_type = "application/json";
  message.message_id = event.id;
  message.persistent = true;
  message.mandatory = false;
  std::future<void> confirmed = publisher_.Publish({.name = options_.bus,
                                                    .type = messaging::ExchangeType::kTopic,
                                                    .durable = true,
                                                    .auto_delete = false},
                                                   options_.bus, std::move(message));
  if (confirmed.wait_for(options_.confirm_timeout) != std::future_status::ready) {
    throw std::runtime_error(
        "the broker did not confirm the refresh event for '" + destination + "' within " +
        std::to_string(options_.confirm_timeout.count()) +
        " ms (is the broker reachable?); the client keeps it and retries until its publish "
        "timeout, so it may still arrive");
  }
  confirmed.get();
  spdlog::info("refresh event published: destination={} id={} exchange={}", destination, event.id,
               options_.bus);
}

}  // namespace cppblog::configserver
