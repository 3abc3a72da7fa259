#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string_view>

#include "cppblog/metrics/registry.hpp"
#include "cppblog/web/router.hpp"

namespace cppblog::metrics {

/// http_server_request_duration_seconds{http_request_method, http_route,
/// http_response_status_code} (OpenTelemetry's HTTP server metric in Prometheus form) for every
/// route of the routers it observes: `router.Observe(http_metrics)`. The route label is the
/// route's template, never the raw path; requests that match no route have an empty one.
/// Recording is lock-free once a route has seen a status code (a handful of slots per route);
/// the first request with a new code registers its series. Must outlive the routers it
/// observes. Thread-safe. With a disabled registry it observes nothing (Instrument leaves the
/// router unobserved) and GET /metrics answers 404 with kDisabledMessage.
class HttpServerMetrics final : public web::RouteObserver {
 public:
  explicit HttpServerMetrics(Registry& registry);
  ~HttpServerMetrics();
  HttpServerMetrics(const HttpServerMetrics&) = delete;
  HttpServerMetrics& operator=(const HttpServerMetrics&) = delete;

  web::RouteRecorder& ForRoute(web::Method method, std::string_view pattern) override;

  /// `router` with GET /metrics (the registry's text format) added, observed by this: what a
  /// service's main hands its web::Server.
  [[nodiscard]] web::Router Instrument(web::Router router);

 private:
  class Recorder;
  Registry& registry_;
  std::mutex mutex_;
  std::deque<std::unique_ptr<Recorder>> recorders_;
};

/// What GET /metrics answers (404, {"error": …}) when the registry is disabled.
inline constexpr std::string_view kDisabledMessage =
    "metrics are disabled on this instance (metrics_enabled is false); set metrics_enabled=true "
    "(environment METRICS_ENABLED=true) and restart it to serve them";

/// Adds `GET /metrics` to `router`: the registry in the Prometheus text format (content type
/// kContentType); with a disabled registry, a 404 with kDisabledMessage.
void AddMetricsRoute(web::Router& router, const Registry& registry);

}  // namespace cppblog::metrics
