#include "cppblog/metrics/http_server_metrics.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/web/http_error.hpp"

namespace cppblog::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

web::Request Get(std::string path) {
  web::Request request;
  request.method = web::Method::kGet;
  request.path = std::move(path);
  return request;
}

std::string CountLine(std::string_view method, std::string_view route, int status,
                      std::string_view count) {
  return "http_server_request_duration_seconds_count{http_request_method=\"" + std::string(method) +
         "\",http_route=\"" + std::string(route) + "\",http_response_status_code=\"" +
         std::to_string(status) + "\"} " + std::string(count) + "\n";
}

TEST(HttpServerMetrics, RecordsTheRouteTemplateNotThePath) {
  Registry registry;
  HttpServerMetrics http{registry};
  web::Router router;
  router.Get("/accounts/{accountId}", [](const web::Request& request) {
    if (request.path_params.at("accountId") == "404") throw web::HttpError(404, "no account");
    return web::Response::Json(200, "{}");
  });
  router.Observe(http);

  static_cast<void>(router.Dispatch(Get("/accounts/10000")));
  static_cast<void>(router.Dispatch(Get("/accounts/10001")));
  static_cast<void>(router.Dispatch(Get("/accounts/404")));

  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr(CountLine("GET", "/accounts/{accountId}", 200, "2")));
  EXPECT_THAT(text, HasSubstr(CountLine("GET", "/accounts/{accountId}", 404, "1")));
  EXPECT_THAT(text, Not(HasSubstr("10000")));
}

TEST(HttpServerMetrics, RoutesAddedAfterObserveAndAsyncAnswersAreRecorded) {
  Registry registry;
  HttpServerMetrics http{registry};
  web::Router router;
  router.Observe(http);
  router.GetAsync("/later", [](const web::Request&, web::Responder& responder) {
    web::Responder moved = std::move(responder);
    moved.Send(web::Response::Json(503, "{}"));
  });

  static_cast<void>(router.Dispatch(Get("/later")));

  EXPECT_THAT(registry.Serialize(), HasSubstr(CountLine("GET", "/later", 503, "1")));
}

TEST(HttpServerMetrics, UnmatchedRequestsHaveAnEmptyRoute) {
  Registry registry;
  HttpServerMetrics http{registry};
  web::Router router;
  router.Get("/health", [](const web::Request&) { return web::Response::Json(200, "{}"); });
  router.Observe(http);

  static_cast<void>(router.Dispatch(Get("/no/such/thing")));

  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr(CountLine("GET", "", 404, "1")));
  EXPECT_THAT(text, Not(HasSubstr("/no/such/thing")));
}

TEST(HttpServerMetrics, MetricsRouteServesTheTextFormat) {
  Registry registry;
  registry.AddCounter("cppblog_config_refreshes_total", "Refreshes.", {{"result", "applied"}})
      .Increment();
  web::Router router;
  AddMetricsRoute(router, registry);

  const web::Response response = router.Dispatch(Get("/metrics"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(response.body, HasSubstr("cppblog_config_refreshes_total{result=\"applied\"} 1\n"));
}

TEST(HttpServerMetrics, DisabledRegistryTimesNothingAndMetricsAnswers404NamingTheSetting) {
  Registry registry{{.enabled = false}};
  HttpServerMetrics http{registry};
  web::Router router = http.Instrument([] {
    web::Router r;
    r.Get("/health", [](const web::Request&) { return web::Response::Json(200, "{}"); });
    return r;
  }());

  EXPECT_EQ(router.Dispatch(Get("/health")).status, 200);
  const web::Response response = router.Dispatch(Get("/metrics"));

  EXPECT_EQ(response.status, 404);
  EXPECT_THAT(response.body, HasSubstr("metrics_enabled"));
  EXPECT_THAT(response.body, HasSubstr("METRICS_ENABLED=true"));
  EXPECT_EQ(registry.Serialize(), "");
}

}  // namespace
}  // namespace cppblog::metrics
