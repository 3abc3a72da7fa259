// The vipservice's broker settings as processes: a password that would break the URL never
// reaches the output (issue 16.3), and the service on the test cluster's address list with a
// quorum vip_queue (issue 11), refusing a peer that declares the queue as classic.
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "service_process.hpp"
#include "vip_support.hpp"

namespace cppblog::e2e {
namespace {

using messaging::RequiredEnv;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

ServiceOptions VipServiceOptions(const TempDir& data, std::uint16_t port,
                                 const std::vector<std::pair<std::string, std::string>>& settings) {
  return ServiceOptionsFor(BinaryPath("CPPBLOG_VIPSERVICE_BIN", CPPBLOG_VIPSERVICE_BIN),
                           data.path(), port, settings);
}

// A generated password holding '/' or '?' (not percent-encoded) in AMQP_SERVER_URL: the
// service stops at start with one error saying to percent-encode it, and no line of its
// output holds any piece of the password.
TEST(VipServiceBrokerE2e, AnUnencodedPasswordIsRefusedAndNeverPrinted) {
  for (const std::string password : {"S3c/r3tPw", "S3c?r3tPw", "S3c#r3t/Pw?"}) {
    const TempDir data;
    ServiceOptions options =
        VipServiceOptions(data, FreePort(), {{"vip_queue", UniqueName("vip_queue-e2e")}});
    options.env.emplace_back("AMQP_SERVER_URL", "amqp://guest:" + password + "@127.0.0.1:" +
                                                    std::to_string(FreePort()) + "/%2F");
    ServiceProcess service{std::move(options)};
    EXPECT_THAT(service.WaitExit(20s), Optional(1)) << service.Output();
    const std::string output = service.Output();
    EXPECT_THAT(output, HasSubstr("percent-encoded")) << output;
    EXPECT_THAT(output, HasSubstr("amqp://guest:***@127.0.0.1:")) << output;
    for (const std::string_view piece : {"S3c", "r3t", "Pw"}) {
      EXPECT_THAT(output, Not(HasSubstr(piece))) << output;
    }
  }
}

TEST(VipServiceBrokerE2e, RunsOnTheClusterAddressListWithAQuorumQueue) {
  const std::string urls = RequiredEnv("CPPBLOG_TEST_CLUSTER_URLS");
  const std::string queue = UniqueName("vip_queue-quorum");
  const TempDir data;
  const std::uint16_t port = FreePort();
  ServiceOptions options =
      VipServiceOptions(data, port, {{"vip_queue", queue}, {"offer_cooldown", "0"}});
  options.env.emplace_back("AMQP_SERVER_URL", urls);
  options.env.emplace_back("VIP_QUEUE_TYPE", "quorum");
  ServiceProcess service{std::move(options)};
  ASSERT_TRUE(service.WaitHealthy(port, 30s)) << service.Output();
  // The log names the node it is on.
  EXPECT_TRUE(service.WaitForOutput("connected to node 127.0.0.1:", 5s)) << service.Output();

  messaging::AmqpClient client{{.url = urls}};
  const messaging::QueueSpec quorum = vip::VipQueue(false, queue, messaging::QueueType::kQuorum);
  client
      .PublishToQueue(quorum, vip::MakeVipMessage({.account_id = "10000",
                                                   .read_at = std::chrono::system_clock::now()},
                                                  UniqueName("id")))
      .get();
  EXPECT_TRUE(WaitUntil([&] { return OffersServed(port) == 1; }, 20s)) << service.Output();

  // The queue is a quorum queue: a classic declaration (as another service with the default
  // vip_queue_type would make) is refused, naming both types and the setting.
  try {
    client.PublishToQueue(vip::VipQueue(false, queue), {.body = "{}"}).get();
    ADD_FAILURE() << "a classic declaration of the quorum queue was accepted";
  } catch (const messaging::MessagingError& e) {
    EXPECT_EQ(e.kind(), messaging::MessagingErrorKind::kPreconditionFailed) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("declared as a classic queue, but the broker already has it "
                                    "as a quorum queue"));
    EXPECT_THAT(e.what(), HasSubstr("set vip_queue_type (env VIP_QUEUE_TYPE) to quorum"));
  }

  // A second vipservice with the default (classic) stops with that error.
  const TempDir other_data;
  ServiceOptions classic = VipServiceOptions(other_data, FreePort(), {{"vip_queue", queue}});
  classic.env.emplace_back("AMQP_SERVER_URL", urls);
  ServiceProcess other{std::move(classic)};
  EXPECT_THAT(other.WaitExit(30s), Optional(1)) << other.Output();
  EXPECT_THAT(other.Output(), HasSubstr("vip_queue_type (env VIP_QUEUE_TYPE) to quorum"));

  service.Signal(SIGTERM);
  EXPECT_THAT(service.WaitExit(10s), Optional(0)) << service.Output();
}

}  // namespace
}  // namespace cppblog::e2e
