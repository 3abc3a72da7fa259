#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cppblog/health/health_registry.hpp"
#include "cppblog/messaging/connection_state.hpp"
#include "cppblog/web/router.hpp"

#include "offer_store.hpp"

namespace cppblog::vipservice {

/// Where the vip_queue subscription stands, for /health: pending until the broker has
/// registered the consumer, then active. Thread-safe.
class SubscriptionStatus {
 public:
  void SetActive() noexcept { active_.store(true, std::memory_order_release); }
  [[nodiscard]] bool IsActive() const noexcept { return active_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> active_{false};
};

/// Registers the service's health checks: "store" (the offer store can be read), "broker"
/// (`broker_state` is kConnected; the detail names the state otherwise, and the node from
/// `broker_node` when given: "recovering, node 10.0.0.1:5672") and "consumer" (the
/// subscription is registered). Everything passed must outlive `health`.
void AddHealthChecks(health::HealthRegistry& health, const OfferStore& offers,
                     std::function<messaging::ConnectionState()> broker_state,
                     const SubscriptionStatus& subscription,
                     std::function<std::string()> broker_node = {});

/// The offers as the HTTP API shows them: a JSON array of
/// {"accountId","messageId","readAt","offeredAt","traceId"}, times in Go's time.String() form;
/// "traceId" (32 lower-case hex digits) only for an offer whose message carried a traceparent.
[[nodiscard]] std::string ToJson(const std::vector<Offer>& offers);

/// What the vipservice's handlers use, given to MakeRouter with designated initializers (the
/// services' one style). The router keeps a copy; what it refers to is owned by main and must
/// outlive the router.
struct HandlerDependencies {
  const OfferStore& offers;
  const health::HealthRegistry& health;
};

/// The vipservice's routes:
///   GET /offers/{accountId}  200 JSON array of the account's offers (empty when none),
///                            400 for an id longer than 128 bytes
///   GET /health              200 text/plain "OK" (the contract), or 503 text/plain naming
///                            each unusable part ("broker: recovering")
[[nodiscard]] web::Router MakeRouter(HandlerDependencies dependencies);

}  // namespace cppblog::vipservice
