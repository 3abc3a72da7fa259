// Broker faults in the middle of a confirmed stream. These tests disrupt the shared test
// broker, so CTest runs them alone (RUN_SERIAL).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/metrics/registry.hpp"

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{60};

// Counts state changes of one client so a test can wait for "lost" and "back".
class StateLog {
 public:
  std::function<void(ConnectionState)> Callback() {
    return [this](ConnectionState state) {
      std::lock_guard lock(mutex_);
      if (state == ConnectionState::kRecovering) ++losses_;
      current_ = state;
      states_.push_back(state);
      cv_.notify_all();
    };
  }
  bool WaitForLosses(int count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return losses_ >= count; });
  }
  bool WaitConnected() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return current_ == ConnectionState::kConnected; });
  }
  int Losses() {
    std::lock_guard lock(mutex_);
    return losses_;
  }
  std::vector<ConnectionState> States() {
    std::lock_guard lock(mutex_);
    return states_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int losses_ = 0;
  ConnectionState current_ = ConnectionState::kRecovering;
  std::vector<ConnectionState> states_;
};

// connected, (recovering, connected)…: every loss reported, and every recovery, in order.
void ExpectConnectedAndRecoveredInTurn(const std::vector<ConnectionState>& states, int losses) {
  std::vector<ConnectionState> expected{ConnectionState::kConnected};
  for (int i = 0; i < losses; ++i) {
    expected.push_back(ConnectionState::kRecovering);
    expected.push_back(ConnectionState::kConnected);
  }
  EXPECT_EQ(states, expected);
}

// Every id the consumer saw, and how often.
class Tally {
 public:
  Outcome Record(const Message& m) {
    const auto id = static_cast<std::size_t>(std::stoul(m.body));
    std::lock_guard lock(mutex_);
    if (id >= seen_.size()) seen_.resize(id + 1, 0);
    if (seen_[id]++ > 0) ++duplicates_;
    cv_.notify_all();
    return Outcome::kAck;
  }
  // True once every id below `count` was seen.
  bool WaitForAll(std::size_t count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return MissingLocked(count) == 0; });
  }
  std::size_t Missing(std::size_t count) {
    std::lock_guard lock(mutex_);
    return MissingLocked(count);
  }
  std::size_t Duplicates() {
    std::lock_guard lock(mutex_);
    return duplicates_;
  }

 private:
  std::size_t MissingLocked(std::size_t count) const {
    std::size_t missing = 0;
    for (std::size_t i = 0; i < count; ++i) missing += (i >= seen_.size() || seen_[i] == 0);
    return missing;
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<int> seen_;
  std::size_t duplicates_ = 0;
};

// Publishes ids 0, 1, ... with confirms, at most 1000 unconfirmed, until at least `minimum`
// are published and `disrupt` has returned (so every fault lands mid-stream). Returns how
// many were published; every one must be confirmed.
std::size_t StreamThrough(AmqpClient& publisher, const std::string& queue, std::size_t minimum,
                          const std::function<void()>& disrupt) {
  std::atomic<bool> disrupted{false};
  auto faults = std::async(std::launch::async, [&] {
    disrupt();
    disrupted = true;
  });
  std::deque<std::future<void>> window;
  std::size_t published = 0;
  std::size_t failures = 0;
  const auto settle_oldest = [&] {
    auto& oldest = window.front();
    if (oldest.wait_for(kWait) != std::future_status::ready) {
      ++failures;
    } else {
      try {
        oldest.get();
      } catch (const MessagingError& e) {
        if (failures++ == 0) ADD_FAILURE() << "publish failed: " << e.what();
      }
    }
    window.pop_front();
  };
  constexpr std::size_t kCap = 400'000;  // a runaway guard, far above what a run needs
  while ((published < minimum || !disrupted) && published < kCap) {
    if (window.size() >= 1000) settle_oldest();
    window.push_back(
        publisher.PublishToQueue({.name = queue}, {.body = std::to_string(published)}));
    ++published;
  }
  while (!window.empty()) settle_oldest();
  faults.get();
  EXPECT_EQ(failures, 0u) << "confirmed publishes are the contract; none may fail";
  return published;
}

// At-least-once has a price, and it is bounded: each loss of the publisher's connection resends
// at most its unconfirmed publishes (the confirm window), each loss of the consumer's connection
// redelivers at most its unacknowledged deliveries (the prefetch).
constexpr std::uint16_t kPrefetch = 500;
std::size_t MaxDuplicates(int publisher_losses, int consumer_losses) {
  const std::size_t window = AmqpClientOptions{}.confirm_window;
  return static_cast<std::size_t>(publisher_losses) * window +
         static_cast<std::size_t>(consumer_losses) * kPrefetch;
}

