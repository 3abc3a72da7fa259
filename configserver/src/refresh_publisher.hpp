#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "cppblog/messaging/message_publisher.hpp"

#include "refresh_announcer.hpp"

namespace cppblog::configserver {

/// Spring Cloud Bus's RefreshRemoteApplicationEvent as it travels on the bus.
struct RefreshEvent {
  std::int64_t timestamp_ms = 0;      // epoch milliseconds (ApplicationEvent.timestamp)
  std::string origin_service{};       // the sender's bus id, "configserver:8888:<random>"
  std::string destination_service{};  // "accountservice:**"
  std::string id{};                   // a random UUID
};

/// {"type":"RefreshRemoteApplicationEvent","timestamp":…,"originService":…,
///  "destinationService":…,"id":…} — the JSON Spring's BusJacksonMessageConverter reads.
[[nodiscard]] std::string ToJson(const RefreshEvent& event);

/// A random UUID, "53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc". Thread-safe.
[[nodiscard]] std::string RandomUuid();

/// A unique bus id "app:port:<32 hex digits>", like Spring's default
/// `${spring.application.name}:${server.port}:${random.value}`.
[[nodiscard]] std::string MakeBusId(std::string_view application, std::uint16_t port);

struct RefreshPublisherOptions {
  /// The bus: a durable topic exchange, also the routing key (spring.cloud.bus.destination).
  std::string bus = "springCloudBus";
  std::string origin_service{};  // see MakeBusId
  /// How long Announce waits for the broker's confirm before reporting failure.
  std::chrono::milliseconds confirm_timeout{5'000};
  /// Injectable for tests.
  std::function<std::int64_t()> now_ms{};       // empty: the system clock
  std::function<std::string()> new_event_id{};  // empty: RandomUuid
};

/// Announces changes as RefreshRemoteApplicationEvents on the Spring Cloud Bus: published
/// persistent, content type application/json, to the `bus` topic exchange with routing key
/// `bus`, not mandatory (a bus nobody listens to is not an error). Thread-safe.
class RefreshPublisher final : public RefreshAnnouncer {
 public:
  /// `publisher` must outlive this object.
  RefreshPublisher(messaging::MessagePublisher& publisher, RefreshPublisherOptions options);

  /// Publishes one event and waits for the broker's confirm. Throws messaging::MessagingError
  /// when the broker refuses it, or std::runtime_error when no confirm came within
  /// confirm_timeout (the client keeps the event and sends it once the broker is back).
  void Announce(const std::string& destination) override;

 private:
  messaging::MessagePublisher& publisher_;
  RefreshPublisherOptions options_;
};

}  // namespace cppblog::configserver
