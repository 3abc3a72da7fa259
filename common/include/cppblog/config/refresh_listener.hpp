#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <set>
#include <string>

#include "cppblog/config/config_client.hpp"
#include "cppblog/config/live_properties.hpp"
#include "cppblog/config/properties.hpp"
#include "cppblog/messaging/message_publisher.hpp"
#include "cppblog/messaging/message_subscriber.hpp"
#include "cppblog/metrics/registry.hpp"

namespace cppblog::config {

struct RefreshListenerOptions {
  /// The bus: a durable topic exchange (the `config_event_bus` key, Spring's
  /// spring.cloud.bus.destination), also the routing key of the acks sent on it.
  std::string bus_exchange = "springCloudBus";
  /// This instance's bus id, "app:port:<random>" (MakeBusId); must be unique per instance.
  std::string bus_id{};
  /// Keys the service applies while running (its change callbacks read them); any other key
  /// that changes is logged as taking effect only after a restart.
  std::set<std::string, std::less<>> live_keys{};
  /// Called with the reloaded configuration before it is swapped in (e.g. the service's
  /// Settings::From); throwing keeps the current snapshot and logs the reason.
  std::function<void(const Properties&)> validate{};
  /// Send an AckRemoteApplicationEvent for every event handled (spring.cloud.bus.ack.enabled).
  bool send_acks = true;
  /// Injectable for tests: epoch milliseconds for ack timestamps.
  std::function<std::int64_t()> now_ms{};
  /// Counts refreshes in cppblog_config_refreshes_total{result="applied|failed"} (applied: the
  /// reload validated and was swapped in, changed or not; failed: the current configuration
  /// stays). Null: not counted. Must outlive the listener.
  metrics::Registry* metrics = nullptr;
};

/// Live refresh over Spring Cloud Bus. Subscribes a server-named (exclusive, auto-delete)
/// queue bound with `#` to the durable topic exchange `bus_exchange`; for every
/// RefreshRemoteApplicationEvent addressed to `bus_id` (Decide: Ant patterns on ':' segments,
/// acks and own events ignored) it reloads every layer through `client` (LoadMode::kRefresh),
/// validates, swaps the snapshot of `live` (whose change callbacks then run), logs the changed
/// keys and those that need a restart, and publishes an AckRemoteApplicationEvent on the
/// exchange with routing key `bus_exchange`, as Spring does. A reload that fails (server down,
/// bad value) keeps the current configuration and is logged; the event is still acked.
/// Events are handled one at a time. The subscription is replayed by the subscriber after
/// reconnects. All references must outlive this object; after destruction, deliveries still
/// in the subscriber are acked and ignored.
class RefreshListener {
 public:
  RefreshListener(messaging::MessageSubscriber& bus_subscriber,
                  messaging::MessagePublisher& ack_publisher, const ConfigClient& client,
                  LiveProperties& live, RefreshListenerOptions options);
  ~RefreshListener();
  RefreshListener(const RefreshListener&) = delete;
  RefreshListener& operator=(const RefreshListener&) = delete;
  RefreshListener(RefreshListener&&) = delete;
  RefreshListener& operator=(RefreshListener&&) = delete;

  /// Completes when the broker has registered the subscription (first time); fails with
  /// messaging::MessagingError when it refuses it. The constructor does not wait: a broker
  /// that is down delays refreshes, not start-up.
  [[nodiscard]] std::shared_future<void> Subscribed() const;

  /// Refresh events addressed to this instance so far, counted as their handling starts
  /// (whether the reload then succeeds or not).
  [[nodiscard]] std::uint64_t RefreshCount() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::shared_future<void> subscribed_;
};

}  // namespace cppblog::config
