// basic.nack from the broker: a queue that is full and refuses more (x-max-length with
// x-overflow reject-publish) nacks a confirmed publish. The publish fails with kNacked once its
// publish timeout has passed (a nack is retried until then, ADR 0011), the error says which
// queue refused it, rabbitmq_not_acknowledged_published_total counts the nacks, and the client
// goes on publishing elsewhere. Against the shared test broker; disturbs nothing but its own
// queues.
#include <chrono>
#include <future>
#include <iostream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/metrics/registry.hpp"

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 30s;
constexpr auto kPublishTimeout = 1500ms;

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

class AmqpBrokerNack : public ::testing::Test {
 protected:
  metrics::Registry registry_;
  AmqpClient client_{{.url = TestAmqpUrl(),
                      .reconnect_min = 50ms,
                      .reconnect_max = 500ms,
                      .publish_timeout = kPublishTimeout,
                      .metrics = &registry_}};
  const std::string queue_ = UniqueName("nack");
  QueueSpec spec_ = FullAfterOne(queue_);

  void FillTheQueue() {
    auto first = client_.PublishToQueue(spec_, {.body = "fits"});
    ASSERT_EQ(first.wait_for(kWait), std::future_status::ready);
    first.get();
  }
  void TearDown() override {
    // The queue is not auto-delete (a consumer would drain it): go through the broker.
    try {
      RabbitCtl("delete_queue '" + queue_ + "'");
    } catch (const std::exception& e) {
      std::cout << "could not delete " << queue_ << ": " << e.what() << "\n";
    }
  }
};

TEST_F(AmqpBrokerNack, APublishTheBrokerRefusesFailsWithKNackedAndIsCounted) {
  FillTheQueue();
  const std::string before = registry_.Serialize();
  ASSERT_EQ(Sample(before, "rabbitmq_not_acknowledged_published_total"), 0) << before;

  const auto sent = std::chrono::steady_clock::now();
  auto refused = client_.PublishToQueue(spec_, {.body = "does not fit"});
  ASSERT_EQ(refused.wait_for(kWait), std::future_status::ready);
  const auto failed_after = std::chrono::steady_clock::now() - sent;
  try {
    refused.get();
    ADD_FAILURE() << "a publish the broker nacked was reported as confirmed";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kNacked) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find(queue_), std::string::npos) << what;
    EXPECT_NE(what.find("refused"), std::string::npos) << what;
    EXPECT_NE(what.find("nack"), std::string::npos) << what;
  }
  // Retried until the publish timeout, not failed at the first nack (a quorum queue nacks
  // while it elects a leader), and not held much beyond it.
  EXPECT_GE(failed_after, kPublishTimeout - 100ms);
  EXPECT_LE(failed_after, kPublishTimeout + 5s);

  const std::string after = registry_.Serialize();
  EXPECT_GE(Sample(after, "rabbitmq_not_acknowledged_published_total"), 1) << after;
  EXPECT_EQ(Sample(after, "rabbitmq_failed_to_publish_total"), 1) << after;
  EXPECT_EQ(Sample(after, "rabbitmq_acknowledged_published_total"), 1) << after;

  // The queue still holds the one that fitted, and nothing else got in.
  auto info = client_.InspectQueue(queue_);
  ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(info.get().messages, 1U);
}

TEST_F(AmqpBrokerNack, TheCallbackOfARefusedPublishGetsTheErrorAndOthersStillGoThrough) {
  FillTheQueue();
  // The error as the callback saw it; empty kind: confirmed.
  std::promise<std::optional<MessagingErrorKind>> done;
  client_.PublishToQueue(spec_, {.body = "does not fit"}, [&done](const MessagingError* error) {
    done.set_value(error == nullptr ? std::nullopt : std::optional{error->kind()});
  });
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(kWait), std::future_status::ready);
  const auto kind = result.get();
  ASSERT_TRUE(kind.has_value()) << "a publish the broker nacked was reported as confirmed";
  EXPECT_EQ(*kind, MessagingErrorKind::kNacked);

  // A nack concerns that publish, not the client: another queue takes messages as before.
  const std::string other = UniqueName("nack-other");
  auto fine = client_.PublishToQueue({.name = other, .durable = false, .auto_delete = true},
                                     {.body = "fine"});
  ASSERT_EQ(fine.wait_for(kWait), std::future_status::ready);
  EXPECT_NO_THROW(fine.get());
  EXPECT_TRUE(WaitUntil([&] { return client_.State() == ConnectionState::kConnected; }, kWait));
}

}  // namespace
}  // namespace cppblog::messaging
