#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "test_client.hpp"

namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{20};

MessagingErrorKind ErrorKindOf(std::future<void> future, std::string* what = nullptr) {
  if (future.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "no result";
    return MessagingErrorKind::kTimeout;
  }
  try {
    future.get();
  } catch (const MessagingError& e) {
    if (what != nullptr) *what = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "expected a MessagingError";
  return MessagingErrorKind::kTimeout;
}

std::string StringHeader(const Message& m, const std::string& key) {
  const auto it = m.headers.find(key);
  if (it == m.headers.end()) return {};
  const auto* s = std::get_if<std::string>(&it->second);
  return s ? *s : std::string{};
}

// The sequence of states of a client that connects and is closed: connected, then closed,
// each reported once (the unit test covers a client that never connects).
TEST(AmqpClientIntegration, ReportsConnectedThenClosedThroughTheCallback) {
  std::mutex mutex;
  std::vector<ConnectionState> seen;
  {
    AmqpClientOptions options = TestOptions();
    options.on_state_change = [&](ConnectionState state) {
      const std::lock_guard lock(mutex);
      seen.push_back(state);
    };
    AmqpClient client{options};
    ASSERT_TRUE(WaitUntil([&] { return client.State() == ConnectionState::kConnected; },
                          std::chrono::duration_cast<std::chrono::milliseconds>(kWait)));
  }
  const std::lock_guard lock(mutex);
  EXPECT_EQ(seen,
            (std::vector<ConnectionState>{ConnectionState::kConnected, ConnectionState::kClosed}));
}

// --- (a) round trips ---------------------------------------------------------------------

TEST(AmqpClientIntegration, PublishToQueueRoundTripKeepsProperties) {
  const std::string queue = UniqueName("roundtrip");
  Inbox inbox;
  AmqpClient client{TestOptions()};
  auto subscribed = client.SubscribeToQueue({.name = queue}, inbox.Recorder(), {});
  Ready(subscribed);

  auto published = client.PublishToQueue(
      {.name = queue}, {.body = R"({"accountId":"10000"})",
                        .message_id = "m-1",
                        .correlation_id = "c-1",
                        .headers = {{"origin", std::string("test")}, {"n", std::int64_t{7}}}});
  Ready(published);

  ASSERT_TRUE(inbox.WaitFor(1));
  const Message m = inbox.Messages().front();
  EXPECT_EQ(m.body, R"({"accountId":"10000"})");
  EXPECT_EQ(m.content_type, "application/json");
  EXPECT_EQ(m.message_id, "m-1");
  EXPECT_EQ(m.correlation_id, "c-1");
  EXPECT_EQ(StringHeader(m, "origin"), "test");
  EXPECT_EQ(std::get<std::int64_t>(m.headers.at("n")), 7);
  EXPECT_TRUE(m.persistent);
  EXPECT_EQ(m.exchange, "");
  EXPECT_EQ(m.routing_key, queue);
  EXPECT_EQ(m.retry_count, 0u);
}

TEST(AmqpClientIntegration, DirectExchangeRoundTripWithServerNamedQueue) {
  const ExchangeSpec exchange{.name = UniqueName("direct"), .type = ExchangeType::kDirect};
  Inbox inbox;
  AmqpClient client{TestOptions()};
  auto subscribed = client.Subscribe(exchange, {"green"}, {}, inbox.Recorder(), {});
  Ready(subscribed);

  auto unmatched = client.Publish(exchange, "red", {.body = "red"});
  EXPECT_EQ(ErrorKindOf(std::move(unmatched)), MessagingErrorKind::kUnroutable);
  auto matched = client.Publish(exchange, "green", {.body = "green"});
  Ready(matched);

  ASSERT_TRUE(inbox.WaitFor(1));
  EXPECT_EQ(inbox.Messages().front().body, "green");
  EXPECT_EQ(inbox.Messages().front().exchange, exchange.name);
  EXPECT_EQ(inbox.Messages().front().routing_key, "green");
}

TEST(AmqpClientIntegration, FanoutExchangeReachesEverySubscriber) {
  const ExchangeSpec exchange{.name = UniqueName("fanout"), .type = ExchangeType::kFanout};
  Inbox first;
  Inbox second;
  AmqpClient client{TestOptions()};
  auto s1 = client.Subscribe(exchange, {}, {}, first.Recorder(), {});
  auto s2 = client.Subscribe(exchange, {}, {}, second.Recorder(), {});
  Ready(s1);
  Ready(s2);

  auto published = client.Publish(exchange, "", {.body = "to all"});
  Ready(published);

  ASSERT_TRUE(first.WaitFor(1));
  ASSERT_TRUE(second.WaitFor(1));
  EXPECT_EQ(first.Messages().front().body, "to all");
  EXPECT_EQ(second.Messages().front().body, "to all");
}

TEST(AmqpClientIntegration, TopicExchangeMatchesWildcards) {
  const ExchangeSpec exchange{.name = UniqueName("topic"), .type = ExchangeType::kTopic};
  Inbox inbox;
  AmqpClient client{TestOptions()};
  auto subscribed =
      client.Subscribe(exchange, {"account.*.vip", "audit.#"}, {}, inbox.Recorder(), {});
  Ready(subscribed);

  EXPECT_EQ(ErrorKindOf(client.Publish(exchange, "account.10000.normal", {.body = "no"})),
            MessagingErrorKind::kUnroutable);
  EXPECT_EQ(ErrorKindOf(client.Publish(exchange, "account.vip", {.body = "no"})),
            MessagingErrorKind::kUnroutable);
  auto star = client.Publish(exchange, "account.10000.vip", {.body = "star"});
  auto hash = client.Publish(exchange, "audit.a.b.c", {.body = "hash"});
  auto hash_empty = client.Publish(exchange, "audit", {.body = "hash-empty"});
  Ready(star);
  Ready(hash);
  Ready(hash_empty);

  ASSERT_TRUE(inbox.WaitFor(3));
  std::set<std::string> bodies;
  for (const Message& m : inbox.Messages()) bodies.insert(m.body);
  EXPECT_EQ(bodies, (std::set<std::string>{"star", "hash", "hash-empty"}));
}

TEST(AmqpClientIntegration, HeadersExchangeMatchesBindingArguments) {
  const ExchangeSpec exchange{.name = UniqueName("headers"), .type = ExchangeType::kHeaders};
  Inbox inbox;
  ConsumerOptions options;
  options.binding_arguments = {{"x-match", std::string("all")}, {"kind", std::string("vip")}};
  AmqpClient client{TestOptions()};
  auto subscribed = client.Subscribe(exchange, {}, {}, inbox.Recorder(), options);
  Ready(subscribed);

  EXPECT_EQ(ErrorKindOf(client.Publish(exchange, "",
                                       {.body = "other", .headers = {{"kind", std::string("x")}}})),
            MessagingErrorKind::kUnroutable);
  auto vip =
      client.Publish(exchange, "", {.body = "vip", .headers = {{"kind", std::string("vip")}}});
  Ready(vip);

  ASSERT_TRUE(inbox.WaitFor(1));
  EXPECT_EQ(inbox.Messages().front().body, "vip");
}

TEST(AmqpClientIntegration, NamedDurableQueueBoundToExchange) {
  const ExchangeSpec exchange{.name = UniqueName("bus"), .type = ExchangeType::kTopic};
  const std::string queue = UniqueName("bus-queue");
  Inbox inbox;
  AmqpClient client{TestOptions()};
  auto subscribed = client.Subscribe(exchange, {"#"}, {.name = queue}, inbox.Recorder(), {});
  Ready(subscribed);

  auto published = client.Publish(exchange, "any.thing", {.body = "event"});
  Ready(published);

  ASSERT_TRUE(inbox.WaitFor(1));
  EXPECT_EQ(inbox.Messages().front().body, "event");
  auto info = client.InspectQueue(queue);
  ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(info.get().consumers, 1u);
}

TEST(AmqpClientIntegration, PublishToExchangeWithoutQueuesIsUnroutable) {
  const ExchangeSpec exchange{.name = UniqueName("empty"), .type = ExchangeType::kFanout};
  std::string what;
  AmqpClient client{TestOptions()};
  EXPECT_EQ(ErrorKindOf(client.Publish(exchange, "", {.body = "lost"}), &what),
            MessagingErrorKind::kUnroutable);
  EXPECT_NE(what.find(exchange.name), std::string::npos) << what;
}

TEST(AmqpClientIntegration, ThousandsOfPipelinedPublishesAllConfirm) {
  const std::string queue = UniqueName("pipelined");
  AmqpClient client{TestOptions()};
  constexpr int kCount = 5000;
  std::vector<std::future<void>> confirms;
  confirms.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    confirms.push_back(client.PublishToQueue({.name = queue}, {.body = std::to_string(i)}));
  }
  for (auto& confirm : confirms) Ready(confirm);

  auto info = client.InspectQueue(queue);
  ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(info.get().messages, static_cast<std::uint32_t>(kCount));
}

