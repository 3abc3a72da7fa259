// basic.nack from the broker: a queue that is full and refuses more (x-max-length with
// x-overflow reject-publish) nacks a confirmed publish (ADR 0016). To a queue declared classic the
// publish fails at once with kNacked and an error that says which queue refused it and why; sent
// any other way (the default exchange: the client cannot know the queue's type) it is retried
// until its publish timeout. Either way the nack costs only that publish: no reconnect (the state
// never goes `recovering`, cppblog_amqp_recoveries_total stays 0) and no other publish is sent
// twice. Against the shared test broker; disturbs nothing but its own queues.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/metrics/registry.hpp"

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kWait = 30s;
// The client's default: a refusal must come far sooner than this.
constexpr auto kPublishTimeout = 60s;
// What "at once" means for a refused publish (one round trip, on a loaded 2-core machine).
constexpr auto kPromptly = 5s;

// The value of the series named exactly `series` in the text format, or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

QueueSpec FullAfterOne(const std::string& name) {
  return {.name = name,
          .durable = false,
          .auto_delete = false,
          .arguments = {{"x-max-length", std::int64_t{1}}, {"x-overflow", "reject-publish"}}};
}

// Deliveries by message id.
class Deliveries {
 public:
  Outcome Record(const Message& m) {
    std::lock_guard lock(mutex_);
    ++by_id_[m.message_id];
    ++total_;
    cv_.notify_all();
    return Outcome::kAck;
  }
  bool WaitForTotal(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return total_ >= n; });
  }
  std::map<std::string, int> ById() {
    std::lock_guard lock(mutex_);
    return by_id_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, int> by_id_;
  std::size_t total_ = 0;
};

class AmqpBrokerNack : public ::testing::Test {
 protected:
  // Every state the client went through; a nack must never make it `recovering`.
  struct States {
    std::mutex mutex;
    std::vector<ConnectionState> seen;
    bool Recovered() {
      std::lock_guard lock(mutex);
      bool connected = false;
      for (const ConnectionState s : seen) {
        if (s == ConnectionState::kConnected) connected = true;
        if (connected && s == ConnectionState::kRecovering) return true;
      }
      return false;
    }
  };

  AmqpClientOptions Options(std::chrono::milliseconds publish_timeout) {
    return {.url = TestAmqpUrl(),
            .reconnect_min = 50ms,
            .reconnect_max = 500ms,
            .publish_timeout = publish_timeout,
            .on_state_change =
                [this](ConnectionState s) {
                  std::lock_guard lock(states_.mutex);
                  states_.seen.push_back(s);
                },
            .metrics = &registry_};
  }

  void FillTheQueue(AmqpClient& client) {
    auto first = client.PublishToQueue(spec_, {.body = "fits"});
    ASSERT_EQ(first.wait_for(kWait), std::future_status::ready);
    first.get();
  }
  void TearDown() override {
    // The queues are not auto-delete (a consumer would drain them): go through the broker.
    for (const std::string& queue : {queue_, other_}) {
      try {
        RabbitCtl("delete_queue '" + queue + "'");
      } catch (const std::exception& e) {
        std::cout << "could not delete " << queue << ": " << e.what() << "\n";
      }
    }
  }

  // Publishes `n` messages with ids 0..n-1 to other_, each followed by one to the full queue
  // through `refuse` (whose futures go to `refused`); returns the futures of the n.
  template <typename Refuse>
  std::vector<std::future<void>> PublishMixed(AmqpClient& client, std::size_t n, Refuse&& refuse,
                                              std::vector<std::future<void>>& refused) {
    std::vector<std::future<void>> confirms;
    for (std::size_t i = 0; i < n; ++i) {
      confirms.push_back(client.PublishToQueue(
          other_spec_, {.body = "fine " + std::to_string(i), .message_id = std::to_string(i)}));
      if (i % 10 == 0) refused.push_back(refuse());
    }
    return confirms;
  }

