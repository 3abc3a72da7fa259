#include <chrono>
#include <csignal>
#include <cstddef>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/storage/tmpfs_mount.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "service_process.hpp"
#include "vip_support.hpp"

// The services on a full or nearly full disk: a small tmpfs the test mounts (root only; the
// tests say so when they skip), the real binaries as processes, the real broker of ./dev test.
namespace cppblog::e2e {
namespace {

using messaging::AmqpClient;
using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Optional;

// Nothing listens on port 1: the services start without a broker (they connect in the
// background), which these tests of the store do not need.
constexpr const char* kNoBroker = "amqp://guest:guest@127.0.0.1:1/%2F";

std::filesystem::path VipServiceBinary() {
  return BinaryPath("CPPBLOG_VIPSERVICE_BIN", CPPBLOG_VIPSERVICE_BIN);
}

std::filesystem::path AccountServiceBinary() {
  return BinaryPath("CPPBLOG_ACCOUNTSERVICE_BIN", CPPBLOG_ACCOUNTSERVICE_BIN);
}

void ExpectOneLineAndExitOne(ServiceProcess& service, const std::string& store_line) {
  ASSERT_THAT(service.WaitExit(20s), Optional(1)) << service.Output();
  const std::string output = service.Output();
  EXPECT_THAT(output, HasSubstr(store_line + ": the file system has 0 kB free; opening the store "
                                             "needs at least 1024 kB"));
  EXPECT_EQ(CountOccurrences(output, "needs at least"), 1U) << output;
}

TEST(FullDiskE2e, AVipserviceStartedOnAFullDiskExitsOneWithOneLine) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{1 << 20};
  tmpfs.Fill();

  ServiceProcess service{ServiceOptionsFor(VipServiceBinary(), tmpfs.path(), FreePort(),
                                           {{"amqp_server_url", kNoBroker}})};

  // Before the fix: SIGBUS (exit 135) and nothing printed.
  ExpectOneLineAndExitOne(service, "offer store in " + (tmpfs.path() / "store").string());
}

TEST(FullDiskE2e, AnAccountserviceStartedOnAFullDiskExitsOneWithOneLine) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{1 << 20};
  tmpfs.Fill();

  ServiceProcess service{ServiceOptionsFor(AccountServiceBinary(), tmpfs.path(), FreePort(),
                                           {{"amqp_server_url", kNoBroker}})};

  ExpectOneLineAndExitOne(service, "account store in " + (tmpfs.path() / "store").string());
}

// Issue 16 item 4 / issue 11 item 4: a nearly full disk dead-lettered 104 of 1,500 valid
// notifications as "the handler asked for a retry". Now nothing is dead-lettered, /health says
// why meanwhile, and every notification is stored once when space returns.
TEST(FullDiskE2e, ADiskFillingUpMidStreamDeadLettersNothingAndStoresEverythingOnce) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  constexpr std::size_t kMessages = 1500;
  TmpfsMount tmpfs{8 << 20};
  const std::string queue = UniqueName("vip_queue-full-disk");
  const std::uint16_t port = FreePort();
  ServiceProcess service{ServiceOptionsFor(
      VipServiceBinary(), tmpfs.path(), port,
      {{"vip_queue", queue}, {"amqp_server_url", TestAmqpUrl()}, {"offer_cooldown", "0"}})};
  ASSERT_TRUE(service.WaitHealthy(port, 20s)) << service.Output();
  // Nearly full: the first offers fit in what is left, the stream fills it up.
  tmpfs.Fill(32 << 10);
  AmqpClient client{{.url = TestAmqpUrl()}};
  std::vector<std::future<void>> confirms;
  for (std::size_t i = 0; i < kMessages; ++i) {
    confirms.push_back(client.PublishToQueue(
        vip::VipQueue(false, queue),
        vip::MakeVipMessage({.account_id = "10000", .read_at = std::chrono::system_clock::now()},
                            "full-" + std::to_string(i))));
  }
  for (auto& confirm : confirms) confirm.get();

  HttpResponse health_while_full;
  ASSERT_TRUE(WaitUntil(
      [&] {
        health_while_full = HttpGet(port, "/health");
        return health_while_full.status == 503;
      },
      30s))
      << service.Output();
  const std::size_t stored_while_full = OffersServed(port, "10000");
  const std::uint32_t dead_while_full = client.InspectQueue(queue + ".dlq").get().messages;
  tmpfs.Unfill();
  const bool all_stored = WaitUntil([&] { return OffersServed(port, "10000") >= kMessages; }, 60s);
  const bool healthy_again = WaitUntil([&] { return HttpGet(port, "/health").status == 200; }, 20s);

  EXPECT_THAT(health_while_full.body,
              HasSubstr("offer_store_writes: offer store " + (tmpfs.path() / "store").string()));
  EXPECT_THAT(health_while_full.body, HasSubstr("No space left on device"));
  EXPECT_GT(stored_while_full, 0U);  // the disk filled up mid-stream, not before it
  EXPECT_LT(stored_while_full, kMessages);
  EXPECT_EQ(dead_while_full, 0U);
  EXPECT_TRUE(all_stored) << OffersServed(port, "10000") << " of " << kMessages;
  EXPECT_TRUE(healthy_again) << HttpGet(port, "/health").body;
  EXPECT_EQ(OffersServed(port, "10000"), kMessages);  // each once: offer_cooldown 0
  EXPECT_EQ(client.InspectQueue(queue + ".dlq").get().messages, 0U);
  EXPECT_EQ(client.InspectQueue(queue).get().messages, 0U);
  EXPECT_EQ(CountOccurrences(service.Output(), "dead-lettering"), 0U);
  RecordProperty("stored_before_the_disk_was_full", static_cast<int>(stored_while_full));

  service.Signal(SIGTERM);
  EXPECT_THAT(service.WaitExit(20s), Optional(0)) << service.Output();
}

