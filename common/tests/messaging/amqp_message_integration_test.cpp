#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "test_client.hpp"

// Headers and properties on the real broker of ./dev test: the x-death table RabbitMQ adds when
// it dead-letters, the per-message properties, and the consumer arguments.
namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{20};

const HeaderValue* Find(const Headers& headers, const std::string& key) {
  const auto it = headers.find(key);
  return it == headers.end() ? nullptr : &it->second;
}

TEST(AmqpMessageHeaders, ABrokerDeadLetteredMessageKeepsItsXDeathThroughRetryAndRepublish) {
  const std::string expiring = UniqueName("expiring");
  const std::string target = UniqueName("dead-lettered");
  const std::string copy = UniqueName("forwarded");
  AmqpClient client{TestOptions()};

  // The handler of `target` asks for one retry (the client republishes the message), then
  // forwards what it got to `copy`.
  Inbox first_attempts;
  Inbox retries;
  auto on_target =
      client.SubscribeToQueue({.name = target},
                              [&, retried = false](const Message& m) mutable {
                                if (!retried) {
                                  retried = true;
                                  first_attempts.Add(m);
                                  return Outcome::kRetry;
                                }
                                retries.Add(m);
                                Message forward = m;
                                forward.exchange.clear();
                                forward.routing_key.clear();
                                client.PublishToQueue({.name = copy}, std::move(forward)).get();
                                return Outcome::kAck;
                              },
                              {.prefetch = 1, .retry_backoff = std::chrono::milliseconds{10}});
  Ready(on_target);
  Inbox forwarded;
  auto on_copy = client.SubscribeToQueue({.name = copy}, forwarded.Recorder(), {});
  Ready(on_copy);

  // No consumer on `expiring`: the broker expires the message and dead-letters it to `target`.
  const QueueSpec expiring_queue{
      .name = expiring,
      .arguments = {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", target}}};
  Message message{.body = "late", .message_id = "dead-1"};
  message.expiration = std::chrono::milliseconds{1};
  auto published = client.PublishToQueue(expiring_queue, std::move(message));
  Ready(published);

  ASSERT_TRUE(first_attempts.WaitFor(1));
  const Message dead = first_attempts.Messages().front();
  EXPECT_EQ(dead.message_id, "dead-1");
  EXPECT_FALSE(dead.expiration.has_value()) << "the broker removes it when it dead-letters";
  const HeaderValue* x_death = Find(dead.headers, "x-death");
  ASSERT_NE(x_death, nullptr) << "no x-death header";
  const auto* deaths = std::get_if<HeaderArray>(x_death);
  ASSERT_NE(deaths, nullptr) << "x-death is not an array";
  ASSERT_EQ(deaths->size(), 1U);
  const auto* death = std::get_if<Headers>(&deaths->front());
  ASSERT_NE(death, nullptr) << "an x-death entry is not a table";
  EXPECT_EQ(Find(*death, "count") ? *Find(*death, "count") : HeaderValue{},
            HeaderValue{std::int64_t{1}});
  EXPECT_EQ(Find(*death, "reason") ? *Find(*death, "reason") : HeaderValue{},
            HeaderValue{"expired"});
  EXPECT_EQ(Find(*death, "queue") ? *Find(*death, "queue") : HeaderValue{}, HeaderValue{expiring});
  EXPECT_EQ(
      Find(*death, "original-expiration") ? *Find(*death, "original-expiration") : HeaderValue{},
      HeaderValue{"1"});
  const HeaderValue* time = Find(*death, "time");
  ASSERT_NE(time, nullptr);
  ASSERT_TRUE(std::holds_alternative<HeaderTimestamp>(*time));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_LE(std::abs(std::get<HeaderTimestamp>(*time).seconds - now), 600);
  const HeaderValue* keys = Find(*death, "routing-keys");
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(*keys, HeaderValue{HeaderArray{expiring}});

  // The client's retry republished it: the same x-death (and the retry's own headers).
  ASSERT_TRUE(retries.WaitFor(1));
  const Message retried = retries.Messages().front();
  ASSERT_NE(Find(retried.headers, "x-death"), nullptr);
  EXPECT_EQ(*Find(retried.headers, "x-death"), *x_death);
  EXPECT_EQ(retried.retry_count, 1U);

  // The handler's forward: every header unchanged.
  ASSERT_TRUE(forwarded.WaitFor(1));
  EXPECT_EQ(forwarded.Messages().front().headers, retried.headers);
  EXPECT_EQ(forwarded.Messages().front().body, "late");
  client.Close();
}

TEST(AmqpMessageHeaders, PriorityExpirationTimestampAndAppIdRoundTrip) {
  const QueueSpec queue{.name = UniqueName("properties"),
                        .arguments = {{"x-max-priority", std::int64_t{9}}}};
  AmqpClient client{TestOptions()};
  Inbox inbox;
  auto subscribed = client.SubscribeToQueue(queue, inbox.Recorder(), {});
  Ready(subscribed);
  const auto stamp = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  Message message{.body = "p", .headers = {{"nested", Headers{{"list", HeaderArray{true, 2.5}}}}}};
  message.priority = 7;
  message.expiration = std::chrono::minutes{10};
  message.timestamp = stamp;
  message.app_id = "amqp-message-test";
  auto published = client.PublishToQueue(queue, std::move(message));
  Ready(published);
  ASSERT_TRUE(inbox.WaitFor(1));
  const Message got = inbox.Messages().front();
  EXPECT_EQ(got.priority, std::uint8_t{7});
  EXPECT_EQ(got.expiration, std::chrono::milliseconds{600'000});
  EXPECT_EQ(got.timestamp, stamp);
  EXPECT_EQ(got.app_id, "amqp-message-test");
  EXPECT_EQ(got.headers, (Headers{{"nested", Headers{{"list", HeaderArray{true, 2.5}}}}}));
}

// The publisher writes the frames of a run of publishes itself: a body split over several
// frames, an empty body and headers arrive as sent, in order.
TEST(AmqpMessageHeaders, BodiesOfEverySizeArriveWholeAndInOrder) {
  const QueueSpec queue{.name = UniqueName("bodies")};
  AmqpClient client{TestOptions()};
  Inbox inbox;
  auto subscribed = client.SubscribeToQueue(queue, inbox.Recorder(), {.prefetch = 1});
  Ready(subscribed);
  std::vector<std::string> bodies{"", "x", std::string(131'072 - 8, 'a'),
                                  std::string(131'072 - 7, 'b'), std::string(1'000'000, 'c')};
  for (std::size_t i = 0; i < 50; ++i) bodies.push_back("small " + std::to_string(i));
  std::vector<std::future<void>> confirms;
  for (const std::string& body : bodies) {
    confirms.push_back(client.PublishToQueue(
        queue, {.body = body, .headers = {{"size", static_cast<std::int64_t>(body.size())}}}));
  }
  for (auto& confirm : confirms) Ready(confirm);
  ASSERT_TRUE(inbox.WaitFor(bodies.size()));
  const std::vector<Message> got = inbox.Messages();
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(got[i].body.size(), bodies[i].size()) << i;
    EXPECT_EQ(got[i].body, bodies[i]) << i;
    EXPECT_EQ(got[i].headers, (Headers{{"size", static_cast<std::int64_t>(bodies[i].size())}}));
  }
}

TEST(AmqpMessageHeaders, APriorityQueueDeliversTheHigherPriorityFirst) {
  const QueueSpec queue{.name = UniqueName("priority-queue"),
                        .arguments = {{"x-max-priority", std::int64_t{9}}}};
  AmqpClient client{TestOptions()};
  // Both wait in the queue (no consumer yet); the consumer then gets the urgent one first.
  for (const auto& [body, priority] : {std::pair{"low", 1}, std::pair{"urgent", 9}}) {
    Message m{.body = body};
    m.priority = static_cast<std::uint8_t>(priority);
    auto published = client.PublishToQueue(queue, std::move(m));
    Ready(published);
  }
  Inbox inbox;
  auto subscribed = client.SubscribeToQueue(queue, inbox.Recorder(), {.prefetch = 1});
  Ready(subscribed);
  ASSERT_TRUE(inbox.WaitFor(2));
  EXPECT_EQ(inbox.Messages()[0].body, "urgent");
  EXPECT_EQ(inbox.Messages()[1].body, "low");
}

TEST(AmqpMessageHeaders, ASingleActiveConsumerQueueDeliversToOneOfTwoConsumers) {
  constexpr std::size_t kMessages = 20;
  const QueueSpec queue{.name = UniqueName("single-active"),
                        .arguments = {{"x-single-active-consumer", true}}};
  AmqpClient first_client{TestOptions()};
  AmqpClient second_client{TestOptions()};
  Inbox first;
  Inbox second;
  auto a = first_client.SubscribeToQueue(queue, first.Recorder(), {});
  Ready(a);
  auto b = second_client.SubscribeToQueue(queue, second.Recorder(), {});
  Ready(b);
  for (std::size_t i = 0; i < kMessages; ++i) {
    auto published = first_client.PublishToQueue(queue, {.body = std::to_string(i)});
    Ready(published);
  }
  ASSERT_TRUE(WaitUntil(
      [&] { return first.Messages().size() + second.Messages().size() >= kMessages; }, kWait));
  // All to the consumer that registered first, which stays the active one.
  EXPECT_EQ(first.Messages().size(), kMessages);
  EXPECT_EQ(second.Messages().size(), 0U);
  first_client.Close();
  second_client.Close();
}

TEST(AmqpMessageHeaders, TheBrokerPrefersTheConsumerWithTheHigherXPriority) {
  constexpr std::size_t kMessages = 20;
  const QueueSpec queue{.name = UniqueName("consumer-priority")};
  AmqpClient client{TestOptions()};
  Inbox low;
  Inbox high;
  // The low one registers first: without priorities it would get about half.
  auto a = client.SubscribeToQueue(queue, low.Recorder(), {.prefetch = 100});
  Ready(a);
  auto b = client.SubscribeToQueue(queue, high.Recorder(), {.prefetch = 100, .priority = 10});
  Ready(b);
  for (std::size_t i = 0; i < kMessages; ++i) {
    auto published = client.PublishToQueue(queue, {.body = std::to_string(i)});
    Ready(published);
  }
  ASSERT_TRUE(WaitUntil([&] { return low.Messages().size() + high.Messages().size() >= kMessages; },
                        kWait));
  EXPECT_EQ(high.Messages().size(), kMessages);
  EXPECT_EQ(low.Messages().size(), 0U);
  client.Close();
}

}  // namespace
}  // namespace cppblog::messaging