void ExpectEveryMessageConsumed(Tally& tally, std::size_t published, const char* fault,
                                std::size_t max_duplicates) {
  const bool all = tally.WaitForAll(published);
  const std::size_t duplicates = tally.Duplicates();
  EXPECT_LE(duplicates, max_duplicates)
      << "more duplicates than the lost connections' confirm windows and prefetch explain";
  std::cout << fault << ": published and confirmed " << published << ", missing "
            << tally.Missing(published) << ", duplicates " << duplicates << "\n";
  ::testing::Test::RecordProperty("published", static_cast<int>(published));
  ::testing::Test::RecordProperty("duplicates", static_cast<int>(duplicates));
  EXPECT_TRUE(all) << tally.Missing(published) << " confirmed messages were lost";
}

AmqpClientOptions Options(StateLog& log) {
  return {.url = TestAmqpUrl(),
          .reconnect_min = std::chrono::milliseconds{50},
          .reconnect_max = std::chrono::milliseconds{500},
          .on_state_change = log.Callback()};
}

TEST(AmqpClientRecovery, ConfirmedMessagesSurviveTwoForcedConnectionClosures) {
  const std::string queue = UniqueName("recovery-close");
  StateLog consumer_log;
  StateLog publisher_log;
  Tally tally;
  AmqpClient consumer{Options(consumer_log)};
  auto subscribed = consumer.SubscribeToQueue(
      {.name = queue}, [&](const Message& m) { return tally.Record(m); }, {.prefetch = kPrefetch});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();
  AmqpClient publisher{Options(publisher_log)};
  ASSERT_TRUE(publisher_log.WaitConnected());

  const std::size_t published = StreamThrough(publisher, queue, 10'000, [&] {
    for (int round = 1; round <= 2; ++round) {
      RabbitCtl("close_all_connections 'cppblog recovery test'");
      ASSERT_TRUE(publisher_log.WaitForLosses(round));
      ASSERT_TRUE(publisher_log.WaitConnected());
    }
  });

  EXPECT_GE(publisher_log.Losses(), 2);
  EXPECT_GE(consumer_log.Losses(), 2);
  ExpectConnectedAndRecoveredInTurn(publisher_log.States(), publisher_log.Losses());
  ExpectEveryMessageConsumed(tally, published, "close_all_connections x2",
                             MaxDuplicates(publisher_log.Losses(), consumer_log.Losses()));
}

// The value of the series named exactly `series` in the text format, or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(AmqpClientRecovery, MetricsCountTheRecoveriesAndShowTheConnectionsAgain) {
  const std::string queue = UniqueName("recovery-metrics");
  StateLog log;
  metrics::Registry registry;
  AmqpClientOptions options = Options(log);
  options.metrics = &registry;
  AmqpClient client{std::move(options)};
  auto subscribed =
      client.SubscribeToQueue({.name = queue}, [](const Message&) { return Outcome::kAck; }, {});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();
  ASSERT_TRUE(log.WaitConnected());
  const std::string before = registry.Serialize();
  ASSERT_EQ(Sample(before, "rabbitmq_connections"), 2) << before;
  ASSERT_EQ(Sample(before, "cppblog_amqp_recoveries_total"), 0) << before;

  RabbitCtl("close_all_connections 'cppblog metrics recovery test'");
  ASSERT_TRUE(log.WaitForLosses(1));

  std::string after;
  const bool recovered = WaitUntil(
      [&] {
        after = registry.Serialize();
        return Sample(after, "cppblog_amqp_recoveries_total") == 2 &&
               Sample(after, "rabbitmq_connections") == 2 &&
               Sample(after, "cppblog_amqp_connection_state{state=\"connected\"}") == 1;
      },
      kWait);
  EXPECT_TRUE(recovered) << after;
  EXPECT_EQ(Sample(after, "rabbitmq_channels"), Sample(before, "rabbitmq_channels")) << after;
  EXPECT_EQ(Sample(after, "cppblog_amqp_connection_state{state=\"recovering\"}"), 0);
}

