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
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "lmdb_offer_store.hpp"
#include "service_process.hpp"
#include "vip_support.hpp"

// The vipservice as processes against the real broker of `./dev test`. Each test consumes a
// queue of its own (setting vip_queue), so tests may run in parallel on one broker.
namespace cppblog::e2e {
namespace {

using messaging::AmqpClient;
using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Optional;

struct VipServiceOptions {
  std::string queue;
  std::string amqp_url = TestAmqpUrl();
  bool compat = false;
};

// A vipservice on a free port with its store in `data_dir`, an empty config dir and
// offer_cooldown 0.
VipInstance StartVipService(const TempDir& data_dir, const VipServiceOptions& options) {
  return VipInstance{{{"vip_queue", options.queue},
                      {"amqp_server_url", options.amqp_url},
                      {"compat_goblog_p9", options.compat ? "true" : "false"}},
                     {},
                     data_dir.path()};
}

messaging::Message Notification(const std::string& id) {
  return vip::MakeVipMessage({.account_id = "10000", .read_at = std::chrono::system_clock::now()},
                             id);
}

// Publishes and waits for every confirm.
void PublishAll(AmqpClient& client, const messaging::QueueSpec& queue,
                std::vector<messaging::Message> messages) {
  std::vector<std::future<void>> confirms;
  confirms.reserve(messages.size());
  for (auto& message : messages)
    confirms.push_back(client.PublishToQueue(queue, std::move(message)));
  for (auto& confirm : confirms) confirm.get();
}

std::uint32_t ReadyMessages(AmqpClient& client, const std::string& queue) {
  return client.InspectQueue(queue).get().messages;
}

TEST(VipServiceE2e, TwoIdleInstancesShareTheQueueTwoMessagesEach) {
  const std::string queue = UniqueName("vip_queue-e2e");
  const TempDir data_a;
  const TempDir data_b;
  VipInstance a = StartVipService(data_a, {.queue = queue});
  VipInstance b = StartVipService(data_b, {.queue = queue});
  ASSERT_TRUE(a.WaitHealthy()) << a.Output();
  ASSERT_TRUE(b.WaitHealthy()) << b.Output();
  AmqpClient client{{.url = TestAmqpUrl()}};

  PublishAll(client, vip::VipQueue(false, queue),
             {Notification("a1"), Notification("a2"), Notification("a3"), Notification("a4")});

  ASSERT_TRUE(WaitUntil([&] { return a.MessagesLogged() + b.MessagesLogged() == 4; }, 10s))
      << a.Output() << b.Output();
  EXPECT_EQ(a.MessagesLogged(), 2U) << a.Output();
  EXPECT_EQ(b.MessagesLogged(), 2U) << b.Output();
  EXPECT_TRUE(WaitUntil([&] { return OffersServed(a.Port(), "10000") == 2; }, 5s));
  EXPECT_TRUE(WaitUntil([&] { return OffersServed(b.Port(), "10000") == 2; }, 5s));
}

TEST(VipServiceE2e, TwoInstancesTakeTwoThousandExactlyOnceInEffect) {
  constexpr std::size_t kMessages = 2000;
  const std::string queue = UniqueName("vip_queue-e2e");
  const TempDir data_a;
  const TempDir data_b;
  VipInstance a = StartVipService(data_a, {.queue = queue});
  VipInstance b = StartVipService(data_b, {.queue = queue});
  ASSERT_TRUE(a.WaitHealthy()) << a.Output();
  ASSERT_TRUE(b.WaitHealthy()) << b.Output();
  AmqpClient client{{.url = TestAmqpUrl()}};
  std::vector<messaging::Message> messages;
  for (std::size_t i = 0; i < kMessages; ++i) {
    messages.push_back(Notification("t-" + std::to_string(i)));
  }
  const auto start = std::chrono::steady_clock::now();

  PublishAll(client, vip::VipQueue(false, queue), std::move(messages));

  // With offer_cooldown 0 every distinct message is one offer: a lost or doubled effect shows.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return OffersServed(a.Port(), "10000") + OffersServed(b.Port(), "10000") >= kMessages;
      },
      30s))
      << OffersServed(a.Port(), "10000") << " + " << OffersServed(b.Port(), "10000");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(OffersServed(a.Port(), "10000") + OffersServed(b.Port(), "10000"), kMessages);
  EXPECT_GT(OffersServed(a.Port(), "10000"), 0U);
  EXPECT_GT(OffersServed(b.Port(), "10000"), 0U);
  RecordProperty(
      "publish_to_all_offered_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST(VipServiceE2e, MalformedMessageIsDeadLetteredAndConsumingGoesOn) {
  const std::string queue = UniqueName("vip_queue-e2e");
  const TempDir data;
  VipInstance service = StartVipService(data, {.queue = queue});
  ASSERT_TRUE(service.WaitHealthy()) << service.Output();
  AmqpClient client{{.url = TestAmqpUrl()}};
  messaging::Message poison = Notification("bad-1");
  poison.body = "this is not JSON";

  PublishAll(client, vip::VipQueue(false, queue), {std::move(poison), Notification("good-1")});

  ASSERT_TRUE(WaitUntil([&] { return OffersServed(service.Port(), "10000") == 1; }, 10s))
      << service.Output();
  EXPECT_THAT(HttpGet(service.Port(), "/offers/10000").body, HasSubstr("\"messageId\":\"good-1\""));
  EXPECT_TRUE(WaitUntil([&] { return ReadyMessages(client, queue + ".dlq") == 1; }, 10s))
      << service.Output();
  EXPECT_THAT(service.Output(), HasSubstr("Got a message: this is not JSON"));
  EXPECT_EQ(HttpGet(service.Port(), "/health").status, 200);
}

