#include "cppblog/messaging/amqp_client.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cppblog/messaging/messaging_error.hpp"

namespace cppblog::messaging {
namespace {

// Port 1 on loopback refuses at once: a broker that is down. No broker needed.
constexpr const char* kUnreachable = "amqp://guest:hunter2@127.0.0.1:1/%2F";

TEST(AmqpClient, ConstructorDoesNotThrowForAnUnreachableBroker) {
  const auto start = std::chrono::steady_clock::now();
  AmqpClient client{{.url = kUnreachable}};
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{1});
  EXPECT_EQ(client.State(), ConnectionState::kRecovering);
  client.Close(std::chrono::milliseconds{100});
  EXPECT_EQ(client.State(), ConnectionState::kClosed);
}

TEST(AmqpClient, InvalidUrlThrows) {
  EXPECT_THROW(AmqpClient({.url = "amqp://h:notaport"}), MessagingError);
}

TEST(AmqpClient, DisplayUrlMasksThePassword) {
  AmqpClient client{{.url = kUnreachable}};
  EXPECT_EQ(client.DisplayUrl(), "amqp://guest:***@127.0.0.1:1/%2F");
}

TEST(AmqpClient, MissingPasswordFileThrowsNamingTheFile) {
  try {
    AmqpClient client{{.url = kUnreachable, .password_file = "/nonexistent/amqp-password"}};
    FAIL() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kInvalidOptions);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/amqp-password"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
  }
}

TEST(AmqpClient, PublishBeyondTheBufferFailsAtOnceWhileDisconnected) {
  AmqpClient client{{.url = kUnreachable, .max_outstanding_publishes = 2}};
  auto first = client.PublishToQueue({.name = "q"}, {.body = "1"});
  auto second = client.PublishToQueue({.name = "q"}, {.body = "2"});
  auto third = client.PublishToQueue({.name = "q"}, {.body = "3"});

  ASSERT_EQ(third.wait_for(std::chrono::seconds{1}), std::future_status::ready);
  try {
    third.get();
    FAIL() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kBufferFull);
  }
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds{0}), std::future_status::timeout);
  client.Close(std::chrono::milliseconds{50});
  EXPECT_THROW(first.get(), MessagingError);  // closed before any confirm
}

TEST(AmqpClient, PublishTimesOutWhileTheBrokerStaysDown) {
  AmqpClient client{{.url = kUnreachable, .publish_timeout = std::chrono::milliseconds{100}}};
  auto future = client.PublishToQueue({.name = "q"}, {.body = "x"});
  ASSERT_EQ(future.wait_for(std::chrono::seconds{5}), std::future_status::ready);
  try {
    future.get();
    FAIL() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kTimeout);
  }
}

TEST(AmqpClient, PublishAfterCloseFails) {
  AmqpClient client{{.url = kUnreachable}};
  client.Close(std::chrono::milliseconds{10});
  auto future = client.PublishToQueue({.name = "q"}, {.body = "x"});
  try {
    future.get();
    FAIL() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kClosed);
  }
}

TEST(AmqpClient, ReportsStateChangesThroughTheCallback) {
  std::mutex mutex;
  std::vector<ConnectionState> seen;
  {
    AmqpClient client{{.url = kUnreachable, .on_state_change = [&](ConnectionState s) {
                         std::lock_guard lock(mutex);
                         seen.push_back(s);
                       }}};
  }
  std::lock_guard lock(mutex);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), ConnectionState::kClosed);
  // The client starts out recovering (not yet connected), which is not a change; it never
  // connects to a closed port, so the one change is to closed, reported once.
  EXPECT_EQ(seen, std::vector<ConnectionState>{ConnectionState::kClosed});
}

}  // namespace
}  // namespace cppblog::messaging
