#pragma once

#include "cppblog/health/health_registry.hpp"
#include "cppblog/web/router.hpp"

#include "config_repository.hpp"
#include "refresh_announcer.hpp"

namespace cppblog::configserver {

struct HandlerDependencies {
  const ConfigRepository& repository;
  const health::HealthRegistry& health;
  /// Spring's accept-empty: when false, an application no file matches answers 404.
  bool accept_empty = true;
  /// The bus; nullptr while there is none: /monitor and /actuator/busrefresh answer 503.
  RefreshAnnouncer* announcer = nullptr;
};

/// The Config Server HTTP API:
///   GET /{application}/{profile}[/{label}]          the Environment JSON
///   GET [/{label}]/{application}-{profile}.yml|.yaml|.properties|.json   merged forms
///   GET /health, /actuator/health                    {"status":"UP"} or 503
///   POST /monitor                                    webhook or form path=… → refresh events
///   POST /actuator/busrefresh[/{destination}]         a refresh event
/// "(_)" in an application or label stands for "/". A file that cannot be parsed is
/// served as a source holding only "invalid.source": "<file: line, column: problem>",
/// named in a `Warning: 199` header and logged; the other files are served.
/// The dependencies must outlive the router.
[[nodiscard]] web::Router MakeRouter(const HandlerDependencies& dependencies);

}  // namespace cppblog::configserver
