// Quorum queues (issue 11, item 2; docs/decisions/0011) on the test broker: retries and
// dead-lettering keep working, the dead-letter queue has the queue's type, and a declaration
// whose type conflicts with the existing queue names both types and the setting to change.
#include <future>
#include <map>
#include <mutex>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "test_client.hpp"

namespace cppblog::messaging {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 30s;
constexpr const char* kSetting = "vip_queue_type (env VIP_QUEUE_TYPE)";

void Ready(std::future<void> future) {
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  future.get();
}

// The MessagingError a future fails with ("" and a test failure when it does not fail).
std::string ErrorOf(std::future<void> future, MessagingErrorKind expected) {
  if (future.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "no result";
    return {};
  }
  try {
    future.get();
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a MessagingError";
  return {};
}

TEST(AmqpQuorumIntegration, PoisonAndRetriesAreHandledOnAQuorumQueue) {
  const QueueSpec queue{
      .name = UniqueName("quorum-vip"), .type = QueueType::kQuorum, .type_setting = kSetting};
  AmqpClient client{TestOptions()};
  std::mutex mutex;
  std::map<std::string, int> attempts;
  Inbox done;
  Inbox dead;
  Ready(client.SubscribeToQueue(queue,
                                [&](const Message& m) {
                                  int attempt = 0;
                                  {
                                    std::lock_guard lock(mutex);
                                    attempt = ++attempts[m.body];
                                  }
                                  if (m.body == "poison")
                                    throw PoisonMessage("not a VIP notification");
                                  if (m.body == "flaky" && attempt < 3) return Outcome::kRetry;
                                  if (m.body == "broken") throw std::runtime_error("always fails");
                                  done.Add(m);
                                  return Outcome::kAck;
                                },
                                {.max_retries = 3, .retry_backoff = 10ms}));
  // The dead-letter queue was declared as a quorum queue too: consuming it as a quorum queue
  // works, declaring it as classic is refused.
  const QueueSpec dlq{
      .name = queue.name + ".dlq", .type = QueueType::kQuorum, .type_setting = kSetting};
  Ready(client.SubscribeToQueue(dlq, dead.Recorder(), {}));
  const std::string classic_dlq = ErrorOf(client.PublishToQueue({.name = dlq.name}, {.body = "x"}),
                                          MessagingErrorKind::kPreconditionFailed);
  EXPECT_NE(classic_dlq.find("already has it as a quorum queue"), std::string::npos) << classic_dlq;

  for (const char* body : {"poison", "flaky", "broken", "fine"}) {
    Ready(client.PublishToQueue(queue, {.body = body, .persistent = true}));
  }
  ASSERT_TRUE(done.WaitFor(2, kWait));
  ASSERT_TRUE(dead.WaitFor(2, kWait));
  std::map<std::string, int> dead_bodies;
  for (const Message& m : dead.Messages()) ++dead_bodies[m.body];
  EXPECT_EQ(dead_bodies, (std::map<std::string, int>{{"broken", 1}, {"poison", 1}}));
  std::map<std::string, int> done_bodies;
  for (const Message& m : done.Messages()) ++done_bodies[m.body];
  EXPECT_EQ(done_bodies, (std::map<std::string, int>{{"fine", 1}, {"flaky", 1}}));
  std::lock_guard lock(mutex);
  EXPECT_EQ(attempts["poison"], 1);  // never retried
  EXPECT_EQ(attempts["flaky"], 3);   // two retries, then acked
  EXPECT_EQ(attempts["broken"], 4);  // first try + max_retries, then dead-lettered
  EXPECT_EQ(attempts["fine"], 1);
}

TEST(AmqpQuorumIntegration, ATypeConflictNamesBothTypesAndTheSetting) {
  AmqpClient client{TestOptions()};
  const std::string classic = UniqueName("was-classic");
  Ready(client.PublishToQueue({.name = classic}, {.body = "1"}));
  const std::string to_quorum =
      ErrorOf(client.SubscribeToQueue(
                  {.name = classic, .type = QueueType::kQuorum, .type_setting = kSetting},
                  [](const Message&) { return Outcome::kAck; }, {}),
              MessagingErrorKind::kPreconditionFailed);
  EXPECT_NE(to_quorum.find("queue '" + classic +
                           "' declared as a quorum queue, but the broker "
                           "already has it as a classic queue"),
            std::string::npos)
      << to_quorum;
  EXPECT_NE(to_quorum.find("set vip_queue_type (env VIP_QUEUE_TYPE) to classic"), std::string::npos)
      << to_quorum;
  EXPECT_NE(to_quorum.find("PRECONDITION_FAILED"), std::string::npos) << to_quorum;

  const std::string quorum = UniqueName("was-quorum");
  Ready(client.PublishToQueue(
      {.name = quorum, .type = QueueType::kQuorum, .type_setting = kSetting}, {.body = "1"}));
  const std::string to_classic =
      ErrorOf(client.PublishToQueue({.name = quorum, .type_setting = kSetting}, {.body = "2"}),
              MessagingErrorKind::kPreconditionFailed);
  EXPECT_NE(to_classic.find("declared as a classic queue, but the broker already has it as a "
                            "quorum queue"),
            std::string::npos)
      << to_classic;
  EXPECT_NE(to_classic.find("to quorum"), std::string::npos) << to_classic;

  // The refused declarations closed a channel; the client reopened it and keeps working.
  Ready(client.PublishToQueue({.name = classic}, {.body = "3"}));
}

}  // namespace
}  // namespace cppblog::messaging
