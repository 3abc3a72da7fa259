#include <chrono>
#include <cstddef>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "pg_test_env.hpp"
#include "service_process.hpp"
#include "vip_support.hpp"

// The vipservice as processes on the PostgreSQL store of `./dev test` (CPPBLOG_TEST_PG_URL):
// issue 11 (e) across processes and (f). Each test uses a schema and a queue of its own.
namespace cppblog::e2e {
namespace {

using messaging::AmqpClient;
using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;

// A vipservice with a data dir of its own consuming `queue` from `amqp_url`, its offers at
// `offer_store_url`: the URL by environment, as a deployment would set it.
VipInstance VipOnStore(const std::string& offer_store_url, const std::string& queue,
                       const std::string& amqp_url, const std::string& cooldown = "24h") {
  return VipInstance{
      {{"vip_queue", queue}, {"amqp_server_url", amqp_url}, {"offer_cooldown", cooldown}},
      {{"OFFER_STORE_URL", offer_store_url}}};
}

// The line of `output` that holds `needle` ("" when none).
std::string LineWith(const std::string& output, std::string_view needle) {
  const auto at = output.find(needle);
  if (at == std::string::npos) return {};
  const auto begin = output.rfind('\n', at);
  const auto end = output.find('\n', at);
  return output.substr(begin == std::string::npos ? 0 : begin + 1,
                       end == std::string::npos
                           ? std::string::npos
                           : end - (begin == std::string::npos ? 0 : begin + 1));
}

std::string WithPassword(std::string url, std::string_view password) {
  const auto colon = url.find(':', url.find("://") + 3);
  const auto at = url.rfind('@');
  url.replace(colon + 1, at - colon - 1, password);
  return url;
}

constexpr std::string_view kPassword = "S3cret-Pa55w0rd";
// Never used: the store opens (and fails) before the broker connection starts.
constexpr const char* kNoBroker = "amqp://guest:guest@127.0.0.1:1/%2F";

// Issue 11 (f): the service exits 1 with one line naming the key, the host and what to do.
void ExpectStartFailure(const std::string& url, const std::vector<std::string>& expected) {
  VipInstance service = VipOnStore(url, UniqueName("vip_queue-pg-e2e"), kNoBroker);

  const auto status = service.Process().WaitExit(20s);

  ASSERT_TRUE(status.has_value()) << "still running: " << service.Process().Output();
  EXPECT_EQ(*status, 1) << service.Process().Output();
  const std::string output = service.Process().Output();
  const std::string line = LineWith(output, "offer_store_url");
  ASSERT_FALSE(line.empty()) << output;
  for (const std::string& part : expected) {
    EXPECT_NE(line.find(part), std::string::npos) << "'" << part << "' not in: " << line;
  }
  EXPECT_EQ(output.find(kPassword), std::string::npos) << output;
}

TEST(VipServicePgE2e, UnreachableHostExitsOneNamingKeyHostAndWhatToDo) {
  const std::uint16_t port = FreePort();  // nothing listens there

  ExpectStartFailure(
      "postgresql://cppblog:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(port) +
          "/cppblog",
      {"127.0.0.1:" + std::to_string(port), "Connection refused", "check that the server runs"});
}

TEST(VipServicePgE2e, WrongPasswordExitsOneNamingKeyHostAndWhatToDo) {
  ExpectStartFailure(WithPassword(TestPgUrl(), kPassword),
                     {"127.0.0.1:", "password authentication failed", "user and password"});
}

TEST(VipServicePgE2e, NotAUrlExitsOneSayingWhatToWrite) {
  ExpectStartFailure("host=127.0.0.1 password=" + std::string(kPassword),
                     {"postgresql://user:password@host:port/database"});
}

// Issue 11 (e) across processes: three vipservices on one database, offer_cooldown 24h, a burst
// of notifications for one account → exactly one offer, shown by every instance.
TEST(VipServicePgE2e, ThreeInstancesWithCooldownMakeExactlyOneOfferShownByEach) {
  constexpr std::size_t kMessages = 300;
  const TestPgSchema schema;
  const std::string queue = UniqueName("vip_queue-pg-e2e");
  VipInstance a = VipOnStore(schema.Url(), queue, TestAmqpUrl());
  VipInstance b = VipOnStore(schema.Url(), queue, TestAmqpUrl());
  VipInstance c = VipOnStore(schema.Url(), queue, TestAmqpUrl());
  for (VipInstance* service : {&a, &b, &c}) {
    ASSERT_TRUE(service->WaitHealthy()) << service->Output();
  }
  AmqpClient client{{.url = TestAmqpUrl()}};
  std::vector<std::future<void>> confirms;
  const auto now = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < kMessages; ++i) {
    confirms.push_back(client.PublishToQueue(
        vip::VipQueue(false, queue),
        vip::MakeVipMessage({.account_id = "10000", .read_at = now + std::chrono::milliseconds{i}},
                            "burst-" + std::to_string(i))));
  }
  for (auto& confirm : confirms) confirm.get();

  ASSERT_TRUE(WaitUntil(
      [&] {
        return schema.Query("SELECT count(*) FROM vip_processed") == std::to_string(kMessages);
      },
      30s))
      << schema.Query("SELECT count(*) FROM vip_processed");
  EXPECT_EQ(schema.Query("SELECT count(*) FROM vip_offers"), "1");
  EXPECT_EQ(OffersServed(a.Port(), "10000"), 1U);
  EXPECT_EQ(OffersServed(b.Port(), "10000"), 1U);
  EXPECT_EQ(OffersServed(c.Port(), "10000"), 1U);
  // Every instance took a share: the rule held across processes, not within one.
  for (VipInstance* service : {&a, &b, &c}) {
    EXPECT_NE(service->Output().find("Got a message"), std::string::npos);
  }
}

}  // namespace
}  // namespace cppblog::e2e
