#include "cppblog/vip/vip_notification.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::vip {
namespace {

using namespace std::chrono;
using ::testing::HasSubstr;

// 2017-02-15 20:06:27 UTC, the instant of the contract's example, plus `nanos`.
system_clock::time_point ContractInstant(std::int64_t nanos) {
  const auto utc = sys_days{year{2017} / February / 15} + hours{20} + minutes{6} + seconds{27} +
                   nanoseconds{nanos};
  return time_point_cast<system_clock::duration>(utc);
}

std::string PoisonReason(std::string_view body) {
  try {
    static_cast<void>(ParseVipNotification(body));
  } catch (const messaging::PoisonMessage& e) {
    return e.what();
  }
  return "<no PoisonMessage>";
}

TEST(VipNotification, ToJsonWritesTheContractBytes) {
  const VipNotification notification{.account_id = "10000", .read_at = ContractInstant(33'757'223)};

  EXPECT_EQ(ToJson(notification),
            R"({"accountId":"10000","readAt":"2017-02-15 20:06:27.033757223 +0000 UTC"})");
}

TEST(VipNotification, ToJsonEscapesTheAccountId) {
  const VipNotification notification{.account_id = "a\"b\\c", .read_at = ContractInstant(0)};

  EXPECT_EQ(ToJson(notification),
            R"({"accountId":"a\"b\\c","readAt":"2017-02-15 20:06:27 +0000 UTC"})");
}

TEST(GoTime, FormatKeepsNineDigitsWhenTheLastIsNotZero) {
  EXPECT_EQ(FormatGoTime(ContractInstant(1)), "2017-02-15 20:06:27.000000001 +0000 UTC");
  EXPECT_EQ(FormatGoTime(ContractInstant(123'456'789)), "2017-02-15 20:06:27.123456789 +0000 UTC");
}

