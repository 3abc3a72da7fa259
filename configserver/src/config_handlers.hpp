#pragma once

#include <functional>

#include "cppblog/health/health_registry.hpp"
#include "cppblog/web/router.hpp"

#include "config_repository.hpp"
#include "refresh_announcer.hpp"
#include "request_auth.hpp"

namespace cppblog::configserver {

/// What the configserver's handlers use, given to MakeRouter with designated initializers (the
/// services' one style). The router keeps a copy; what it refers to is owned by main and must
/// outlive the router.
struct HandlerDependencies {
  const ConfigRepository& repository;
  const health::HealthRegistry& health;
  /// Spring's accept-empty: when false, an application no file matches answers 404.
  bool accept_empty = true;
  /// The bus; nullptr while there is none: /monitor and /actuator/busrefresh answer 503.
  RefreshAnnouncer* announcer = nullptr;
  /// Whether the broker can be reached now (the client's State()); empty: assumed. While it
  /// returns false the refresh endpoints answer 503 at once instead of queueing events.
  std::function<bool()> bus_reachable{};
  /// HTTP Basic credentials and the webhook secret; by default every endpoint is open.
  RequestAuthOptions auth{};
};

/// Longest destination accepted by /actuator/busrefresh/{destination} (400 beyond).
inline constexpr std::size_t kMaxDestinationBytes = 255;

/// The Config Server HTTP API:
///   GET /{application}/{profile}[/{label}]          the Environment JSON
///   GET [/{label}]/{application}-{profile}.yml|.yaml|.properties|.json   merged forms
///   GET /health, /actuator/health                    {"status":"UP"} or 503
///   POST /monitor                                    webhook or form path=… → refresh events
///   POST /actuator/busrefresh[/{destination}]         a refresh event
/// With Basic credentials configured every endpoint answers 401 without them, except
/// /health and /actuator/health, which answer {"status":"UP"|"DOWN"} to anyone and name the
/// failing checks only to an authenticated caller; /monitor also takes a webhook signature
/// (RequestAuth::CheckWebhook). The refresh endpoints answer once the broker confirmed the
/// events, from the announcer's thread: no HTTP thread waits for the broker.
/// "(_)" in an application or label stands for "/". A file that cannot be parsed is
/// served as a source holding only "invalid.source": "<file: line, column: problem>",
/// named in a `Warning: 199` header and logged; the other files are served.
[[nodiscard]] web::Router MakeRouter(HandlerDependencies dependencies);

}  // namespace cppblog::configserver
