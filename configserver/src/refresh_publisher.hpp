#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cppblog/config/refresh_event.hpp"
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
///  "destinationService":…,"id":…} — the JSON Spring's BusJacksonMessageConverter reads
/// (config::MakeRefreshJson, the bus-event code the services share).
[[nodiscard]] inline std::string ToJson(const RefreshEvent& event) {
  return config::MakeRefreshJson(event.origin_service, event.destination_service, event.id,
                                 event.timestamp_ms);
}

/// The bus ids and event ids of cppblog/config/refresh_event.hpp.
using config::MakeBusId;
using config::RandomUuid;

struct RefreshPublisherOptions {
  /// The bus: a durable topic exchange, also the routing key (spring.cloud.bus.destination).
  std::string bus = "springCloudBus";
  std::string origin_service{};  // see MakeBusId
  /// How long the publisher waits for the broker's confirms of a batch before reporting failure.
  std::chrono::milliseconds confirm_timeout{5'000};
  /// How long the first request for a destination waits for others to join its event
  /// (requests for the same destination within it cost one event).
  std::chrono::milliseconds coalesce_window{200};
  /// At most this many distinct destinations wait at once; beyond, Announce throws
  /// AnnouncerBusyError.
  std::size_t max_queued = 256;
  /// Injectable for tests.
  std::function<std::int64_t()> now_ms{};       // empty: the system clock
  std::function<std::string()> new_event_id{};  // empty: RandomUuid
};

/// Announces changes as RefreshRemoteApplicationEvents on the Spring Cloud Bus: published
/// persistent, content type application/json, to the `bus` topic exchange with routing key
/// `bus`, not mandatory (a bus nobody listens to is not an error). One thread of its own
/// publishes and waits for confirms, so callers (HTTP I/O threads) never block. Requests are
/// coalesced: every destination queued while the first of them waits out coalesce_window goes
/// out in one batch, one event per distinct destination. Thread-safe.
class RefreshPublisher final : public RefreshAnnouncer {
 public:
  /// `publisher` must outlive this object.
  RefreshPublisher(messaging::MessagePublisher& publisher, RefreshPublisherOptions options);
  /// Stops the thread; announcements still queued complete with an error.
  ~RefreshPublisher() override;
  RefreshPublisher(const RefreshPublisher&) = delete;
  RefreshPublisher& operator=(const RefreshPublisher&) = delete;

  /// See RefreshAnnouncer. `done` gets nullopt once the broker confirmed every event, or the
  /// reason one failed: the broker refused it, or no confirm came within confirm_timeout (the
  /// messaging client keeps the event and sends it once the broker is back).
  /// Throws std::invalid_argument for an empty list.
  void Announce(std::vector<std::string> destinations, AnnounceDone done) override;

 private:
  struct Waiter;
  struct Queued {
    std::chrono::steady_clock::time_point since;
    std::vector<std::shared_ptr<Waiter>> waiters;
  };
  void Run(const std::stop_token& stop);
  void PublishBatch(std::map<std::string, Queued> batch);

  messaging::MessagePublisher& publisher_;
  RefreshPublisherOptions options_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::map<std::string, Queued> queued_;
  std::jthread worker_;  // last: started once everything above exists
};

}  // namespace cppblog::configserver