TEST(AmqpClientRecovery, ConfirmedMessagesSurviveABrokerRestartAndTheConsumerResumes) {
  const std::string queue = UniqueName("recovery-restart");
  StateLog consumer_log;
  StateLog publisher_log;
  Tally tally;
  AmqpClient consumer{Options(consumer_log)};
  auto subscribed = consumer.SubscribeToQueue(
      {.name = queue}, [&](const Message& m) { return tally.Record(m); }, {.prefetch = kPrefetch});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();
  AmqpClient publisher{Options(publisher_log)};
  ASSERT_TRUE(publisher_log.WaitConnected());

  const std::size_t published = StreamThrough(publisher, queue, 10'000, [&] {
    RabbitCtl("stop_app");
    ASSERT_TRUE(publisher_log.WaitForLosses(1));
    EXPECT_EQ(publisher.State(), ConnectionState::kRecovering);
    RabbitCtl("start_app");
    ASSERT_TRUE(publisher_log.WaitConnected());
  });

  EXPECT_GE(consumer_log.Losses(), 1);
  ExpectEveryMessageConsumed(tally, published, "stop_app/start_app",
                             MaxDuplicates(publisher_log.Losses(), consumer_log.Losses()));
  EXPECT_TRUE(consumer_log.WaitConnected());
}

std::uint32_t Consumers(AmqpClient& client, const std::string& queue) {
  auto info = client.InspectQueue(queue);
  if (info.wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error("no answer to a passive declare of " + queue);
  }
  return info.get().consumers;
}

TEST(AmqpClientRecovery, ASubscriptionCancelledWhileRecoveringIsNotReplayed) {
  const std::string cancelled_queue = UniqueName("recovery-cancel");
  const std::string kept_queue = UniqueName("recovery-kept");
  StateLog log;
  AmqpClient client{Options(log)};
  const auto ack = [](const Message&) { return Outcome::kAck; };
  Subscription cancelled = client.SubscribeToQueueHandle({.name = cancelled_queue}, ack, {});
  Subscription kept = client.SubscribeToQueueHandle({.name = kept_queue}, ack, {});
  for (const Subscription* s : {&cancelled, &kept}) {
    ASSERT_EQ(s->Ready().wait_for(kWait), std::future_status::ready);
    s->Ready().get();
  }
  ASSERT_TRUE(log.WaitConnected());

  RabbitCtl("stop_app");
  const bool lost = log.WaitForLosses(1);
  auto cancel = cancelled.Cancel();
  const bool cancelled_while_down = cancel.wait_for(kWait) == std::future_status::ready;
  RabbitCtl("start_app");
  ASSERT_TRUE(lost);
  ASSERT_TRUE(cancelled_while_down);
  cancel.get();
  ASSERT_TRUE(log.WaitConnected());

  // Replay goes in subscription order: once the later one consumes again, the cancelled one
  // would have too.
  ASSERT_TRUE(WaitUntil([&] { return Consumers(client, kept_queue) == 1; }, kWait));
  EXPECT_EQ(Consumers(client, cancelled_queue), 0U);
  EXPECT_THROW(cancelled.Resume().get(), MessagingError);
}

// A memory alarm on the test broker (the node uses far more than 50 MB); cleared at the end
// whatever happens, so later tests find a broker that accepts publishes.
class MemoryAlarm {
 public:
  MemoryAlarm() { RabbitCtl("set_vm_memory_high_watermark absolute 50MB"); }
  ~MemoryAlarm() {
    try {
      Clear();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not clear the memory alarm: " << e.what();
    }
  }
  MemoryAlarm(const MemoryAlarm&) = delete;
  MemoryAlarm& operator=(const MemoryAlarm&) = delete;
  void Clear() {
    if (cleared_) return;
    RabbitCtl("set_vm_memory_high_watermark absolute 1GB");
    cleared_ = true;
  }

 private:
  bool cleared_ = false;
};

TEST(AmqpClientRecovery, MemoryAlarmBlocksPublishingUntilItClears) {
  const std::string queue = UniqueName("blocked");
  StateLog log;
  AmqpClient publisher{Options(log)};
  auto before = publisher.PublishToQueue({.name = queue}, {.body = "before"});
  ASSERT_EQ(before.wait_for(kWait), std::future_status::ready);
  before.get();

  MemoryAlarm alarm;
  // The broker blocks a connection when it next publishes: keep one publish open until then.
  std::vector<std::future<void>> during;
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (publisher.State() == ConnectionState::kBlocked) return true;
        if (during.empty() ||
            during.back().wait_for(std::chrono::seconds{0}) == std::future_status::ready) {
          during.push_back(publisher.PublishToQueue({.name = queue}, {.body = "during"}));
        }
        return false;
      },
      kWait))
      << "no connection.blocked: is the capability advertised at login?";
  alarm.Clear();

  for (auto& publish : during) {
    ASSERT_EQ(publish.wait_for(kWait), std::future_status::ready);
    publish.get();  // held back while blocked, confirmed after the alarm cleared
  }
  EXPECT_TRUE(WaitUntil([&] { return publisher.State() == ConnectionState::kConnected; }, kWait));
  auto info = publisher.InspectQueue(queue);
  ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(info.get().messages, 1 + during.size());
}

}  // namespace
}  // namespace cppblog::messaging
