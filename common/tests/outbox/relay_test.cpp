#include "cppblog/outbox/relay.hpp"

#include <array>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/trace/trace_context.hpp"

#include "broker_test_env.hpp"
#include "outbox_test_support.hpp"

namespace cppblog::outbox {
namespace {

using namespace std::chrono_literals;

constexpr auto kDeadline = 10s;

bool WaitUntil(const std::function<bool()>& condition) {
  return messaging::WaitUntil(condition, kDeadline);
}

// A MessagePublisher that records every publish (the relay uses the callback form) and
// settles it as `settle` says: confirm, fail, or leave it pending (its callback is kept).
struct Publisher final : messaging::MessagePublisher {
  enum class Settle { kConfirm, kFail, kPending, kRefuse };

  using MessagePublisher::Publish;
  using MessagePublisher::PublishToQueue;
  std::future<void> Publish(const messaging::ExchangeSpec&, std::string,
                            messaging::Message) override {
    throw std::logic_error("the relay publishes with a callback");
  }
  std::future<void> PublishToQueue(const messaging::QueueSpec&, messaging::Message) override {
    throw std::logic_error("the relay publishes with a callback");
  }
  void Publish(const messaging::ExchangeSpec& exchange, std::string routing_key,
               messaging::Message message, messaging::PublishCallback on_done) override {
    Record(exchange.name, std::move(routing_key), std::move(message), std::move(on_done));
  }
  void PublishToQueue(const messaging::QueueSpec& queue, messaging::Message message,
                      messaging::PublishCallback on_done) override {
    Record(queue.name, "", std::move(message), std::move(on_done));
  }

  // `name`: the queue's, or the exchange's (with its routing key).
  void Record(std::string name, std::string routing_key, messaging::Message message,
              messaging::PublishCallback on_done) {
    const std::lock_guard lock{mutex};
    queues.push_back(std::move(name));
    routing_keys.push_back(std::move(routing_key));
    messages.push_back(std::move(message));
    const logging::Fields now = logging::CurrentFields();
    log_fields.push_back({std::string(now.trace_id), std::string(now.span_id),
                          std::string(now.message_id), std::string(now.queue)});
    const Settle how = plan.empty() ? fallback : plan.front();
    if (!plan.empty()) plan.erase(plan.begin());
    if (how == Settle::kConfirm) on_done(nullptr);
    if (how == Settle::kFail) {
      const messaging::MessagingError nack{messaging::MessagingErrorKind::kNacked, "nack"};
      on_done(&nack);
    }
    if (how == Settle::kPending) pending.push_back(std::move(on_done));
    if (how == Settle::kRefuse) {
      const messaging::MessagingError refusal{
          messaging::MessagingErrorKind::kPreconditionFailed,
          "declare queue 'vip_queue-test': PRECONDITION_FAILED - inequivalent arg 'durable' for "
          "queue 'vip_queue-test' in vhost '/': received 'true' but current is 'false'"};
      on_done(&refusal);
    }
  }

  std::size_t Published() {
    const std::lock_guard lock{mutex};
    return messages.size();
  }
  std::vector<messaging::Message> Messages() {
    const std::lock_guard lock{mutex};
    return messages;
  }

  std::mutex mutex;
  std::vector<Settle> plan;  // per publish, in order; then `fallback`
  Settle fallback = Settle::kConfirm;
  std::vector<std::string> queues;  // or exchanges
  std::vector<std::string> routing_keys;
  std::vector<messaging::Message> messages;
  std::vector<messaging::PublishCallback> pending;
  // The log fields set while each publish was made: trace_id, span_id, message_id, queue.
  std::vector<std::array<std::string, 4>> log_fields;
};

RelayOptions Options() {
  return {.destination = messaging::QueueSpec{.name = "vip_queue-test"},
          .retry_min = 1ms,
          .retry_max = 5ms,
          .stop_wait = 0ms};
}

TEST(Relay, PublishesEntriesInOrderAndDeletesThemOnConfirm) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  static_cast<void>(AppendAndWait(outbox, "id-1", R"({"n":1})"));
  static_cast<void>(AppendAndWait(outbox, "id-2", R"({"n":2})"));
  Publisher publisher;

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return outbox.Size() == 0; }));
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 2U);
  EXPECT_EQ(messages[0].message_id, "id-1");
  EXPECT_EQ(messages[0].body, R"({"n":1})");
  EXPECT_EQ(messages[0].content_type, "application/json");
  EXPECT_TRUE(messages[0].persistent);
  EXPECT_EQ(messages[1].message_id, "id-2");
  EXPECT_EQ(publisher.queues[0], "vip_queue-test");
  EXPECT_EQ(relay.Confirmed(), 2U);
}