TEST(FullDiskE2e, SigtermWhileTheStoreCannotWriteIsPromptAndLeavesTheMessagesQueued) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  constexpr std::size_t kMessages = 300;
  TmpfsMount tmpfs{8 << 20};
  const std::string queue = UniqueName("vip_queue-full-disk");
  const std::uint16_t port = FreePort();
  ServiceProcess service{ServiceOptionsFor(
      VipServiceBinary(), tmpfs.path(), port,
      {{"vip_queue", queue}, {"amqp_server_url", TestAmqpUrl()}, {"offer_cooldown", "0"}})};
  ASSERT_TRUE(service.WaitHealthy(port, 20s)) << service.Output();
  tmpfs.Fill();
  AmqpClient client{{.url = TestAmqpUrl()}};
  std::vector<std::future<void>> confirms;
  for (std::size_t i = 0; i < kMessages; ++i) {
    confirms.push_back(client.PublishToQueue(
        vip::VipQueue(false, queue),
        vip::MakeVipMessage({.account_id = "10000", .read_at = std::chrono::system_clock::now()},
                            "stop-" + std::to_string(i))));
  }
  for (auto& confirm : confirms) confirm.get();
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(port, "/health").status == 503; }, 30s))
      << service.Output();
  const std::size_t stored = OffersServed(port, "10000");
  const auto stop_started = std::chrono::steady_clock::now();

  service.Signal(SIGTERM);

  EXPECT_THAT(service.WaitExit(20s), Optional(0)) << service.Output();
  const auto stop_took = std::chrono::steady_clock::now() - stop_started;
  // Not the 10 s hold, nor the 5 s drain timeout.
  EXPECT_LT(stop_took, 3s) << service.Output();
  // Nothing lost, nothing dead-lettered: what is not stored is back in the queue.
  EXPECT_TRUE(WaitUntil(
      [&] { return client.InspectQueue(queue).get().messages + stored == kMessages; }, 10s))
      << client.InspectQueue(queue).get().messages << " queued + " << stored << " stored";
  EXPECT_EQ(client.InspectQueue(queue + ".dlq").get().messages, 0U);
  RecordProperty(
      "stop_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(stop_took).count()));
}

TEST(FullDiskE2e, VipReadsAnswer503WithRetryAfterWhileTheOutboxDiskIsFull) {
  if (const auto why = TmpfsMount::Unavailable()) GTEST_SKIP() << *why;
  TmpfsMount tmpfs{4 << 20};
  const std::uint16_t port = FreePort();
  ServiceProcess service{
      ServiceOptionsFor(AccountServiceBinary(), tmpfs.path(), port,
                        {{"amqp_server_url", kNoBroker}, {"vip_accounts", "10000"}})};
  ASSERT_TRUE(service.WaitHealthy(port, 20s)) << service.Output();
  tmpfs.Fill();

  // Each VIP read appends to the outbox (no broker drains it); once its pages no longer fit,
  // reads are refused.
  HttpResponse refused;
  for (int i = 0; i < 5000 && refused.status == 0; ++i) {
    HttpResponse read = HttpGet(port, "/accounts/10000");
    if (read.status != 200) refused = std::move(read);
  }
  const HttpResponse plain = HttpGet(port, "/accounts/10001");
  const HttpResponse health = HttpGet(port, "/health");
  tmpfs.Unfill();
  // No request needed to notice: the outbox probes its disk while it cannot commit.
  const bool healthy_again = WaitUntil([&] { return HttpGet(port, "/health").status == 200; }, 20s);
  const HttpResponse after = HttpGet(port, "/accounts/10000");

  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.Header("Retry-After"), "5");
  EXPECT_THAT(refused.body, HasSubstr("could not be stored"));
  EXPECT_EQ(plain.status, 200);  // reads that record nothing are served on
  EXPECT_EQ(health.status, 503);
  EXPECT_THAT(health.body, HasSubstr("outbox: outbox in " + (tmpfs.path() / "store").string()));
  EXPECT_THAT(health.body, HasSubstr("No space left on device"));
  EXPECT_TRUE(healthy_again);
  EXPECT_EQ(after.status, 200);

  service.Signal(SIGTERM);
  EXPECT_THAT(service.WaitExit(20s), Optional(0)) << service.Output();
}

}  // namespace
}  // namespace cppblog::e2e