// --- (b) work queue ----------------------------------------------------------------------

TEST(AmqpClientIntegration, WorkQueueSplitsFourMessagesTwoAndTwo) {
  const std::string queue = UniqueName("work");
  std::mutex mutex;
  std::condition_variable cv;
  int arrivals = 0;
  std::map<int, int> handled;  // consumer -> messages
  // Each handler holds its message until the other consumer holds one too, so with prefetch 1
  // neither can take a second message while the other is idle.
  const auto handler_for = [&](int consumer) {
    return [&, consumer](const Message&) {
      std::unique_lock lock(mutex);
      const int target = (arrivals / 2 + 1) * 2;
      ++arrivals;
      cv.notify_all();
      cv.wait_for(lock, kWait, [&] { return arrivals >= target; });
      ++handled[consumer];
      cv.notify_all();
      return Outcome::kAck;
    };
  };
  AmqpClient first{TestOptions()};
  auto s1 = first.SubscribeToQueue({.name = queue}, handler_for(1), {.prefetch = 1});
  AmqpClient second{TestOptions()};
  auto s2 = second.SubscribeToQueue({.name = queue}, handler_for(2), {.prefetch = 1});
  Ready(s1);
  Ready(s2);

  AmqpClient publisher{TestOptions()};
  for (int i = 0; i < 4; ++i) {
    auto published = publisher.PublishToQueue({.name = queue}, {.body = std::to_string(i)});
    Ready(published);
  }

  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return handled[1] + handled[2] == 4; }));
  EXPECT_EQ(handled[1], 2);
  EXPECT_EQ(handled[2], 2);
}

