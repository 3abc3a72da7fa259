#include "vip_consumer.hpp"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "cppblog/health/health_registry.hpp"
#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/mock_message_subscriber.hpp"
#include "cppblog/metrics/registry.hpp"
#include "cppblog/storage/file_writes_refused.hpp"
#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "lmdb_offer_store.hpp"
#include "offer_counts.hpp"

namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::NiceMock;

const system_clock::time_point kNow = system_clock::time_point{} + std::chrono::hours{500'000};

messaging::Message VipMessage(std::string id, system_clock::time_point read_at = kNow) {
  return vip::MakeVipMessage({.account_id = "10000", .read_at = read_at}, std::move(id));
}

// Routes the default logger into a string for the test's lifetime, as the service writes
// its text lines (the structured fields at the end).
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    sink->set_formatter(logging::MakeFormatter("vipservice", logging::LogFormat::kText));
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  [[nodiscard]] std::string Text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

TEST(VipConsumer, LogsTheBodyAsTheOriginalDoes) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 24h, [] { return kNow; }};
  const CapturedLog log;
  const messaging::Message message = VipMessage("m1");

  static_cast<void>(consumer.Handle(message));

  EXPECT_THAT(log.Text(), HasSubstr("INFO  vipservice: Got a message: " + message.body + "\n"));
}

TEST(VipConsumer, LinesOfATracedMessageEndWithTheHandlersSpan) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 24h, [] { return kNow; }};
  const CapturedLog log;
  spdlog::default_logger()->set_level(spdlog::level::debug);
  messaging::Message message = VipMessage("m1");
  message.headers.insert_or_assign("traceparent",
                                   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  static_cast<void>(consumer.Handle(message));

  const std::string text = log.Text();
  const std::string got = "INFO  vipservice: Got a message: " + message.body +
                          " trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=";
  ASSERT_THAT(text, HasSubstr(got));
  const std::string span_id = text.substr(text.find(got) + got.size(), 16);
  EXPECT_NE(span_id, "00f067aa0ba902b7");                             // the handler's own span
  EXPECT_EQ(text.substr(text.find(got) + got.size() + 16, 1), "\n");  // nothing else known yet
  // The debug line names the same span, then the message and the account.
  EXPECT_THAT(text, HasSubstr("commit_us=0 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=" +
                              span_id + " message_id=m1 account_id=10000\n"));
}

TEST(VipConsumer, LinesOfAMessageWithoutIdNameTheIdItIsDeduplicatedBy) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 24h, [] { return kNow; }};
  const CapturedLog log;
  spdlog::default_logger()->set_level(spdlog::level::debug);
  const messaging::Message message = VipMessage("");

  static_cast<void>(consumer.Handle(message));

  EXPECT_THAT(log.Text(), HasSubstr("commit_us=0 message_id=" + DeduplicationId(message) +
                                    " account_id=10000\n"));
  EXPECT_THAT(DeduplicationId(message), ::testing::StartsWith("body-"));
}

TEST(VipConsumer, DebugLineCarriesTheLatencyFromReadAtAndOfTheCommit) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  // The store is called at readAt + 5 ms; its synced commit returns at readAt + 7 ms.
  VipConsumer consumer{store, 24h,
                       [calls = 0]() mutable { return kNow + (calls++ == 0 ? 5ms : 7ms); }};
  const CapturedLog log;
  spdlog::default_logger()->set_level(spdlog::level::debug);

  static_cast<void>(consumer.Handle(VipMessage("m1")));

  EXPECT_THAT(log.Text(), HasSubstr("DEBUG vipservice: VIP notification processed: "
                                    "result=offered read_to_committed_us=7000 commit_us=2000 "
                                    "message_id=m1 account_id=10000\n"));
}

TEST(VipConsumer, NotificationBecomesAnOfferAndIsAcked) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 24h, [] { return kNow + 5ms; }};

  const messaging::Outcome outcome = consumer.Handle(VipMessage("m1"));

  EXPECT_EQ(outcome, messaging::Outcome::kAck);
  EXPECT_EQ(
      store.OffersFor("10000"),
      (std::vector<Offer>{
          {.account_id = "10000", .message_id = "m1", .read_at = kNow, .offered_at = kNow + 5ms}}));
}