TEST(Relay, WhatAPublishLogsNamesItsMessageQueueAndSpan) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  std::promise<void> appended;
  outbox.AppendAsync({.message_id = "id-1",
                      .body = R"({"n":1})",
                      .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                     [&](std::exception_ptr, std::uint64_t) { appended.set_value(); });
  appended.get_future().get();
  static_cast<void>(AppendAndWait(outbox, "id-2", R"({"n":2})"));  // no trace
  Publisher publisher;

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return outbox.Size() == 0; }));
  const std::lock_guard lock{publisher.mutex};
  ASSERT_EQ(publisher.log_fields.size(), 2U);
  const auto published = trace::ParseTraceparent(
      std::get<std::string>(publisher.messages[0].headers.at("traceparent")));
  ASSERT_TRUE(published.has_value());
  // The publish's own span, as the header carries it.
  EXPECT_EQ(publisher.log_fields[0],
            (std::array<std::string, 4>{"4bf92f3577b34da6a3ce929d0e0e4736",
                                        trace::SpanIdHex(*published), "id-1", "vip_queue-test"}));
  EXPECT_EQ(publisher.log_fields[1],
            (std::array<std::string, 4>{"", "", "id-2", "vip_queue-test"}));
}

TEST(Relay, PublishIsASpanOfTheTraceTheEntryKept) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  std::promise<void> appended;
  outbox.AppendAsync({.message_id = "id-1",
                      .body = R"({"n":1})",
                      .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                     [&](std::exception_ptr, std::uint64_t) { appended.set_value(); });
  appended.get_future().get();
  static_cast<void>(AppendAndWait(outbox, "id-2", R"({"n":2})"));  // no trace
  Publisher publisher;

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return outbox.Size() == 0; }));
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 2U);
  const auto& header = messages[0].headers.at("traceparent");
  const auto span = trace::ParseTraceparent(std::get<std::string>(header));
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(trace::TraceIdHex(*span), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(trace::SpanIdHex(*span), "00f067aa0ba902b7");
  EXPECT_FALSE(messages[1].headers.contains("traceparent"));
}

TEST(Relay, PublishCarriesTheTracestateTheEntryKept) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  std::promise<void> appended;
  outbox.AppendAsync({.message_id = "id-1",
                      .body = R"({"n":1})",
                      .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                      .tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
                     [&](std::exception_ptr, std::uint64_t) { appended.set_value(); });
  appended.get_future().get();
  std::promise<void> second_appended;  // a trace without a tracestate
  outbox.AppendAsync({.message_id = "id-2",
                      .body = R"({"n":2})",
                      .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                     [&](std::exception_ptr, std::uint64_t) { second_appended.set_value(); });
  second_appended.get_future().get();
  Publisher publisher;

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return outbox.Size() == 0; }));
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 2U);
  EXPECT_EQ(std::get<std::string>(messages[0].headers.at("tracestate")),
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  EXPECT_TRUE(messages[1].headers.contains("traceparent"));
  EXPECT_FALSE(messages[1].headers.contains("tracestate"));  // only when there is one
}

TEST(Relay, PublishesEntriesAppendedWhileRunning) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  Publisher publisher;
  const Relay relay{outbox, publisher, Options()};

  static_cast<void>(AppendAndWait(outbox, "late-1", "b"));

  ASSERT_TRUE(WaitUntil([&] { return relay.Confirmed() == 1; }));
  outbox.FlushRemovals();  // the relay queues deletions without waiting for them
  EXPECT_EQ(outbox.Size(), 0U);
  EXPECT_EQ(publisher.Messages().at(0).message_id, "late-1");
}

