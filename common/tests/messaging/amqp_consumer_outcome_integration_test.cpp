#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "log_capture.hpp"
#include "test_client.hpp"

// How the consumer turns handler outcomes into acks, requeues and dead letters, on the real
// broker of ./dev test.
namespace cppblog::messaging {
namespace {

std::string StringHeader(const Message& m, const std::string& key) {
  const auto it = m.headers.find(key);
  if (it == m.headers.end()) return {};
  const auto* s = std::get_if<std::string>(&it->second);
  return s ? *s : std::string{};
}

TEST(AmqpConsumerOutcome, RequeueCountsNoRetryAndNeverDeadLetters) {
  constexpr int kRequeues = 6;  // far more than max_retries
  const std::string queue = UniqueName("requeue");
  std::atomic<int> attempts{0};
  Inbox done;
  Inbox dead;
  AmqpClient client{TestOptions()};
  auto subscribed =
      client.SubscribeToQueue({.name = queue},
                              [&](const Message& m) {
                                if (attempts.fetch_add(1) < kRequeues) return Outcome::kRequeue;
                                done.Add(m);
                                return Outcome::kAck;
                              },
                              {.max_retries = 1, .retry_backoff = std::chrono::milliseconds{10}});
  Ready(subscribed);
  auto dlq = client.SubscribeToQueue({.name = queue + ".dlq"}, dead.Recorder(), {});
  Ready(dlq);

  auto published =
      client.PublishToQueue({.name = queue}, {.body = "store down", .message_id = "r-1"});
  Ready(published);

  ASSERT_TRUE(done.WaitFor(1));
  const Message m = done.Messages().front();
  EXPECT_EQ(attempts.load(), kRequeues + 1);
  EXPECT_EQ(m.retry_count, 0U);
  EXPECT_EQ(m.message_id, "r-1");
  EXPECT_EQ(m.body, "store down");
  EXPECT_EQ(m.routing_key, queue);
  EXPECT_EQ(client.InspectQueue(queue + ".dlq").get().messages, 0U);
  EXPECT_TRUE(dead.Messages().empty());
  // Nothing left behind: the requeued copies were each acked once taken.
  EXPECT_EQ(client.InspectQueue(queue).get().messages, 0U);
}

TEST(AmqpConsumerOutcome, DeathReasonCarriesTheHandlersErrorTextBoundedAndEscaped) {
  const std::string queue = UniqueName("reason");
  Inbox dead;
  AmqpClient client{TestOptions()};
  const std::string error =
      "offer store /data: commit offers: No space left on device\n"
      "CRIT forged line " +
      std::string(5000, 'x');
  auto subscribed = client.SubscribeToQueue(
      {.name = queue}, [&](const Message&) -> Outcome { throw std::runtime_error(error); },
      {.max_retries = 1, .retry_backoff = std::chrono::milliseconds{10}});
  Ready(subscribed);
  auto dlq = client.SubscribeToQueue({.name = queue + ".dlq"}, dead.Recorder(), {});
  Ready(dlq);

  auto published = client.PublishToQueue({.name = queue}, {.body = "b"});
  Ready(published);

  ASSERT_TRUE(dead.WaitFor(1));
  const std::string reason = StringHeader(dead.Messages().front(), "x-death-reason");
  EXPECT_NE(reason.find("gave up after 2 attempts: offer store /data: commit offers: No space "
                        "left on device\\nCRIT forged line xxx"),
            std::string::npos)
      << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos);
  EXPECT_LE(reason.size(), 600U);
  EXPECT_NE(reason.find("(" + std::to_string(error.size()) + " bytes)"), std::string::npos)
      << reason;
}

TEST(AmqpConsumerOutcome, ARetryWithoutAnErrorSaysSo) {
  const std::string queue = UniqueName("reason");
  Inbox dead;
  AmqpClient client{TestOptions()};
  auto subscribed =
      client.SubscribeToQueue({.name = queue}, [](const Message&) { return Outcome::kRetry; },
                              {.max_retries = 0, .retry_backoff = std::chrono::milliseconds{10}});
  Ready(subscribed);
  auto dlq = client.SubscribeToQueue({.name = queue + ".dlq"}, dead.Recorder(), {});
  Ready(dlq);

  auto published = client.PublishToQueue({.name = queue}, {.body = "b"});
  Ready(published);

  ASSERT_TRUE(dead.WaitFor(1));
  EXPECT_EQ(StringHeader(dead.Messages().front(), "x-death-reason"),
            "gave up after 1 attempts: the handler asked for a retry without saying why");
}

// The client's own lines about a message (its retry, its dead letter), written on the I/O thread,
// carry the message's log fields: its id, its queue, and the ids of its traceparent header.
TEST(AmqpConsumerOutcome, RetryAndDeadLetterLinesCarryTheMessagesTraceAndIds) {
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string span_id = "00f067aa0ba902b7";
  const std::string queue = UniqueName("fields");
  const LogCapture log;  // before the client, gone after it
  Inbox dead;
  {
    AmqpClient client{TestOptions()};
    auto subscribed =
        client.SubscribeToQueue({.name = queue}, [](const Message&) { return Outcome::kRetry; },
                                {.max_retries = 1, .retry_backoff = std::chrono::milliseconds{10}});
    Ready(subscribed);
    auto dlq = client.SubscribeToQueue({.name = queue + ".dlq"}, dead.Recorder(), {});
    Ready(dlq);
    auto published = client.PublishToQueue(
        {.name = queue}, {.body = "b",
                          .message_id = "traced-1",
                          .headers = {{"traceparent", "00-" + trace_id + "-" + span_id + "-01"}}});
    Ready(published);
    ASSERT_TRUE(dead.WaitFor(1));
  }
  const std::string fields =
      " trace_id=" + trace_id + " span_id=" + span_id + " message_id=traced-1 queue=" + queue;
  const std::string retry = log.Find("amqp consumer: retry 1 of 1");
  const std::string dead_letter = log.Find("amqp consumer: dead-lettering");
  EXPECT_NE(retry.find(fields), std::string::npos) << retry;
  EXPECT_NE(dead_letter.find(fields), std::string::npos) << dead_letter;
}

}  // namespace
}  // namespace cppblog::messaging
