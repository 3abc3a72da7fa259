#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "test_client.hpp"

// The callback forms of Publish and PublishToQueue, on the real broker of ./dev test: a result
// for every publish, exactly once, with no future and no thread that waits for it.
namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{20};

// The results the callbacks delivered: how many, which errors.
class Results {
 public:
  PublishCallback Recorder() {
    return [this](const MessagingError* error) {
      const std::lock_guard lock{mutex_};
      ++calls_;
      if (error != nullptr) errors_.push_back(error->kind());
      changed_.notify_all();
    };
  }
  bool WaitFor(int calls) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, kWait, [&] { return calls_ >= calls; });
  }
  int Calls() {
    const std::lock_guard lock{mutex_};
    return calls_;
  }
  std::vector<MessagingErrorKind> Errors() {
    const std::lock_guard lock{mutex_};
    return errors_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int calls_ = 0;
  std::vector<MessagingErrorKind> errors_;
};

std::uint32_t QueueDepth(AmqpClient& client, const std::string& queue) {
  auto info = client.InspectQueue(queue);
  if (info.wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error("no answer to a passive declare of " + queue);
  }
  return info.get().messages;
}

TEST(AmqpPublishCallback, CallsBackOnceWithNoErrorForEveryConfirmedMessage) {
  constexpr int kMessages = 500;
  const QueueSpec queue{.name = UniqueName("callback")};
  Results results;
  AmqpClient client{TestOptions()};
  for (int i = 0; i < kMessages; ++i) {
    client.PublishToQueue(queue, {.body = std::to_string(i)}, results.Recorder());
  }
  ASSERT_TRUE(results.WaitFor(kMessages)) << results.Calls() << " of " << kMessages;
  EXPECT_TRUE(results.Errors().empty());
  EXPECT_EQ(QueueDepth(client, queue.name), static_cast<std::uint32_t>(kMessages));
  client.Close();
  EXPECT_EQ(results.Calls(), kMessages);  // never twice
}

TEST(AmqpPublishCallback, ReportsAnUnroutableMessageWithItsError) {
  const ExchangeSpec exchange{.name = UniqueName("callback-empty"), .type = ExchangeType::kFanout};
  std::promise<std::optional<MessagingError>> result;
  AmqpClient client{TestOptions()};
  client.Publish(exchange, "", {.body = "nobody listens"}, [&](const MessagingError* error) {
    result.set_value(error != nullptr ? std::optional{*error} : std::nullopt);
  });
  auto done = result.get_future();
  ASSERT_EQ(done.wait_for(kWait), std::future_status::ready);
  const auto error = done.get();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind(), MessagingErrorKind::kUnroutable);
  EXPECT_NE(std::string{error->what()}.find(exchange.name), std::string::npos) << error->what();
}

TEST(AmqpPublishCallback, ARefusedPublishCallsBackOnTheCallingThreadBeforeReturning) {
  AmqpClient client{TestOptions()};
  client.Close();
  std::optional<MessagingErrorKind> kind;
  std::thread::id called_on;
  client.PublishToQueue({.name = UniqueName("callback-closed")}, {.body = "late"},
                        [&](const MessagingError* error) {
                          called_on = std::this_thread::get_id();
                          if (error != nullptr) kind = error->kind();
                        });
  EXPECT_EQ(kind, MessagingErrorKind::kClosed);
  EXPECT_EQ(called_on, std::this_thread::get_id());

  kind.reset();
  client.PublishToQueue({}, {.body = "nowhere"},
                        [&](const MessagingError* error) { kind = error->kind(); });
  EXPECT_EQ(kind, MessagingErrorKind::kInvalidOptions);
}

TEST(AmqpPublishCallback, ACallbackMayPublishTheNextMessage) {
  constexpr int kChain = 50;
  const QueueSpec queue{.name = UniqueName("callback-chain")};
  AmqpClient client{TestOptions()};
  std::promise<void> last;
  std::atomic<int> failures{0};
  std::function<void(int)> publish_from = [&](int n) {
    client.PublishToQueue(queue, {.body = std::to_string(n)}, [&, n](const MessagingError* error) {
      if (error != nullptr) ++failures;
      if (n + 1 < kChain) {
        publish_from(n + 1);
      } else {
        last.set_value();
      }
    });
  };
  publish_from(0);
  auto done = last.get_future();
  ASSERT_EQ(done.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(QueueDepth(client, queue.name), static_cast<std::uint32_t>(kChain));
}

TEST(AmqpPublishCallback, ACallbackThatThrowsDoesNotStopThePublisher) {
  const QueueSpec queue{.name = UniqueName("callback-throws")};
  Results results;
  AmqpClient client{TestOptions()};
  client.PublishToQueue(queue, {.body = "first"}, [](const MessagingError*) {
    throw std::runtime_error("a careless callback");
  });
  client.PublishToQueue(queue, {.body = "second"}, results.Recorder());
  ASSERT_TRUE(results.WaitFor(1));
  EXPECT_TRUE(results.Errors().empty());
  EXPECT_EQ(QueueDepth(client, queue.name), 2u);
}

TEST(AmqpPublishCallback, CloseReturnsOnlyAfterEveryAcceptedCallbackRan) {
  constexpr int kMessages = 300;
  const QueueSpec queue{.name = UniqueName("callback-close")};
  Results results;
  {
    AmqpClient client{TestOptions()};
    for (int i = 0; i < kMessages; ++i) {
      client.PublishToQueue(queue, {.body = std::to_string(i)}, results.Recorder());
    }
    client.Close();
    EXPECT_EQ(results.Calls(), kMessages);
  }
  EXPECT_EQ(results.Calls(), kMessages);  // and none after
}

}  // namespace
}  // namespace cppblog::messaging