TEST(VipConsumer, OfferRecordsTheTraceIdOfATracedMessage) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms, [] { return kNow; }};
  messaging::Message traced = VipMessage("m1");
  traced.headers.insert_or_assign("traceparent",
                                  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  messaging::Message malformed = VipMessage("m2", kNow + 1s);
  malformed.headers.insert_or_assign("traceparent", "00-not-a-trace-01");

  ASSERT_EQ(consumer.Handle(traced), messaging::Outcome::kAck);
  ASSERT_EQ(consumer.Handle(malformed), messaging::Outcome::kAck);  // ignored, never an error
  ASSERT_EQ(consumer.Handle(VipMessage("m3", kNow + 2s)), messaging::Outcome::kAck);

  const std::vector<Offer> offers = store.OffersFor("10000");
  ASSERT_EQ(offers.size(), 3U);
  EXPECT_EQ(offers[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(offers[1].trace_id, "");
  EXPECT_EQ(offers[2].trace_id, "");
}

TEST(VipConsumer, RedeliveryIsAckedWithoutASecondEffect) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms};
  messaging::Message redelivered = VipMessage("m1");
  redelivered.redelivered = true;
  ASSERT_EQ(consumer.Handle(VipMessage("m1")), messaging::Outcome::kAck);

  EXPECT_EQ(consumer.Handle(redelivered), messaging::Outcome::kAck);
  EXPECT_EQ(CountOffers(store), 1U);
  EXPECT_EQ(CountProcessed(store), 1U);
}

TEST(VipConsumer, CooldownAcksWithoutOffer) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 24h};
  ASSERT_EQ(consumer.Handle(VipMessage("m1", kNow)), messaging::Outcome::kAck);

  EXPECT_EQ(consumer.Handle(VipMessage("m2", kNow + 1h)), messaging::Outcome::kAck);
  EXPECT_EQ(CountOffers(store), 1U);
  EXPECT_EQ(CountProcessed(store), 2U);
}

TEST(VipConsumer, CountsEachResultInOffersTotal) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  metrics::Registry metrics;
  VipConsumer consumer{store, 24h, metrics};

  ASSERT_EQ(consumer.Handle(VipMessage("m1", kNow)), messaging::Outcome::kAck);
  ASSERT_EQ(consumer.Handle(VipMessage("m2", kNow + 1h)), messaging::Outcome::kAck);
  ASSERT_EQ(consumer.Handle(VipMessage("m1", kNow)), messaging::Outcome::kAck);

  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr("cppblog_offers_total{result=\"offered\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("cppblog_offers_total{result=\"cooldown\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("cppblog_offers_total{result=\"duplicate\"} 1\n"));
}

TEST(VipConsumer, CooldownChangeAppliesToLaterNotifications) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 24h};
  ASSERT_EQ(consumer.Handle(VipMessage("m1", kNow)), messaging::Outcome::kAck);

  consumer.SetOfferCooldown(0ms);

  EXPECT_EQ(consumer.Handle(VipMessage("m2", kNow + 1h)), messaging::Outcome::kAck);
  EXPECT_EQ(CountOffers(store), 2U);
}

TEST(VipConsumer, MalformedBodyIsPoisonAndChangesNothing) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms};
  messaging::Message message = VipMessage("m1");
  message.body = R"({"accountId":10000})";

  EXPECT_THROW(static_cast<void>(consumer.Handle(message)), messaging::PoisonMessage);
  EXPECT_EQ(CountProcessed(store), 0U);
}

TEST(VipConsumer, MessageWithoutIdIsDeduplicatedByBody) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms};
  const messaging::Message first = VipMessage("");
  const messaging::Message second = VipMessage("", kNow + 1ns);

  ASSERT_EQ(consumer.Handle(first), messaging::Outcome::kAck);
  ASSERT_EQ(consumer.Handle(first), messaging::Outcome::kAck);
  ASSERT_EQ(consumer.Handle(second), messaging::Outcome::kAck);

  EXPECT_EQ(CountOffers(store), 2U);
  EXPECT_EQ(CountProcessed(store), 2U);
}

// The store failing for real: LMDB's commits fail with EFBIG ("File too large") while the
// process may write no file past its first byte (RLIMIT_FSIZE), as they fail with ENOSPC on a
// full disk; no root needed. The e2e test fills a real disk.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

constexpr StoreRetryOptions kQuickRetry{.first_backoff = 5ms, .max_backoff = 20ms, .max_hold = 60s};

