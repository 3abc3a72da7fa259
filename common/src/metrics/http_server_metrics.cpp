#include "cppblog/metrics/http_server_metrics.hpp"

#include <array>
#include <atomic>
#include <string>

#include "cppblog/web/http_error.hpp"

namespace cppblog::metrics {
namespace {

constexpr std::string_view kName = "http_server_request_duration_seconds";
constexpr std::string_view kHelp = "Duration of HTTP server requests, until the response is ready.";

// Distinct status codes one route answers with lock-free; a route that answers with more
// (none of ours does) registers the rest under a lock.
constexpr std::size_t kStatusSlots = 12;

}  // namespace

class HttpServerMetrics::Recorder final : public web::RouteRecorder {
 public:
  Recorder(Registry& registry, web::Method method, std::string_view route)
      : registry_(registry),
        method_(method == web::Method::kOther ? "_OTHER" : web::ToString(method)),
        route_(route) {}

  void Record(int status, std::chrono::steady_clock::duration elapsed) noexcept override {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    for (std::size_t i = 0; i < kStatusSlots; ++i) {
      const int seen = statuses_[i].load(std::memory_order_acquire);
      if (seen == status) return histograms_[i]->Observe(seconds);
      if (seen == 0) break;
    }
    try {
      SlowPath(status).Observe(seconds);
    } catch (...) {
      // Registering failed (out of memory): this request goes unrecorded, the answer does not.
    }
  }

 private:
  Histogram& SlowPath(int status) {
    const std::lock_guard lock{mutex_};
    std::size_t i = 0;
    for (; i < kStatusSlots; ++i) {
      const int seen = statuses_[i].load(std::memory_order_relaxed);
      if (seen == status) return *histograms_[i];
      if (seen == 0) break;
    }
    Histogram& histogram =
        registry_.AddHistogram(kName, kHelp,
                               {{"http_request_method", method_},
                                {"http_route", route_},
                                {"http_response_status_code", std::to_string(status)}});
    if (i < kStatusSlots) {
      histograms_[i] = &histogram;
      statuses_[i].store(status, std::memory_order_release);  // publishes histograms_[i]
    }
    return histogram;
  }

  Registry& registry_;
  const std::string method_;
  const std::string route_;
  std::mutex mutex_;
  std::array<std::atomic<int>, kStatusSlots> statuses_{};
  std::array<Histogram*, kStatusSlots> histograms_{};
};

HttpServerMetrics::HttpServerMetrics(Registry& registry) : registry_(registry) {}
HttpServerMetrics::~HttpServerMetrics() = default;

web::RouteRecorder& HttpServerMetrics::ForRoute(web::Method method, std::string_view pattern) {
  const std::lock_guard lock{mutex_};
  return *recorders_.emplace_back(std::make_unique<Recorder>(registry_, method, pattern));
}

web::Router HttpServerMetrics::Instrument(web::Router router) {
  AddMetricsRoute(router, registry_);
  // Disabled: no recorder, so the router does not even read the clock per request.
  if (registry_.Enabled()) router.Observe(*this);
  return router;
}

void AddMetricsRoute(web::Router& router, const Registry& registry) {
  if (!registry.Enabled()) {
    router.Get("/metrics", [](const web::Request&) -> web::Response {
      throw web::NotFound(std::string(kDisabledMessage));
    });
    return;
  }
  router.Get("/metrics", [&registry](const web::Request&) {
    web::Response response;
    response.status = 200;
    response.content_type = std::string(kContentType);
    response.body = registry.Serialize();
    return response;
  });
}

}  // namespace cppblog::metrics
