#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "service_process.hpp"

// The accountservice's VIP flow against the real broker of `./dev test`: VIP reads go through
// the outbox to the queue. Each test uses a queue of its own (setting vip_queue).
namespace cppblog::e2e {
namespace {

using messaging::AmqpClient;
using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ServiceOptions AccountServiceOptions(const TempDir& data_dir, std::uint16_t port,
                                     const std::string& queue, const std::string& amqp_url) {
  return {.binary = BinaryPath("CPPBLOG_ACCOUNTSERVICE_BIN", CPPBLOG_ACCOUNTSERVICE_BIN),
          .args = {"--config-dir", (data_dir.path() / "no-config").string(), "--set",
                   "server_port=" + std::to_string(port), "--set",
                   "data_dir=" + (data_dir.path() / "store").string(), "--set",
                   "vip_queue=" + queue, "--set", "amqp_server_url=" + amqp_url},
          .env = {}};
}

// Consumes a queue and records what arrives.
class Collector {
 public:
  explicit Collector(const std::string& queue) {
    client_
        .SubscribeToQueue(vip::VipQueue(false, queue),
                          [this](const messaging::Message& message) {
                            const std::lock_guard lock{mutex_};
                            messages_.push_back(message);
                            return messaging::Outcome::kAck;
                          },
                          {})
        .get();
  }

  [[nodiscard]] std::size_t Count() {
    const std::lock_guard lock{mutex_};
    return messages_.size();
  }
  [[nodiscard]] std::vector<messaging::Message> Messages() {
    const std::lock_guard lock{mutex_};
    return messages_;
  }

 private:
  AmqpClient client_{{.url = TestAmqpUrl()}};
  std::mutex mutex_;
  std::vector<messaging::Message> messages_;
};

std::set<std::string> DistinctIds(const std::vector<messaging::Message>& messages) {
  std::set<std::string> ids;
  for (const auto& message : messages) ids.insert(message.message_id);
  return ids;
}

int VipReads(std::uint16_t port, int count) {
  HttpConnection connection{port};
  int ok = 0;
  for (int i = 0; i < count; ++i) {
    if (connection.Get("/accounts/10000").status == 200) ++ok;
  }
  return ok;
}

TEST(VipFlowE2e, VipReadsProduceExactlyThatManyMessages) {
  const std::string queue = UniqueName("vip_queue-flow");
  Collector collector{queue};
  const TempDir data;
  const std::uint16_t port = FreePort();
  ServiceProcess service{AccountServiceOptions(data, port, queue, TestAmqpUrl())};
  ASSERT_TRUE(service.WaitHealthy(port, 20s)) << service.Output();

  ASSERT_EQ(VipReads(port, 20), 20);
  EXPECT_EQ(HttpGet(port, "/accounts/10001").status, 200);  // not a VIP: no message

  ASSERT_TRUE(WaitUntil([&] { return collector.Count() >= 20; }, 10s)) << service.Output();
  const auto messages = collector.Messages();
  EXPECT_EQ(messages.size(), 20U);
  EXPECT_EQ(DistinctIds(messages).size(), 20U);
  EXPECT_THAT(messages[0].body, StartsWith(R"({"accountId":"10000","readAt":")"));
  EXPECT_EQ(messages[0].content_type, "application/json");
  EXPECT_TRUE(WaitUntil(
      [&] { return HttpGet(port, "/health").body == R"({"status":"UP","broker":"connected"})"; },
      5s));
}

TEST(VipFlowE2e, KilledAfterAnsweringItDeliversEveryReadAfterRestart) {
  const std::string queue = UniqueName("vip_queue-flow");
  const TempDir data;
  constexpr int kReads = 200;
  {
    // No broker at this address: every notification can only be in the outbox.
    const std::uint16_t port = FreePort();
    const std::string no_broker =
        "amqp://guest:guest@127.0.0.1:" + std::to_string(FreePort()) + "/%2F";
    ServiceProcess service{AccountServiceOptions(data, port, queue, no_broker)};
    ASSERT_TRUE(service.WaitHealthy(port, 20s)) << service.Output();
    EXPECT_THAT(HttpGet(port, "/health").body, HasSubstr(R"("status":"UP")"));

    ASSERT_EQ(VipReads(port, kReads), kReads);
    service.Signal(SIGKILL);
    ASSERT_TRUE(service.WaitExit(5s).has_value());
  }
  Collector collector{queue};

  const std::uint16_t port = FreePort();
  ServiceProcess restarted{AccountServiceOptions(data, port, queue, TestAmqpUrl())};

  ASSERT_TRUE(WaitUntil([&] { return collector.Count() >= kReads; }, 20s))
      << collector.Count() << "\n"
      << restarted.Output();
  EXPECT_EQ(DistinctIds(collector.Messages()).size(), static_cast<std::size_t>(kReads));
  EXPECT_EQ(collector.Count(), static_cast<std::size_t>(kReads));
}

}  // namespace
}  // namespace cppblog::e2e