TEST(VipConsumerStoreOutage, TheDeliveryIsHeldAndRetriedUntilTheStoreWritesAgain) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms, [] { return kNow; }, kQuickRetry};
  FileWritesRefused refused;

  auto handled = std::async(std::launch::async, [&] { return consumer.Handle(VipMessage("m1")); });

  ASSERT_TRUE(WaitUntil([&] { return !consumer.StoreStatus().writable; }));
  const StoreWriteStatus failing = consumer.StoreStatus();
  EXPECT_THAT(failing.error, AllOf(HasSubstr("offer store"), HasSubstr(dir.path().string()),
                                   HasSubstr("File too large")));
  EXPECT_EQ(handled.wait_for(50ms), std::future_status::timeout);  // held, not dead-lettered
  EXPECT_EQ(CountOffers(store), 0U);

  refused.Lift();

  ASSERT_EQ(handled.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(handled.get(), messaging::Outcome::kAck);
  EXPECT_EQ(CountOffers(store), 1U);
  EXPECT_TRUE(consumer.StoreStatus().writable);
}

TEST(VipConsumerStoreOutage, AfterItsHoldTheDeliveryGoesBackToTheQueueNeverToTheDlq) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store,
                       0ms,
                       [] { return kNow; },
                       {.first_backoff = 5ms, .max_backoff = 20ms, .max_hold = 100ms}};
  const FileWritesRefused refused;

  const messaging::Outcome outcome = consumer.Handle(VipMessage("m1"));

  EXPECT_EQ(outcome, messaging::Outcome::kRequeue);
  EXPECT_EQ(CountProcessed(store), 0U);
  EXPECT_FALSE(consumer.StoreStatus().writable);
}

TEST(VipConsumerStoreOutage, NoLongerReportedFailingOnceNoDeliveryHasTriedItForAHold) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store,
                       0ms,
                       [] { return kNow; },
                       {.first_backoff = 5ms, .max_backoff = 20ms, .max_hold = 300ms}};
  {
    const FileWritesRefused refused;
    ASSERT_EQ(consumer.Handle(VipMessage("m1")), messaging::Outcome::kRequeue);
  }
  const bool failing_after_requeue = !consumer.StoreStatus().writable;

  // Another instance took the message: nothing here tries the store any more.
  const bool unknown_again = WaitUntil([&] { return consumer.StoreStatus().writable; }, 5s);

  EXPECT_TRUE(failing_after_requeue);
  EXPECT_TRUE(unknown_again);
  EXPECT_EQ(consumer.Handle(VipMessage("m2")), messaging::Outcome::kAck);  // tried at once
}

TEST(VipConsumerStoreOutage, StopSendsWaitingDeliveriesBackAtOnce) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms, [] { return kNow; }, kQuickRetry};
  const FileWritesRefused refused;
  auto handled = std::async(std::launch::async, [&] { return consumer.Handle(VipMessage("m1")); });
  ASSERT_TRUE(WaitUntil([&] { return !consumer.StoreStatus().writable; }));

  consumer.Stop();

  ASSERT_EQ(handled.wait_for(5s), std::future_status::ready);  // not after max_hold (60 s)
  EXPECT_EQ(handled.get(), messaging::Outcome::kRequeue);
}

TEST(VipConsumerStoreOutage, StopWithAWorkingStoreStillProcesses) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms, [] { return kNow; }, kQuickRetry};

  consumer.Stop();

  EXPECT_EQ(consumer.Handle(VipMessage("m1")), messaging::Outcome::kAck);
  EXPECT_EQ(CountOffers(store), 1U);
}

TEST(VipConsumerStoreOutage, HealthNamesTheStoreAndItsErrorUntilItWritesAgain) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms, [] { return kNow; }, kQuickRetry};
  health::HealthRegistry health;
  AddStoreWriteCheck(health, consumer);
  FileWritesRefused refused;
  auto handled = std::async(std::launch::async, [&] { return consumer.Handle(VipMessage("m1")); });
  // The store is marked failing before the delivery counts itself as held: wait for both.
  ASSERT_TRUE(WaitUntil([&] {
    const StoreWriteStatus status = consumer.StoreStatus();
    return !status.writable && status.waiting_deliveries == 1;
  }));

  const health::HealthReport down = health.Run();
  refused.Lift();
  ASSERT_EQ(handled.wait_for(10s), std::future_status::ready);
  const health::HealthReport up = health.Run();

  EXPECT_FALSE(down.healthy);
  ASSERT_EQ(down.checks.size(), 1U);
  EXPECT_EQ(down.checks[0].first, "offer_store_writes");
  EXPECT_THAT(down.checks[0].second.detail,
              AllOf(HasSubstr("offer store"), HasSubstr("File too large"),
                    HasSubstr("1 deliveries held and retried, none dead-lettered")));
  EXPECT_TRUE(up.healthy);
}