TEST(Relay, KeepsAFailedEntryAndPublishesItAgain) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  static_cast<void>(AppendAndWait(outbox, "id-1", "b"));
  Publisher publisher;
  publisher.plan = {Publisher::Settle::kFail, Publisher::Settle::kFail};

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return relay.Confirmed() == 1; }));
  outbox.FlushRemovals();  // the relay queues deletions without waiting for them
  EXPECT_EQ(outbox.Size(), 0U);
  EXPECT_EQ(relay.Failed(), 2U);
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 3U);
  for (const auto& message : messages) EXPECT_EQ(message.message_id, "id-1");
}

TEST(Relay, AQueueDeclaredOtherwiseIsReportedWithTheSettingThatMatchesUntilAConfirm) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  static_cast<void>(AppendAndWait(outbox, "id-1", "b"));
  Publisher publisher;
  publisher.plan = {Publisher::Settle::kRefuse};
  publisher.fallback = Publisher::Settle::kPending;
  auto options = Options();
  // The application names the setting that would match (the accountservice: compat_goblog_p9).
  options.refusal_hint = [](const messaging::MessagingError& refusal) {
    return std::string(refusal.what()).find("current is 'false'") != std::string::npos
               ? "set compat_goblog_p9=true"
               : "";
  };

  const Relay relay{outbox, publisher, options};

  ASSERT_TRUE(WaitUntil([&] { return relay.Refusal().has_value(); }));
  EXPECT_THAT(*relay.Refusal(), ::testing::HasSubstr("vip_queue-test"));
  EXPECT_THAT(*relay.Refusal(), ::testing::HasSubstr("set compat_goblog_p9=true"));

  ASSERT_TRUE(WaitUntil([&] {
    const std::lock_guard lock{publisher.mutex};
    return !publisher.pending.empty();
  }));
  {
    const std::lock_guard lock{publisher.mutex};
    publisher.pending.front()(nullptr);
  }
  ASSERT_TRUE(WaitUntil([&] { return relay.Confirmed() == 1; }));
  EXPECT_EQ(relay.Refusal(), std::nullopt);
}

TEST(Relay, UnconfirmedEntriesStayAndAreRelayedOnTheNextStart) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  static_cast<void>(AppendAndWait(outbox, "id-1", "b1"));
  static_cast<void>(AppendAndWait(outbox, "id-2", "b2"));
  {
    Publisher never_confirms;
    never_confirms.fallback = Publisher::Settle::kPending;
    const Relay relay{outbox, never_confirms, Options()};
    ASSERT_TRUE(WaitUntil([&] { return never_confirms.Published() == 2; }));
  }
  EXPECT_EQ(outbox.Size(), 2U);
  Publisher publisher;

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return outbox.Size() == 0; }));
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 2U);
  EXPECT_EQ(messages[0].message_id, "id-1");
  EXPECT_EQ(messages[1].message_id, "id-2");
}

TEST(Relay, KeepsAtMostTheWindowInFlight) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  for (int i = 0; i < 5; ++i)
    static_cast<void>(AppendAndWait(outbox, "id-" + std::to_string(i), "b"));
  Publisher publisher;
  publisher.fallback = Publisher::Settle::kPending;
  auto options = Options();
  options.window = 3;

  const Relay relay{outbox, publisher, options};

  ASSERT_TRUE(WaitUntil([&] { return publisher.Published() == 3; }));
  {
    const std::lock_guard lock{publisher.mutex};
    publisher.pending.at(0)(nullptr);
  }
  ASSERT_TRUE(WaitUntil([&] { return publisher.Published() == 4; }));
  EXPECT_EQ(publisher.Messages().back().message_id, "id-3");
  outbox.FlushRemovals();        // id-0's deletion was queued before id-3 went out
  EXPECT_EQ(outbox.Size(), 4U);  // id-0 confirmed and deleted
}

TEST(Relay, ARefusalWithoutAHintNamesTheDestinationAndTheBrokersText) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  static_cast<void>(AppendAndWait(outbox, "id-1", "b"));
  Publisher publisher;
  publisher.plan = {Publisher::Settle::kRefuse};
  publisher.fallback = Publisher::Settle::kPending;

  const Relay relay{outbox, publisher, Options()};

  ASSERT_TRUE(WaitUntil([&] { return relay.Refusal().has_value(); }));
  EXPECT_THAT(*relay.Refusal(),
              ::testing::StartsWith("the broker refuses the declaration of vip_queue-test: "));
  EXPECT_THAT(*relay.Refusal(), ::testing::EndsWith("but current is 'false'"));
}