// --- (e) retries and dead letters --------------------------------------------------------

TEST(AmqpClientIntegration, FailingHandlerIsRetriedThenDeadLetteredWhileOthersFlow) {
  Inbox dead;
  const std::string queue = UniqueName("orders");
  std::mutex mutex;
  std::map<std::string, int> attempts;
  Inbox done;
  AmqpClient client{TestOptions()};
  auto subscribed =
      client.SubscribeToQueue({.name = queue},
                              [&](const Message& m) {
                                {
                                  std::lock_guard lock(mutex);
                                  ++attempts[m.body];
                                }
                                if (m.body == "not json")
                                  throw PoisonMessage("invalid JSON at offset 0");
                                if (m.body == "transient")
                                  throw std::runtime_error("database unavailable");
                                done.Add(m);
                                return Outcome::kAck;
                              },
                              {.max_retries = 2, .retry_backoff = std::chrono::milliseconds{20}});
  Ready(subscribed);
  auto dlq = client.SubscribeToQueue({.name = queue + ".dlq"}, dead.Recorder(), {});
  Ready(dlq);

  for (const char* body : {"not json", "transient", "ok-1", "ok-2"}) {
    auto published = client.PublishToQueue({.name = queue}, {.body = body});
    Ready(published);
  }

  ASSERT_TRUE(done.WaitFor(2));
  ASSERT_TRUE(dead.WaitFor(2));
  std::map<std::string, Message> by_body;
  for (const Message& m : dead.Messages()) by_body[m.body] = m;
  ASSERT_EQ(by_body.count("not json"), 1u);
  ASSERT_EQ(by_body.count("transient"), 1u);
  EXPECT_NE(StringHeader(by_body["not json"], "x-death-reason").find("invalid JSON"),
            std::string::npos);
  const std::string reason = StringHeader(by_body["transient"], "x-death-reason");
  EXPECT_NE(reason.find("database unavailable"), std::string::npos) << reason;
  EXPECT_NE(reason.find("3 attempts"), std::string::npos) << reason;
  EXPECT_EQ(StringHeader(by_body["transient"], "x-original-routing-key"), queue);
  EXPECT_EQ(StringHeader(by_body["transient"], "x-original-exchange"), "");
  EXPECT_EQ(StringHeader(by_body["transient"], "x-original-queue"), queue);
  std::lock_guard lock(mutex);
  EXPECT_EQ(attempts["not json"], 1);   // poison: no retry
  EXPECT_EQ(attempts["transient"], 3);  // first try + 2 retries
  EXPECT_EQ(attempts["ok-1"], 1);
}

