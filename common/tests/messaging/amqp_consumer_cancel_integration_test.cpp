// Consumer cancel notification: the queue a subscription consumes from is deleted behind the
// client's back (an operator, a policy, another application). The broker cancels the consumer
// (basic.cancel; the client advertises consumer_cancel_notify). What the client does, and what
// these tests hold it to: it logs a warning naming the queue, declares the queue again (a
// subscription owns its queue's declaration, as after a reconnect) and consumes again on the
// same channel, without dropping the connection and without looping; messages published to the
// queue afterwards arrive. Against the shared test broker; deletes only its own queues.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/metrics/registry.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "log_capture.hpp"

namespace cppblog::messaging {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 30s;

// The value of the series named exactly `series` in the text format, or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

std::uint32_t Consumers(AmqpClient& client, const std::string& queue) {
  auto info = client.InspectQueue(queue);
  if (info.wait_for(kWait) != std::future_status::ready) return 0;
  try {
    return info.get().consumers;
  } catch (const MessagingError&) {
    return 0;  // not there (yet)
  }
}

void Publish(AmqpClient& client, const std::string& queue, const std::string& body) {
  auto confirmed = client.PublishToQueue({.name = queue}, {.body = body});
  ASSERT_EQ(confirmed.wait_for(kWait), std::future_status::ready);
  confirmed.get();
}

TEST(AmqpConsumerCancel, ADeletedQueueIsDeclaredAgainAndConsumedWithoutAReconnect) {
  const LogCapture log;  // before the clients, gone after them
  metrics::Registry registry;
  std::vector<ConnectionState> states;
  std::mutex states_mutex;
  Inbox inbox;
  const std::string queue = UniqueName("cancel-notify");
  {
    AmqpClient consumer{{.url = TestAmqpUrl(),
                         .on_state_change =
                             [&](ConnectionState s) {
                               std::lock_guard lock(states_mutex);
                               states.push_back(s);
                             },
                         .metrics = &registry}};
    AmqpClient publisher{{.url = TestAmqpUrl()}};
    Subscription subscription =
        consumer.SubscribeToQueueHandle({.name = queue}, inbox.Recorder(), {});
    ASSERT_EQ(subscription.Ready().wait_for(kWait), std::future_status::ready);
    subscription.Ready().get();
    Publish(publisher, queue, "before");
    ASSERT_TRUE(inbox.WaitFor(1, kWait));
    const std::string before = registry.Serialize();

    RabbitCtl("delete_queue '" + queue + "'");

    // The client noticed (it says so) and put the queue and its consumer back.
    ASSERT_TRUE(WaitUntil(
        [&] {
          return log.Count("the broker cancelled the consumer of queue '" + queue + "'") >= 1;
        },
        kWait))
        << "no warning about the broker's basic.cancel";
    ASSERT_TRUE(WaitUntil([&] { return Consumers(publisher, queue) == 1; }, kWait))
        << "the deleted queue was not declared and consumed again";
    Publish(publisher, queue, "after");
    ASSERT_TRUE(inbox.WaitFor(2, kWait)) << "a message published after the deletion did not arrive";
    EXPECT_EQ(inbox.Messages().back().body, "after");

    // Handled on the connection it happened on: no reconnect, no new channel, one warning,
    // one consumer; the handle still works.
    const std::string after = registry.Serialize();
    EXPECT_EQ(Sample(after, "cppblog_amqp_recoveries_total"), 0) << after;
    EXPECT_EQ(Sample(after, "rabbitmq_channels"), Sample(before, "rabbitmq_channels")) << after;
    EXPECT_EQ(log.Count("the broker cancelled the consumer of queue '" + queue + "'"), 1U);
    EXPECT_EQ(Consumers(publisher, queue), 1U);
    EXPECT_EQ(consumer.State(), ConnectionState::kConnected);
    auto paused = subscription.Pause();
    ASSERT_EQ(paused.wait_for(kWait), std::future_status::ready);
    EXPECT_NO_THROW(paused.get());
    EXPECT_EQ(Consumers(publisher, queue), 0U);
    {
      std::lock_guard lock(states_mutex);
      EXPECT_EQ(states, std::vector<ConnectionState>{ConnectionState::kConnected});
    }
    consumer.Close();
    publisher.Close();
  }
  RabbitCtl("delete_queue '" + queue + "'");
}

// A subscription paused through its handle has no consumer for the broker to cancel; the queue
// deleted meanwhile is declared again when it resumes.
TEST(AmqpConsumerCancel, APausedSubscriptionWhoseQueueWasDeletedResumesOnANewQueue) {
  Inbox inbox;
  const std::string queue = UniqueName("cancel-paused");
  AmqpClient client{{.url = TestAmqpUrl()}};
  Subscription subscription = client.SubscribeToQueueHandle({.name = queue}, inbox.Recorder(), {});
  ASSERT_EQ(subscription.Ready().wait_for(kWait), std::future_status::ready);
  subscription.Ready().get();
  auto paused = subscription.Pause();
  ASSERT_EQ(paused.wait_for(kWait), std::future_status::ready);
  paused.get();

  RabbitCtl("delete_queue '" + queue + "'");
  auto resumed = subscription.Resume();
  ASSERT_EQ(resumed.wait_for(kWait), std::future_status::ready);
  EXPECT_NO_THROW(resumed.get());

  ASSERT_TRUE(WaitUntil([&] { return Consumers(client, queue) == 1; }, kWait))
      << "the resumed subscription does not consume its (deleted) queue again";
  Publish(client, queue, "after");
  EXPECT_TRUE(inbox.WaitFor(1, kWait));
  client.Close();
  RabbitCtl("delete_queue '" + queue + "'");
}

}  // namespace
}  // namespace cppblog::messaging