TEST(GoTime, FormatTrimsTrailingZerosOfTheFraction) {
  EXPECT_EQ(FormatGoTime(ContractInstant(33'757'220)), "2017-02-15 20:06:27.03375722 +0000 UTC");
  EXPECT_EQ(FormatGoTime(ContractInstant(500'000'000)), "2017-02-15 20:06:27.5 +0000 UTC");
  EXPECT_EQ(FormatGoTime(ContractInstant(10'000)), "2017-02-15 20:06:27.00001 +0000 UTC");
}

TEST(GoTime, FormatLeavesOutAZeroFractionAndItsDot) {
  EXPECT_EQ(FormatGoTime(ContractInstant(0)), "2017-02-15 20:06:27 +0000 UTC");
}

TEST(GoTime, FormatPadsSmallFields) {
  const auto time = time_point_cast<system_clock::duration>(sys_days{year{2026} / January / 2} +
                                                            hours{3} + minutes{4} + seconds{5});

  EXPECT_EQ(FormatGoTime(time), "2026-01-02 03:04:05 +0000 UTC");
}

TEST(GoTime, ParseReadsWhatFormatWrites) {
  for (const std::int64_t nanos : {0LL, 1LL, 10'000LL, 500'000'000LL, 33'757'223LL}) {
    const auto time = ContractInstant(nanos);
    EXPECT_EQ(ParseGoTime(FormatGoTime(time)), time) << FormatGoTime(time);
  }
}

TEST(GoTime, ParseAppliesTheOffsetAndIgnoresTheAbbreviation) {
  EXPECT_EQ(ParseGoTime("2017-02-15 21:06:27.033757223 +0100 CET"), ContractInstant(33'757'223));
  EXPECT_EQ(ParseGoTime("2017-02-15 15:36:27 -0430 -0430"), ContractInstant(0));
}

TEST(GoTime, ParseSkipsGoMonotonicClockReading) {
  EXPECT_EQ(ParseGoTime("2017-02-15 20:06:27.5 +0000 UTC m=+0.001234567"),
            ContractInstant(500'000'000));
}

TEST(GoTime, ParseAcceptsRfc3339) {
  EXPECT_EQ(ParseGoTime("2017-02-15T20:06:27.033757223Z"), ContractInstant(33'757'223));
  EXPECT_EQ(ParseGoTime("2017-02-15T22:06:27+02:00"), ContractInstant(0));
  EXPECT_EQ(ParseGoTime("2017-02-15T20:06:27.5z"), ContractInstant(500'000'000));
}

TEST(GoTime, ParseRejectsMalformedTimesNamingTheText) {
  for (const char* bad :
       {"", "yesterday", "2017-02-15", "2017-02-15 20:06:27", "2017-02-15 20:06:27 +0000",
        "2017-02-15 20:06:27 +0000 UTC extra", "2017-02-30 20:06:27 +0000 UTC",
        "2017-13-15 20:06:27 +0000 UTC", "2017-02-15 24:06:27 +0000 UTC",
        "2017-02-15 20:06:27. +0000 UTC", "2017-02-15 20:06:27.0123456789 +0000 UTC",
        "2017-02-15T20:06:27", "2017-02-15T20:06:27+0200", "0001-01-01 00:00:00 +0000 UTC",
        "9999-12-31T23:59:59Z"}) {
    try {
      static_cast<void>(ParseGoTime(bad));
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("'" + std::string(bad).substr(0, 80) + "' is not a time"));
    }
  }
}

TEST(VipNotification, ParseReadsTheContractBody) {
  const VipNotification parsed = ParseVipNotification(
      R"({"accountId":"10000","readAt":"2017-02-15 20:06:27.033757223 +0000 UTC"})");

  EXPECT_EQ(parsed.account_id, "10000");
  EXPECT_EQ(parsed.read_at, ContractInstant(33'757'223));
}

TEST(VipNotification, ParseIgnoresUnknownFields) {
  const VipNotification parsed = ParseVipNotification(
      R"({"readAt":"2017-02-15T20:06:27Z","extra":[1,2],"accountId":"10001"})");

  EXPECT_EQ(parsed.account_id, "10001");
  EXPECT_EQ(parsed.read_at, ContractInstant(0));
}

TEST(VipNotification, ParseRoundTripsToJson) {
  const VipNotification original{.account_id = "10042", .read_at = ContractInstant(1'000)};

  EXPECT_EQ(ParseVipNotification(ToJson(original)), original);
}

TEST(VipNotification, ParseNamesEachProblemAsPoison) {
  EXPECT_THAT(PoisonReason("not json"), HasSubstr("is not JSON"));
  EXPECT_THAT(PoisonReason(R"(["10000"])"), HasSubstr("not a JSON object"));
  EXPECT_THAT(PoisonReason(R"({"readAt":"2017-02-15T20:06:27Z"})"), HasSubstr("no accountId"));
  EXPECT_THAT(PoisonReason(R"({"accountId":10000,"readAt":"2017-02-15T20:06:27Z"})"),
              HasSubstr("accountId is not a string"));
  EXPECT_THAT(PoisonReason(R"({"accountId":"","readAt":"2017-02-15T20:06:27Z"})"),
              HasSubstr("accountId is empty"));
  EXPECT_THAT(PoisonReason(R"({"accountId":")" + std::string(129, '1') +
                           R"(","readAt":"2017-02-15T20:06:27Z"})"),
              HasSubstr("longer than 128 bytes"));
  EXPECT_THAT(PoisonReason(R"({"accountId":"10000"})"), HasSubstr("no readAt"));
  EXPECT_THAT(PoisonReason(R"({"accountId":"10000","readAt":12})"),
              HasSubstr("readAt is not a string"));
  EXPECT_THAT(PoisonReason(R"({"accountId":"10000","readAt":"soon"})"),
              HasSubstr("readAt 'soon' is not a time"));
}

TEST(VipNotification, MakeVipMessageIsPersistentJsonWithTheId) {
  const VipNotification notification{.account_id = "10000", .read_at = ContractInstant(0)};

  const messaging::Message message = MakeVipMessage(notification, "id-1");

  EXPECT_EQ(message.body, ToJson(notification));
  EXPECT_EQ(message.content_type, "application/json");
  EXPECT_EQ(message.message_id, "id-1");
  EXPECT_TRUE(message.persistent);
}

TEST(VipQueue, OursIsDurableWithoutArguments) {
  const messaging::QueueSpec queue = VipQueue(false);

  EXPECT_EQ(queue.name, "vip_queue");
  EXPECT_TRUE(queue.durable);
  EXPECT_FALSE(queue.exclusive);
  EXPECT_FALSE(queue.auto_delete);
  EXPECT_TRUE(queue.arguments.empty());
}

TEST(VipQueue, CompatIsTheGoOriginalsDeclaration) {
  const messaging::QueueSpec queue = VipQueue(true);

  EXPECT_EQ(queue.name, "vip_queue");
  EXPECT_FALSE(queue.durable);
  EXPECT_FALSE(queue.exclusive);
  EXPECT_FALSE(queue.auto_delete);
  EXPECT_TRUE(queue.arguments.empty());
}

TEST(VipQueue, ClassicByDefaultQuorumWhenAsked) {
  EXPECT_EQ(VipQueue(false).type, messaging::QueueType::kClassic);
  const messaging::QueueSpec quorum = VipQueue(false, "vip_queue", messaging::QueueType::kQuorum);
  EXPECT_EQ(quorum.type, messaging::QueueType::kQuorum);
  EXPECT_TRUE(quorum.durable);
  EXPECT_TRUE(quorum.arguments.empty());  // x-queue-type comes from the type when declared
  EXPECT_EQ(quorum.type_setting, "vip_queue_type (env VIP_QUEUE_TYPE)");
}

TEST(VipQueue, ParsesTheQueueTypeSetting) {
  EXPECT_EQ(ParseQueueType("classic"), messaging::QueueType::kClassic);
  EXPECT_EQ(ParseQueueType("QUORUM"), messaging::QueueType::kQuorum);
  EXPECT_EQ(ParseQueueType("stream"), std::nullopt);
  EXPECT_EQ(ParseQueueType(""), std::nullopt);
}

TEST(VipQueue, QueueNameSettingTakesOneTo200BytesAndNamesKeyAndSource) {
  EXPECT_EQ(QueueNameSetting("vip_queue_test_1", "flag --set"), "vip_queue_test_1");
  EXPECT_EQ(QueueNameSetting(std::string(200, 'q'), "flag --set"), std::string(200, 'q'));
  for (const std::string& name : {std::string(), std::string(201, 'q')}) {
    try {
      static_cast<void>(QueueNameSetting(name, "environment VIP_QUEUE"));
      ADD_FAILURE() << "no ConfigError for a name of " << name.size() << " bytes";
    } catch (const config::ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr("vip_queue: '" + name + "' (environment VIP_QUEUE)"));
      EXPECT_THAT(e.what(), HasSubstr("1 to 200 bytes"));
    }
  }
}

TEST(VipQueue, TakesAnotherName) {
  EXPECT_EQ(VipQueue(false, "vip_queue_test_1").name, "vip_queue_test_1");
}

// The broker's replies as RabbitMQ words them.
TEST(VipQueueMismatchHint, NamesTheSettingAndTheValueThatMatchTheBrokersQueue) {
  EXPECT_THAT(VipQueueMismatchHint("PRECONDITION_FAILED - inequivalent arg 'durable' for queue "
                                   "'vip_queue' in vhost '/': received 'true' but current is "
                                   "'false'"),
              ::testing::HasSubstr("set compat_goblog_p9=true"));
  EXPECT_THAT(VipQueueMismatchHint("PRECONDITION_FAILED - inequivalent arg 'durable' for queue "
                                   "'vip_queue' in vhost '/': received 'false' but current is "
                                   "'true'"),
              ::testing::HasSubstr("set compat_goblog_p9=false"));
  EXPECT_THAT(VipQueueMismatchHint("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for "
                                   "queue 'vip_queue' in vhost '/': received none but current is "
                                   "the value 'quorum' of type 'longstr'"),
              ::testing::HasSubstr("set vip_queue_type=quorum"));
  EXPECT_THAT(VipQueueMismatchHint("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for "
                                   "queue 'vip_queue' in vhost '/': received the value 'quorum' "
                                   "of type 'longstr' but current is none"),
              ::testing::HasSubstr("set vip_queue_type=classic"));
  EXPECT_THAT(
      VipQueueMismatchHint("INTERNAL_ERROR - Feature `transient_nonexcl_queues` is "
                           "deprecated. By default, this feature is not permitted anymore."),
      ::testing::HasSubstr("deprecated_features.permit.transient_nonexcl_queues = true"));
  const std::string unknown = VipQueueMismatchHint("PRECONDITION_FAILED - something else");
  EXPECT_THAT(unknown, ::testing::HasSubstr("compat_goblog_p9"));
  EXPECT_THAT(unknown, ::testing::HasSubstr("vip_queue_type"));
}

}  // namespace
}  // namespace cppblog::vip
