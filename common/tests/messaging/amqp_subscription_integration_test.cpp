#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "test_client.hpp"

// Subscription handles on the real broker of ./dev test: pause, resume and cancel one
// subscription on its own.
namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{20};

template <typename T>
T Get(std::future<T> future) {
  if (future.wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error("no result within the test's deadline");
  }
  return future.get();
}

void WaitReady(const Subscription& subscription) {
  if (subscription.Ready().wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error("the consumer was not registered within the test's deadline");
  }
  subscription.Ready().get();
}

// Records the message ids a handler saw.
class Seen {
 public:
  Handler Recorder() {
    return [this](const Message& message) {
      const std::lock_guard lock{mutex_};
      ids_.push_back(message.message_id);
      changed_.notify_all();
      return Outcome::kAck;
    };
  }
  bool WaitFor(std::size_t count) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, kWait, [&] { return ids_.size() >= count; });
  }
  std::vector<std::string> Ids() {
    const std::lock_guard lock{mutex_};
    return ids_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> ids_;
};

void PublishConfirmed(AmqpClient& client, const std::string& queue, int first, int count) {
  std::vector<std::future<void>> confirms;
  for (int i = first; i < first + count; ++i) {
    confirms.push_back(client.PublishToQueue(
        {.name = queue}, {.body = "m", .message_id = "id-" + std::to_string(i)}));
  }
  for (auto& confirm : confirms) Get(std::move(confirm));
}

QueueInfo Inspect(AmqpClient& client, const std::string& queue) {
  return Get(client.InspectQueue(queue));
}

TEST(AmqpSubscription, PausedReceivesNothingWhileMessagesArriveAndResumedGetsEachOnce) {
  const std::string queue = UniqueName("sub-pause");
  AmqpClient client{TestOptions()};
  Seen seen;
  Subscription subscription =
      client.SubscribeToQueueHandle({.name = queue}, seen.Recorder(), {.prefetch = 10});
  WaitReady(subscription);
  PublishConfirmed(client, queue, 0, 5);
  ASSERT_TRUE(seen.WaitFor(5));

  Get(subscription.Pause());
  PublishConfirmed(client, queue, 5, 20);

  // Confirmed, so queued: a consumer still attached would have taken them off the queue.
  const QueueInfo paused = Inspect(client, queue);
  EXPECT_EQ(paused.messages, 20U);
  EXPECT_EQ(paused.consumers, 0U);
  EXPECT_EQ(seen.Ids().size(), 5U);

  Get(subscription.Resume());

  ASSERT_TRUE(seen.WaitFor(25));
  ASSERT_TRUE(WaitUntil([&] { return Inspect(client, queue).messages == 0; }, kWait));
  Get(subscription.Cancel());  // every ack is out: nothing comes back to the queue
  const auto ids = seen.Ids();
  EXPECT_EQ(ids.size(), 25U);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 25U);
  EXPECT_EQ(Inspect(client, queue).messages, 0U);
}

TEST(AmqpSubscription, APausedHandlerStillAcksAndCancelWaitsForIt) {
  const std::string queue = UniqueName("sub-running");
  AmqpClient client{TestOptions()};
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  int calls = 0;
  Subscription subscription =
      client.SubscribeToQueueHandle({.name = queue},
                                    [&](const Message&) {
                                      ++calls;  // one message: one handler at a time
                                      started.set_value();
                                      released.wait();
                                      return Outcome::kAck;
                                    },
                                    {});
  WaitReady(subscription);
  PublishConfirmed(client, queue, 0, 1);
  ASSERT_EQ(started.get_future().wait_for(kWait), std::future_status::ready);

  Get(subscription.Pause());
  auto cancelled = subscription.Cancel();
  // Cancel waits for the handler that still runs.
  EXPECT_EQ(cancelled.wait_for(std::chrono::milliseconds{0}), std::future_status::timeout);
  release.set_value();
  Get(std::move(cancelled));

  // Its ack went out before the channel closed: the message is not back in the queue.
  const QueueInfo after = Inspect(client, queue);
  EXPECT_EQ(after.messages, 0U);
  EXPECT_EQ(after.consumers, 0U);
  EXPECT_EQ(calls, 1);
}

TEST(AmqpSubscription, CancelledTakesNoMoreMessagesAndRefusesPauseAndResume) {
  const std::string queue = UniqueName("sub-cancel");
  AmqpClient client{TestOptions()};
  Seen seen;
  Subscription subscription = client.SubscribeToQueueHandle({.name = queue}, seen.Recorder(), {});
  WaitReady(subscription);

  Get(subscription.Cancel());
  PublishConfirmed(client, queue, 0, 3);

  const QueueInfo after = Inspect(client, queue);
  EXPECT_EQ(after.messages, 3U);
  EXPECT_EQ(after.consumers, 0U);
  EXPECT_TRUE(seen.Ids().empty());
  EXPECT_THROW(Get(subscription.Resume()), MessagingError);
  EXPECT_THROW(Get(subscription.Pause()), MessagingError);
  EXPECT_NO_THROW(Get(subscription.Cancel()));  // idempotent
}

TEST(AmqpSubscription, OtherSubscriptionsOfTheClientGoOnWhileOneIsPaused) {
  const std::string paused_queue = UniqueName("sub-one");
  const std::string other_queue = UniqueName("sub-other");
  AmqpClient client{TestOptions()};
  Seen paused_seen;
  Seen other_seen;
  Subscription paused =
      client.SubscribeToQueueHandle({.name = paused_queue}, paused_seen.Recorder(), {});
  Subscription other =
      client.SubscribeToQueueHandle({.name = other_queue}, other_seen.Recorder(), {});
  WaitReady(paused);
  WaitReady(other);

  Get(paused.Pause());
  PublishConfirmed(client, paused_queue, 0, 3);
  PublishConfirmed(client, other_queue, 0, 3);

  ASSERT_TRUE(other_seen.WaitFor(3));
  EXPECT_EQ(Inspect(client, paused_queue).messages, 3U);
  EXPECT_TRUE(paused_seen.Ids().empty());
}

TEST(AmqpSubscription, AnEmptyHandleAndAHandleOfAClosedClientFail) {
  Subscription empty;
  EXPECT_FALSE(empty.Valid());
  EXPECT_THROW(Get(empty.Pause()), MessagingError);

  Subscription handle;
  {
    AmqpClient client{TestOptions()};
    handle = client.SubscribeToQueueHandle({.name = UniqueName("sub-closed")},
                                           [](const Message&) { return Outcome::kAck; }, {});
    WaitReady(handle);
  }
  ASSERT_TRUE(handle.Valid());
  try {
    Get(handle.Resume());
    ADD_FAILURE() << "resume after the client closed did not fail";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kClosed);
  }
}

}  // namespace
}  // namespace cppblog::messaging