TEST(VipConsumerStoreOutage, ConcurrentDeliveriesAllLandOnceTheStoreIsBack) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms, [] { return kNow; }, kQuickRetry};
  FileWritesRefused refused;
  std::vector<std::future<messaging::Outcome>> handled;
  for (int i = 0; i < 8; ++i) {
    handled.push_back(std::async(std::launch::async, [&consumer, i] {
      return consumer.Handle(VipMessage("m" + std::to_string(i)));
    }));
  }
  ASSERT_TRUE(WaitUntil([&] { return !consumer.StoreStatus().writable; }));
  for (auto& outcome : handled) EXPECT_EQ(outcome.wait_for(0s), std::future_status::timeout);

  refused.Lift();

  for (auto& outcome : handled) {
    ASSERT_EQ(outcome.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(outcome.get(), messaging::Outcome::kAck);
  }
  EXPECT_EQ(CountOffers(store), 8U);
  EXPECT_EQ(CountProcessed(store), 8U);
}

TEST(HandlerTraceContext, ContinuesTheMessagesTraceWithItsTracestate) {
  messaging::Message message = VipMessage("m1");
  message.headers.insert_or_assign("traceparent",
                                   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  message.headers.insert_or_assign("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

  const std::optional<trace::TraceContext> span = HandlerTraceContext(message);

  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(trace::TraceIdHex(*span), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(trace::SpanIdHex(*span), "00f067aa0ba902b7");  // a span of its own
  EXPECT_TRUE(span->Sampled());
  EXPECT_EQ(span->trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

TEST(HandlerTraceContext, DropsATracestateOverItsBound) {
  messaging::Message message = VipMessage("m1");
  message.headers.insert_or_assign("traceparent",
                                   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  message.headers.insert_or_assign("tracestate",
                                   "k=" + std::string(trace::kMaxTraceStateBytes - 1, 'v'));

  const std::optional<trace::TraceContext> span = HandlerTraceContext(message);

  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->trace_state, "");
}

TEST(HandlerTraceContext, NoneWithoutAValidTraceparent) {
  messaging::Message message = VipMessage("m1");
  message.headers.insert_or_assign("tracestate", "congo=t61rcWkgMzE");
  EXPECT_FALSE(HandlerTraceContext(message).has_value());

  message.headers.insert_or_assign("traceparent", "00-not-a-trace-01");
  EXPECT_FALSE(HandlerTraceContext(message).has_value());

  message.headers.insert_or_assign("traceparent", std::int64_t{1});  // not a string
  EXPECT_FALSE(HandlerTraceContext(message).has_value());
}

TEST(DeduplicationId, IsTheMessageIdWhenItFits) {
  EXPECT_EQ(DeduplicationId(VipMessage("abc-123")), "abc-123");
}

TEST(DeduplicationId, HashesTheBodyWhenTheIdIsMissingOrTooLong) {
  const std::string from_empty = DeduplicationId(VipMessage(""));
  const std::string from_long = DeduplicationId(VipMessage(std::string(256, 'x')));

  EXPECT_THAT(from_empty, ::testing::MatchesRegex("body-[0-9a-f]{32}"));
  EXPECT_EQ(from_empty, from_long);
  EXPECT_NE(from_empty, DeduplicationId(VipMessage("", kNow + 1ns)));
}

TEST(SubscribeVipQueue, DeclaresTheQueueOfTheSettingsWithTagAndPrefetch) {
  const TempDir dir;
  LmdbOfferStore store{dir.path()};
  VipConsumer consumer{store, 0ms};
  Settings settings = Settings::From(Settings::Defaults());
  settings.compat_goblog_p9 = true;
  settings.prefetch = 7;
  NiceMock<messaging::MockMessageSubscriber> subscriber;
  messaging::Handler captured;
  EXPECT_CALL(subscriber,
              SubscribeToQueue(AllOf(Field(&messaging::QueueSpec::name, "vip_queue"),
                                     Field(&messaging::QueueSpec::durable, false)),
                               _,
                               AllOf(Field(&messaging::ConsumerOptions::consumer_tag, "vipservice"),
                                     Field(&messaging::ConsumerOptions::prefetch, 7))))
      .WillOnce([&captured](const messaging::QueueSpec&, messaging::Handler handler,
                            const messaging::ConsumerOptions&) {
        captured = std::move(handler);
        std::promise<void> registered;
        registered.set_value();
        return registered.get_future();
      });

  SubscribeVipQueue(subscriber, consumer, settings).get();

  ASSERT_TRUE(captured);
  EXPECT_EQ(captured(VipMessage("m1")), messaging::Outcome::kAck);
  EXPECT_EQ(CountOffers(store), 1U);
}

}  // namespace
}  // namespace cppblog::vipservice