  // Every one of `confirms` confirmed; the other queue holds exactly them (a resend would have
  // put a second copy there before its confirm), and a consumer gets each id once.
  void ExpectEachDeliveredOnce(AmqpClient& client, std::vector<std::future<void>>& confirms) {
    for (std::size_t i = 0; i < confirms.size(); ++i) {
      ASSERT_EQ(confirms[i].wait_for(kWait), std::future_status::ready) << "publish " << i;
      EXPECT_NO_THROW(confirms[i].get()) << "publish " << i;
    }
    auto info = client.InspectQueue(other_);
    ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(info.get().messages, confirms.size()) << "a publish was sent twice";

    Deliveries deliveries;
    auto subscribed = client.SubscribeToQueue(
        other_spec_, [&](const Message& m) { return deliveries.Record(m); }, {});
    ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
    subscribed.get();
    ASSERT_TRUE(deliveries.WaitForTotal(confirms.size(), kWait));
    const auto by_id = deliveries.ById();
    EXPECT_EQ(by_id.size(), confirms.size());
    for (const auto& [id, count] : by_id) EXPECT_EQ(count, 1) << "message id " << id;
  }

  void ExpectNoReconnect() {
    const std::string metrics = registry_.Serialize();
    EXPECT_EQ(Sample(metrics, "cppblog_amqp_recoveries_total"), 0) << metrics;
    EXPECT_FALSE(states_.Recovered()) << "a nack made the client reconnect";
  }

  metrics::Registry registry_;
  States states_;
  const std::string queue_ = UniqueName("nack");
  const std::string other_ = UniqueName("nack-other");
  QueueSpec spec_ = FullAfterOne(queue_);
  QueueSpec other_spec_{.name = other_, .durable = false};
};

TEST_F(AmqpBrokerNack, APublishToAFullClassicQueueFailsAtOnceWithKNacked) {
  AmqpClient client{Options(kPublishTimeout)};
  FillTheQueue(client);
  const std::string before = registry_.Serialize();
  ASSERT_EQ(Sample(before, "rabbitmq_not_acknowledged_published_total"), 0) << before;

  const auto sent = Clock::now();
  auto refused = client.PublishToQueue(spec_, {.body = "does not fit"});
  ASSERT_EQ(refused.wait_for(kWait), std::future_status::ready);
  const auto failed_after = Clock::now() - sent;
  try {
    refused.get();
    ADD_FAILURE() << "a publish the broker nacked was reported as confirmed";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kNacked) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find("queue '" + queue_ + "'"), std::string::npos) << what;
    EXPECT_NE(what.find("refused"), std::string::npos) << what;
    EXPECT_NE(what.find("nack"), std::string::npos) << what;
    EXPECT_NE(what.find("full"), std::string::npos) << what;
    EXPECT_NE(what.find("reject-publish"), std::string::npos) << what;
  }
  std::cout << "refused after "
            << std::chrono::duration_cast<std::chrono::microseconds>(failed_after).count()
            << " us\n";
  // Not retried until the publish timeout: a classic queue elects no leader.
  EXPECT_LT(failed_after, kPromptly)
      << std::chrono::duration_cast<std::chrono::milliseconds>(failed_after).count() << " ms";

  const std::string after = registry_.Serialize();
  EXPECT_EQ(Sample(after, "rabbitmq_not_acknowledged_published_total"), 1) << after;
  EXPECT_EQ(Sample(after, "rabbitmq_failed_to_publish_total"), 1) << after;
  EXPECT_EQ(Sample(after, "rabbitmq_acknowledged_published_total"), 1) << after;
  ExpectNoReconnect();

  // The queue still holds the one that fitted, and nothing else got in.
  auto info = client.InspectQueue(queue_);
  ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(info.get().messages, 1U);
}

