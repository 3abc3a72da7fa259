#include "vip_notifier.hpp"

#include <array>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/mock_message_publisher.hpp"
#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "account_store.hpp"
#include "broker_test_env.hpp"

namespace cppblog::account {
namespace {

using ::testing::MatchesRegex;

// OnAccountReadAsync, waited for: true once a VIP's notification is durable (throws its
// StoreError), false for any other account.
bool ReadAndWait(VipNotifier& notifier, std::string_view account_id) {
  std::promise<void> recorded;
  auto stored = recorded.get_future();
  if (!notifier.OnAccountReadAsync(account_id, [&recorded](std::exception_ptr error) {
        if (error) {
          recorded.set_exception(error);
        } else {
          recorded.set_value();
        }
      })) {
    return false;
  }
  stored.get();
  return true;
}

const auto kReadAt = std::chrono::system_clock::time_point{std::chrono::seconds{1487189187}} +
                     std::chrono::nanoseconds{33757223};

TEST(VipNotifier, VipReadAppendsTheContractNotification) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}, [] { return kReadAt; }};

  EXPECT_TRUE(ReadAndWait(notifier, "10000"));

  const auto entries = outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].body,
            R"({"accountId":"10000","readAt":"2017-02-15 20:06:27.033757223 +0000 UTC"})");
  EXPECT_THAT(entries[0].message_id, MatchesRegex("[0-9a-f]{32}"));
}

TEST(VipNotifier, AsyncVipReadCallsBackOnceTheNotificationIsStored) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}, [] { return kReadAt; }};
  std::promise<std::size_t> recorded;  // entries stored when the callback ran

  const bool vip = notifier.OnAccountReadAsync(
      "10000", [&](std::exception_ptr error) { recorded.set_value(error ? 0 : outbox.Size()); });

  EXPECT_TRUE(vip);
  auto result = recorded.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  EXPECT_EQ(result.get(), 1U);
  EXPECT_EQ(outbox.Read(0, 1).at(0).body,
            R"({"accountId":"10000","readAt":"2017-02-15 20:06:27.033757223 +0000 UTC"})");
}

TEST(VipNotifier, WhatIsLoggedWhenTheNotificationIsStoredNamesTheReadAndTheMessage) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}, [] { return kReadAt; }};
  // trace_id, span_id, message_id, account_id, as the callback (on the outbox's thread) sees them.
  std::promise<std::array<std::string, 4>> seen;

  ASSERT_TRUE(notifier.OnAccountReadAsync(
      "10000", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", [&](std::exception_ptr) {
        const logging::Fields now = logging::CurrentFields();
        seen.set_value({std::string(now.trace_id), std::string(now.span_id),
                        std::string(now.message_id), std::string(now.account_id)});
      }));

  auto result = seen.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  EXPECT_EQ(result.get(),
            (std::array<std::string, 4>{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
                                        outbox.Read(0, 1).at(0).message_id, "10000"}));
}

TEST(VipNotifier, AsyncReadOfOtherAccountNeverCallsBack) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}};
  bool called = false;

  EXPECT_FALSE(
      notifier.OnAccountReadAsync("10001", [&called](std::exception_ptr) { called = true; }));

  // A VIP append after it completes only once the earlier one would have: none was queued.
  EXPECT_TRUE(ReadAndWait(notifier, "10000"));
  EXPECT_FALSE(called);
  EXPECT_EQ(outbox.Size(), 1U);
}

TEST(VipNotifier, OtherAccountsAppendNothing) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000", "10042"}};

  EXPECT_FALSE(ReadAndWait(notifier, "10001"));
  EXPECT_TRUE(notifier.IsVip("10042"));
  EXPECT_FALSE(notifier.IsVip("1000"));
  EXPECT_EQ(outbox.Size(), 0U);
}

TEST(VipNotifier, EveryNotificationHasItsOwnMessageId) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}};

  for (int i = 0; i < 100; ++i) EXPECT_TRUE(ReadAndWait(notifier, "10000"));

  std::set<std::string> ids;
  for (const auto& entry : outbox.Read(0, 200)) ids.insert(entry.message_id);
  EXPECT_EQ(ids.size(), 100U);
}

}  // namespace

TEST(VipNotifier, SetVipAccountsReplacesTheList) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}};

  notifier.SetVipAccounts({"10001"});

  EXPECT_FALSE(notifier.IsVip("10000"));
  EXPECT_TRUE(ReadAndWait(notifier, "10001"));
  notifier.SetVipAccounts({});
  EXPECT_FALSE(ReadAndWait(notifier, "10001"));
  EXPECT_EQ(outbox.Size(), 1U);
}

// The VIP relay: a vip_queue the broker holds declared otherwise is reported, for /health, with
// the setting that would match.
TEST(VipRelay, AQueueDeclaredOtherwiseIsReportedWithTheSettingThatMatches) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}};
  ASSERT_TRUE(ReadAndWait(notifier, "10000"));
  ::testing::NiceMock<messaging::MockMessagePublisher> publisher;
  ON_CALL(publisher, PublishToQueue(::testing::_, ::testing::_))
      .WillByDefault([](const messaging::QueueSpec&, messaging::Message) {
        std::promise<void> refused;
        refused.set_exception(std::make_exception_ptr(messaging::MessagingError{
            messaging::MessagingErrorKind::kPreconditionFailed,
            "declare queue 'vip_queue-test': PRECONDITION_FAILED - inequivalent arg 'durable' "
            "for queue 'vip_queue-test' in vhost '/': received 'true' but current is 'false'"}));
        return refused.get_future();
      });
  auto options = VipRelayOptions({.name = "vip_queue-test"});
  options.stop_wait = std::chrono::milliseconds{0};

  const outbox::Relay relay{outbox, publisher, options};

  ASSERT_TRUE(messaging::WaitUntil([&relay] { return relay.Refusal().has_value(); },
                                   std::chrono::seconds{10}));
  const std::optional<std::string> refusal = relay.Refusal();
  ASSERT_TRUE(refusal.has_value());
  EXPECT_THAT(*refusal, ::testing::HasSubstr("vip_queue-test"));
  EXPECT_THAT(*refusal, ::testing::HasSubstr("set compat_goblog_p9=true"));
  EXPECT_EQ(outbox.Size(), 1U);  // kept for when the queue matches
}

TEST(VipRelay, TheAgeOfAnEntryIsItsReadAt) {
  const TempDir dir;
  AccountStore store{dir.path()};
  outbox::Outbox outbox{store.Environment()};
  VipNotifier notifier{outbox, {"10000"}, [] { return kReadAt; }};
  ASSERT_TRUE(ReadAndWait(notifier, "10000"));

  EXPECT_EQ(VipReadAt(outbox.Read(0, 1).at(0)), kReadAt);
  EXPECT_EQ(VipReadAt({.sequence = 1, .message_id = "x", .body = "not json"}), std::nullopt);
}
}  // namespace cppblog::account
