#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "service_process.hpp"

// The services' GET /metrics scraped by a real Prometheus (the test starts it on a free port,
// scraping every second): what it stores must count exactly what the test drove.
namespace cppblog::e2e {
namespace {

using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::StartsWith;

std::filesystem::path PrometheusBinary() {
  if (const char* path = std::getenv("CPPBLOG_PROMETHEUS_BIN"); path != nullptr && *path != 0) {
    return path;
  }
  return "/usr/bin/prometheus";  // Debian's package `prometheus` (./dev deps installs it)
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// A Prometheus server scraping `jobs` (job name → host:port) every second.
class Prometheus {
 public:
  explicit Prometheus(const std::map<std::string, std::string>& jobs) : port_(FreePort()) {
    std::ofstream config{dir_.path() / "prometheus.yml"};
    config << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n";
    for (const auto& [job, target] : jobs) {
      config << "  - job_name: " << job << "\n    static_configs:\n      - targets: [\"" << target
             << "\"]\n";
    }
    config.close();
    process_.emplace(ServiceOptions{
        .binary = PrometheusBinary(),
        .args = {"--config.file=" + (dir_.path() / "prometheus.yml").string(),
                 "--storage.tsdb.path=" + (dir_.path() / "data").string(),
                 "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        .env = {}});
  }

  [[nodiscard]] bool WaitReady() { return process_->WaitHealthy(port_, 60s, "/-/ready"); }
  [[nodiscard]] std::string Output() const { return process_->Output(); }

  // The value of an instant query that yields one sample; nullopt for none (or an error).
  [[nodiscard]] std::optional<double> Query(const std::string& query) {
    const HttpResponse response = HttpGet(port_, "/api/v1/query?query=" + UrlEncode(query));
    if (response.status != 200) return std::nullopt;
    const boost::json::value json = boost::json::parse(response.body);
    const auto& result = json.at("data").at("result").as_array();
    if (result.size() != 1) return std::nullopt;
    return std::stod(std::string(result[0].at("value").as_array()[1].as_string()));
  }

 private:
  TempDir dir_{"cppblog-e2e-prometheus"};
  std::uint16_t port_;
  std::optional<ServiceProcess> process_;
};

TEST(MetricsE2e, PrometheusCountsEveryRequestPublishConfirmConsumeAndOffer) {
  const std::string queue = UniqueName("vip_queue-metrics");
  // A bus of its own: refresh events of other tests would add to the counts.
  const std::string bus = UniqueName("springCloudBus-metrics");
  const TempDir account_data;
  const TempDir vip_data;
  const std::uint16_t account_port = FreePort();
  const std::uint16_t vip_port = FreePort();
  ServiceProcess account{ServiceOptionsFor(
      BinaryPath("CPPBLOG_ACCOUNTSERVICE_BIN", CPPBLOG_ACCOUNTSERVICE_BIN), account_data.path(),
      account_port,
      {{"vip_queue", queue}, {"amqp_server_url", TestAmqpUrl()}, {"config_event_bus", bus}})};
  ServiceProcess vip{ServiceOptionsFor(BinaryPath("CPPBLOG_VIPSERVICE_BIN", CPPBLOG_VIPSERVICE_BIN),
                                       vip_data.path(), vip_port,
                                       {{"vip_queue", queue},
                                        {"amqp_server_url", TestAmqpUrl()},
                                        {"offer_cooldown", "0"},
                                        {"config_event_bus", bus}})};
  ASSERT_TRUE(account.WaitHealthy(account_port, 20s)) << account.Output();
  ASSERT_TRUE(vip.WaitHealthy(vip_port, 20s)) << vip.Output();
  const HttpResponse exposition = HttpGet(account_port, "/metrics");
  ASSERT_EQ(exposition.status, 200);
  EXPECT_THAT(exposition.Header("Content-Type").value_or(""),
              StartsWith("text/plain; version=0.0.4"));

  Prometheus prometheus{{{"accountservice", "127.0.0.1:" + std::to_string(account_port)},
                         {"vipservice", "127.0.0.1:" + std::to_string(vip_port)}}};
  ASSERT_TRUE(prometheus.WaitReady()) << prometheus.Output();

  constexpr int kVipReads = 25;
  constexpr int kPlainReads = 7;
  {
    HttpConnection connection{account_port};
    for (int i = 0; i < kVipReads; ++i) ASSERT_EQ(connection.Get("/accounts/10000").status, 200);
    for (int i = 0; i < kPlainReads; ++i) {
      ASSERT_EQ(connection.Get("/accounts/10001").status, 200);
    }
  }

  const std::string to_queue = "messaging_destination_name=\"" + queue + "\"";
  // What Prometheus must end up with (scrapes are a second apart: poll with a deadline).
  const std::vector<std::pair<std::string, double>> expected = {
      {R"(sum(http_server_request_duration_seconds_count{job="accountservice",)"
       R"(http_request_method="GET",http_route="/accounts/{accountId}",)"
       R"(http_response_status_code="200"}))",
       kVipReads + kPlainReads},
      {R"(sum(rabbitmq_published_total{job="accountservice"}))", kVipReads},
      {R"(sum(rabbitmq_acknowledged_published_total{job="accountservice"}))", kVipReads},
      {"sum(messaging_client_operation_duration_seconds_count{" + to_queue + "})", kVipReads},
      {"sum(messaging_process_duration_seconds_count{job=\"vipservice\"," + to_queue + "})",
       kVipReads},
      {R"(sum(rabbitmq_acknowledged_total{job="vipservice"}))", kVipReads},
      {R"(sum(cppblog_offers_total{job="vipservice",result="offered"}))", kVipReads},
      {R"(sum(cppblog_outbox_entries{job="accountservice"}))", 0},
  };
  std::map<std::string, std::optional<double>> seen;
  const bool all = WaitUntil(
      [&] {
        bool equal = true;
        for (const auto& [query, value] : expected) {
          seen[query] = prometheus.Query(query);
          equal = equal && seen[query] == value;
        }
        return equal;
      },
      60s);
  for (const auto& [query, value] : expected) {
    EXPECT_EQ(seen[query], value) << query;
  }
  ASSERT_TRUE(all) << prometheus.Output();
  // The consumer counted exactly those: the test's own config bus carried nothing.
  EXPECT_EQ(prometheus.Query(R"(sum(rabbitmq_consumed_total{job="vipservice"}))"), kVipReads);
  EXPECT_EQ(prometheus.Query(R"(sum(cppblog_amqp_connection_state{state="connected"}))"), 2);
}

}  // namespace
}  // namespace cppblog::e2e