TEST_F(AmqpBrokerNack, RefusalsFailPromptlyWithoutReconnectOrResendingOtherPublishes) {
  AmqpClient client{Options(kPublishTimeout)};
  FillTheQueue(client);
  std::vector<std::future<void>> refused;
  const auto sent = Clock::now();
  auto confirms = PublishMixed(
      client, 500, [&] { return client.PublishToQueue(spec_, {.body = "does not fit"}); }, refused);
  for (auto& r : refused) {
    ASSERT_EQ(r.wait_for(kWait), std::future_status::ready);
    try {
      r.get();
      ADD_FAILURE() << "a publish the broker nacked was reported as confirmed";
    } catch (const MessagingError& e) {
      EXPECT_EQ(e.kind(), MessagingErrorKind::kNacked) << e.what();
    }
  }
  const auto all_refused_after = Clock::now() - sent;
  std::cout << refused.size() << " refused among " << confirms.size() << " publishes, all within "
            << std::chrono::duration_cast<std::chrono::milliseconds>(all_refused_after).count()
            << " ms\n";
  EXPECT_LT(all_refused_after, kPromptly)
      << std::chrono::duration_cast<std::chrono::milliseconds>(all_refused_after).count()
      << " ms for " << refused.size() << " refusals";
  ExpectEachDeliveredOnce(client, confirms);
  ExpectNoReconnect();
}

TEST_F(AmqpBrokerNack, ARefusalOfUnknownTypeIsRetriedUntilItsTimeoutAndCostsNoReconnect) {
  // Through the default exchange the client cannot know the queue is classic: the nack may be a
  // quorum queue's election, so it is retried (on a new channel, never a new connection) until
  // the publish timeout.
  constexpr auto kShortTimeout = 1500ms;
  AmqpClient client{Options(kShortTimeout)};
  FillTheQueue(client);
  std::vector<std::future<void>> refused;
  const auto sent = Clock::now();
  auto confirms = PublishMixed(
      client, 200, [&] { return client.Publish(ExchangeSpec{}, queue_, {.body = "no fit"}); },
      refused);
  for (auto& r : refused) {
    ASSERT_EQ(r.wait_for(kWait), std::future_status::ready);
    try {
      r.get();
      ADD_FAILURE() << "a publish the broker nacked was reported as confirmed";
    } catch (const MessagingError& e) {
      EXPECT_EQ(e.kind(), MessagingErrorKind::kNacked) << e.what();
      const std::string what = e.what();
      EXPECT_NE(what.find(queue_), std::string::npos) << what;
      EXPECT_NE(what.find("publish timeout"), std::string::npos) << what;
    }
  }
  const auto failed_after = Clock::now() - sent;
  EXPECT_GE(failed_after, kShortTimeout - 100ms);
  EXPECT_LE(failed_after, kShortTimeout + kPromptly);
  const std::string metrics = registry_.Serialize();
  // Retried: more nacks than refused publishes.
  EXPECT_GT(Sample(metrics, "rabbitmq_not_acknowledged_published_total"),
            static_cast<double>(refused.size()))
      << metrics;
  ExpectEachDeliveredOnce(client, confirms);
  ExpectNoReconnect();
}

TEST_F(AmqpBrokerNack, TheCallbackOfARefusedPublishGetsTheErrorAndOthersStillGoThrough) {
  AmqpClient client{Options(kPublishTimeout)};
  FillTheQueue(client);
  // The error as the callback saw it; empty kind: confirmed.
  std::promise<std::optional<MessagingErrorKind>> done;
  client.PublishToQueue(spec_, {.body = "does not fit"}, [&done](const MessagingError* error) {
    done.set_value(error == nullptr ? std::nullopt : std::optional{error->kind()});
  });
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(kWait), std::future_status::ready);
  const auto kind = result.get();
  ASSERT_TRUE(kind.has_value()) << "a publish the broker nacked was reported as confirmed";
  EXPECT_EQ(*kind, MessagingErrorKind::kNacked);

  // A nack concerns that publish, not the client: another queue takes messages as before.
  auto fine = client.PublishToQueue(other_spec_, {.body = "fine"});
  ASSERT_EQ(fine.wait_for(kWait), std::future_status::ready);
  EXPECT_NO_THROW(fine.get());
  EXPECT_EQ(client.State(), ConnectionState::kConnected);
  ExpectNoReconnect();
}

}  // namespace
}  // namespace cppblog::messaging