TEST(VipServiceE2e, SigtermDuringAStreamExitsZeroAndLosesNothing) {
  constexpr int kMessages = 1000;
  const std::string queue = UniqueName("vip_queue-e2e");
  const TempDir data;
  AmqpClient client{{.url = TestAmqpUrl()}};
  {
    VipInstance service = StartVipService(data, {.queue = queue});
    ASSERT_TRUE(service.WaitHealthy()) << service.Output();
    std::vector<messaging::Message> messages;
    for (int i = 0; i < kMessages; ++i) messages.push_back(Notification("s-" + std::to_string(i)));
    PublishAll(client, vip::VipQueue(false, queue), std::move(messages));
    ASSERT_TRUE(WaitUntil([&] { return service.MessagesLogged() >= 50; }, 10s));

    service.Process().Signal(SIGTERM);

    ASSERT_THAT(service.Process().WaitExit(10s), Optional(0)) << service.Output();
  }
  // Every message is either an offer in the store or back in the queue, none in both.
  std::size_t offered = 0;
  {
    const vipservice::LmdbOfferStore store{data.path() / "store"};
    offered = storage::LmdbTransaction::Read(store.Environment()).Count(store.OffersDatabase());
    EXPECT_EQ(store.Inbox().Count(), offered);
  }
  RecordProperty("offered_before_exit", static_cast<int>(offered));
  EXPECT_TRUE(WaitUntil([&] { return offered + ReadyMessages(client, queue) == kMessages; }, 10s))
      << "offered " << offered << ", in the queue " << ReadyMessages(client, queue);

  // A restart on the same store takes the rest, and redoes nothing.
  VipInstance restarted = StartVipService(data, {.queue = queue});
  ASSERT_TRUE(restarted.WaitHealthy()) << restarted.Output();
  EXPECT_TRUE(WaitUntil([&] { return OffersServed(restarted.Port(), "10000") == kMessages; }, 20s))
      << OffersServed(restarted.Port(), "10000");
}

TEST(VipServiceE2e, UnreachableBrokerStartsAndReportsUnavailable) {
  const TempDir data;
  VipInstance service = StartVipService(
      data, {.queue = UniqueName("vip_queue-e2e"),
             .amqp_url = "amqp://guest:guest@127.0.0.1:" + std::to_string(FreePort()) + "/%2F"});

  ASSERT_TRUE(WaitUntil(
      [&] {
        try {
          return HttpGet(service.Port(), "/health").status == 503;
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
      },
      10s))
      << service.Output();
  const HttpResponse health = HttpGet(service.Port(), "/health");
  EXPECT_THAT(health.body, HasSubstr("broker: recovering"));
  EXPECT_TRUE(service.Process().IsRunning());
  service.Process().Signal(SIGTERM);
  EXPECT_THAT(service.Process().WaitExit(10s), Optional(0)) << service.Output();
}

TEST(VipServiceE2e, CompatModeDeclaresTheQueueAsTheGoOriginal) {
  const std::string queue = UniqueName("vip_queue-e2e");
  const TempDir data;
  VipInstance service = StartVipService(data, {.queue = queue, .compat = true});
  ASSERT_TRUE(service.WaitHealthy()) << service.Output();
  AmqpClient client{{.url = TestAmqpUrl()}};

  // The Go accountservice's declaration (non-durable) is accepted and its message consumed.
  messaging::Message go_style = Notification("");
  PublishAll(client, vip::VipQueue(true, queue), {std::move(go_style)});
  EXPECT_TRUE(WaitUntil([&] { return OffersServed(service.Port(), "10000") == 1; }, 10s))
      << service.Output();

  // Ours (durable) now differs from what the broker holds.
  AmqpClient ours{{.url = TestAmqpUrl()}};
  try {
    ours.PublishToQueue(vip::VipQueue(false, queue), Notification("x")).get();
    ADD_FAILURE() << "a durable declaration of a non-durable queue was accepted";
  } catch (const messaging::MessagingError& e) {
    EXPECT_EQ(e.kind(), messaging::MessagingErrorKind::kPreconditionFailed) << e.what();
  }
}

TEST(VipServiceE2e, QueueDeclaredOtherwiseByAPeerExitsOneNamingIt) {
  const std::string queue = UniqueName("vip_queue-e2e");
  AmqpClient go_peer{{.url = TestAmqpUrl()}};
  PublishAll(go_peer, vip::VipQueue(true, queue), {Notification("p1")});
  const TempDir data;

  VipInstance service = StartVipService(data, {.queue = queue, .compat = false});

  EXPECT_THAT(service.Process().WaitExit(20s), Optional(1)) << service.Output();
  EXPECT_THAT(service.Output(), HasSubstr("compat_goblog_p9"));
  EXPECT_THAT(service.Output(), HasSubstr(queue));
}

}  // namespace
}  // namespace cppblog::e2e