TEST(AmqpClientIntegration, RetriedMessageKeepsItsFirstRouting) {
  const ExchangeSpec exchange{.name = UniqueName("retry-x"), .type = ExchangeType::kDirect};
  const std::string queue = UniqueName("retry-q");
  Inbox seen;
  AmqpClient client{TestOptions()};
  auto subscribed = client.Subscribe(exchange, {"k"}, {.name = queue},
                                     [&](const Message& m) {
                                       seen.Add(m);
                                       return m.retry_count == 0 ? Outcome::kRetry : Outcome::kAck;
                                     },
                                     {.retry_backoff = std::chrono::milliseconds{10}});
  Ready(subscribed);

  auto published = client.Publish(exchange, "k", {.body = "once more"});
  Ready(published);

  ASSERT_TRUE(seen.WaitFor(2));
  const Message retry = seen.Messages()[1];
  EXPECT_EQ(retry.retry_count, 1u);
  EXPECT_EQ(retry.exchange, exchange.name);
  EXPECT_EQ(retry.routing_key, "k");
}

// --- (f) conflicting declarations ---------------------------------------------------------

TEST(AmqpClientIntegration, ConflictingQueueDeclarationNamesQueueAndArgument) {
  const std::string queue = UniqueName("vip_queue");
  AmqpClient client{TestOptions()};
  auto first = client.PublishToQueue({.name = queue, .durable = true}, {.body = "1"});
  Ready(first);

  std::string what;
  EXPECT_EQ(
      ErrorKindOf(client.PublishToQueue({.name = queue, .durable = false}, {.body = "2"}), &what),
      MessagingErrorKind::kPreconditionFailed);
  EXPECT_NE(what.find(queue), std::string::npos) << what;
  EXPECT_NE(what.find("durable"), std::string::npos) << what;

  what.clear();
  try {
    client
        .SubscribeToQueue({.name = queue, .durable = false},
                          [](const Message&) { return Outcome::kAck; }, {})
        .get();
    ADD_FAILURE() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kPreconditionFailed);
    what = e.what();
  }
  EXPECT_NE(what.find(queue), std::string::npos) << what;
  EXPECT_NE(what.find("durable"), std::string::npos) << what;

  // The refused declaration closed a channel; the client reopened it and keeps working.
  auto after = client.PublishToQueue({.name = queue}, {.body = "3"});
  Ready(after);
}

TEST(AmqpClientIntegration, ConflictingExchangeTypeNamesExchangeAndType) {
  const std::string name = UniqueName("typed");
  const std::string queue = UniqueName("typed-q");
  Inbox inbox;
  AmqpClient client{TestOptions()};
  auto subscribed = client.Subscribe({.name = name, .type = ExchangeType::kDirect}, {"k"},
                                     {.name = queue}, inbox.Recorder(), {});
  Ready(subscribed);

  std::string what;
  EXPECT_EQ(
      ErrorKindOf(client.Publish({.name = name, .type = ExchangeType::kTopic}, "k", {.body = "x"}),
                  &what),
      MessagingErrorKind::kPreconditionFailed);
  EXPECT_NE(what.find(name), std::string::npos) << what;
  EXPECT_NE(what.find("type"), std::string::npos) << what;
}

// --- (h) close drains ----------------------------------------------------------------------

TEST(AmqpClientIntegration, CloseLetsTheHandlerInFlightFinishAndAcksIt) {
  const std::string queue = UniqueName("drain");
  AmqpClient observer{TestOptions()};
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> finished{false};
  auto consumer = std::make_unique<AmqpClient>(TestOptions());
  auto subscribed = consumer->SubscribeToQueue({.name = queue},
                                               [&](const Message&) {
                                                 entered.set_value();
                                                 released.wait();
                                                 finished = true;
                                                 return Outcome::kAck;
                                               },
                                               {});
  Ready(subscribed);
  auto published = observer.PublishToQueue({.name = queue}, {.body = "slow"});
  Ready(published);
  ASSERT_EQ(entered.get_future().wait_for(kWait), std::future_status::ready);

  auto closed = std::async(std::launch::async, [&] { consumer->Close(std::chrono::seconds{20}); });
  // Close first stops consuming: the broker sees no consumer while the handler still runs.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto info = observer.InspectQueue(queue);
        return info.wait_for(kWait) == std::future_status::ready && info.get().consumers == 0;
      },
      kWait));
  EXPECT_FALSE(finished);
  release.set_value();
  ASSERT_EQ(closed.wait_for(kWait), std::future_status::ready);

  EXPECT_TRUE(finished);
  auto info = observer.InspectQueue(queue);
  ASSERT_EQ(info.wait_for(kWait), std::future_status::ready);
  const QueueInfo after = info.get();
  EXPECT_EQ(after.messages, 0u);  // acked, not requeued
  EXPECT_EQ(after.consumers, 0u);
}

}  // namespace
}  // namespace cppblog::messaging