TEST(Relay, PublishesToAnExchangeWithTheRoutingKeyAndContentType) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  static_cast<void>(AppendAndWait(outbox, "id-1", "<order/>"));
  Publisher publisher;
  auto options = Options();
  options.destination =
      ExchangeDestination{.exchange = {.name = "orders", .type = messaging::ExchangeType::kTopic},
                          .routing_key = "order.placed"};
  options.content_type = "application/xml";

  const Relay relay{outbox, publisher, options};

  ASSERT_TRUE(WaitUntil([&] { return relay.Confirmed() == 1; }));
  const std::lock_guard lock{publisher.mutex};
  ASSERT_EQ(publisher.messages.size(), 1U);
  EXPECT_EQ(publisher.queues[0], "orders");
  EXPECT_EQ(publisher.routing_keys[0], "order.placed");
  EXPECT_EQ(publisher.messages[0].content_type, "application/xml");
  EXPECT_TRUE(publisher.messages[0].persistent);
  EXPECT_EQ(publisher.log_fields[0][3], "orders");
}

TEST(Relay, AnAppendInTheCallersTransactionIsRelayedOnceCommittedAndAnAbortedOneNever) {
  const TempDir dir;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  const storage::LmdbDatabase orders = env.OpenDatabase("orders");
  Outbox outbox{env};
  Publisher publisher;
  const Relay relay{outbox, publisher, Options()};
  {
    storage::LmdbTransaction aborted = storage::LmdbTransaction::Write(env);
    aborted.Put(orders, "order-1", "placed");
    static_cast<void>(outbox.Append(aborted, {.message_id = "aborted", .body = "b1"}));
  }  // aborted

  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  txn.Put(orders, "order-2", "placed");
  static_cast<void>(outbox.Append(txn, {.message_id = "committed", .body = "b2"}));
  txn.Commit();  // wakes the relay

  ASSERT_TRUE(WaitUntil([&] { return relay.Confirmed() == 1; }));
  outbox.FlushRemovals();
  EXPECT_EQ(outbox.Size(), 0U);
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].message_id, "committed");
  EXPECT_EQ(messages[0].body, "b2");
}

TEST(Relay, BothWaysInInterleavedArePublishedOnceEachInSequenceOrder) {
  const TempDir dir;
  constexpr int kPerThread = 100;
  storage::LmdbEnvironment env = OpenEnvironment(dir.path());
  Outbox outbox{env};
  Publisher publisher;
  const Relay relay{outbox, publisher, Options()};
  std::mutex sequences_mutex;
  std::map<std::string, std::uint64_t> sequence_of;  // message id -> its sequence
  {
    std::jthread async_appender{[&] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "async-" + std::to_string(i);
        const std::uint64_t sequence = AppendAndWait(outbox, id, "b");
        const std::lock_guard lock{sequences_mutex};
        sequence_of[id] = sequence;
      }
    }};
    std::jthread transaction_appender{[&] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "txn-" + std::to_string(i);
        storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
        const std::uint64_t sequence = outbox.Append(txn, {.message_id = id, .body = "b"});
        txn.Commit();
        const std::lock_guard lock{sequences_mutex};
        sequence_of[id] = sequence;
      }
    }};
  }

  ASSERT_TRUE(WaitUntil([&] { return relay.Confirmed() == 2U * kPerThread; })) << relay.Confirmed();
  const auto messages = publisher.Messages();
  ASSERT_EQ(messages.size(), 2U * kPerThread);  // each once: every publish was confirmed
  std::uint64_t previous = 0;
  for (const auto& message : messages) {
    const std::uint64_t sequence = sequence_of.at(message.message_id);
    EXPECT_GT(sequence, previous) << message.message_id;
    previous = sequence;
  }
  outbox.FlushRemovals();
  EXPECT_EQ(outbox.Size(), 0U);
}

}  // namespace
}  // namespace cppblog::outbox
