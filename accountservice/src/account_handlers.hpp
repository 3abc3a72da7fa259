#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cppblog/health/health_registry.hpp"
#include "cppblog/messaging/connection_state.hpp"
#include "cppblog/web/router.hpp"

#include "account_store.hpp"
#include "vip_notifier.hpp"

namespace cppblog::account {

/// What the accountservice's handlers use, given to MakeRouter with designated initializers
/// (the services' one style). The router keeps a copy; what it refers to is owned by main and
/// must outlive the router.
struct HandlerDependencies {
  const AccountStore& accounts;
  const health::HealthRegistry& health;
  health::HealthSwitch& health_switch;
  std::string served_by;  // the contract's servedBy: this host's first non-loopback IPv4
  /// Records VIP reads in the outbox before they are answered; none: no notifications.
  VipNotifier* vip_notifier = nullptr;
  /// The broker connection's state, shown in /health (never fails it); none: not shown.
  std::function<messaging::ConnectionState()> broker_state{};
  /// The broker node the client is on (AmqpClient::CurrentNode), shown beside broker_state.
  std::function<std::string()> broker_node{};
};

/// Registers the service's health checks: the store is readable, and the
/// testability switch says healthy.
void AddHealthChecks(health::HealthRegistry& health, const AccountStore& accounts,
                     const health::HealthSwitch& health_switch);

/// Registers the check "outbox": unhealthy, with the outbox's error, while its commits fail
/// (a full disk); healthy again once one works. The outbox must outlive `health`'s use.
void AddOutboxHealthCheck(health::HealthRegistry& health, const outbox::Outbox& outbox);

/// Adds the "vip_queue" check: unhealthy while `refusal` returns a text (the broker refuses
/// vip_queue's declaration, outbox::Relay::Refusal), which names the setting that matches.
void AddVipQueueHealthCheck(health::HealthRegistry& health,
                            std::function<std::optional<std::string>()> refusal);

/// Seconds a client is told to wait (Retry-After) when a VIP read is refused because the
/// outbox cannot commit.
inline constexpr int kVipRetryAfterSeconds = 5;

/// The accountservice's routes:
///   GET /accounts/{accountId}       200 account JSON, 404 unknown, 400 not 1-32 digits
///   GET /health                     200 {"status":"UP","broker":"connected",
///                                   "broker_node":"10.0.0.1:5672"} (broker: the broker_state,
///                                   broker_node: the broker_node, when given) or 503
///                                   {"status":"Database unaccessible","reason":"<check>: ..."}
///   A VIP read whose notification cannot be stored (the outbox cannot commit): 503 with
///   Retry-After (kVipRetryAfterSeconds) and a JSON error; nothing is served unrecorded.
///   GET /testability/healthy/{state} true|false sets the health switch (200), else 400
[[nodiscard]] web::Router MakeRouter(HandlerDependencies dependencies);

}  // namespace cppblog::account
