#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"
#include "pg_test_env.hpp"
#include "scoped_outage.hpp"
#include "service_process.hpp"
#include "vip_support.hpp"

// Issue 11 (c) and (d): the VIP flow as it runs on many hosts (docs/decisions/0012): vipservices
// with a data dir each sharing PostgreSQL (a schema of the test's own), the accountservice's
// outbox in front. (c) runs on the 3-node cluster of `./dev test` with a quorum vip_queue and
// kills its leader node and a vipservice; (d) stops the PostgreSQL server of `./dev test` for
// 10 s. Both disrupt what every other test shares, so CTest runs them alone (RUN_SERIAL).
namespace cppblog::e2e {
namespace {

using messaging::AmqpClient;
using messaging::ReadClusterEnv;
using messaging::RequiredEnv;
using messaging::Shell;
using messaging::ShellOutput;
using messaging::TestAmqpUrl;
using messaging::UniqueName;
using messaging::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Optional;
using Clock = std::chrono::steady_clock;

// The environment of a vipservice whose offers are in `schema` of the shared PostgreSQL (the URL
// by environment, as deployed).
Settings WithPgStore(const TestPgSchema& schema) { return {{"OFFER_STORE_URL", schema.Url()}}; }

// The accountservice on a free port with a data dir (and outbox) of its own.
class AccountService {
 public:
  explicit AccountService(const Settings& settings)
      : process_(
            ServiceOptionsFor(BinaryPath("CPPBLOG_ACCOUNTSERVICE_BIN", CPPBLOG_ACCOUNTSERVICE_BIN),
                              data_.path(), port_, settings)) {}

  [[nodiscard]] std::uint16_t Port() const { return port_; }
  [[nodiscard]] ServiceProcess& Process() { return process_; }
  [[nodiscard]] bool WaitHealthy() { return process_.WaitHealthy(port_, 60s); }

 private:
  TempDir data_{"cppblog-e2e-accounts"};
  std::uint16_t port_ = FreePort();
  ServiceProcess process_;
};

std::size_t Count(const TestPgSchema& schema, const std::string& sql) {
  return static_cast<std::size_t>(std::stoull(schema.Query(sql)));
}

// What the shared store holds. With offer_cooldown 0 every processed notification is one offer:
// a lost read is missing from `offers`, a doubled one shows as offers > distinct ids.
struct Stored {
  std::size_t processed = 0;
  std::size_t offers = 0;
  std::size_t distinct_offered_ids = 0;
};

Stored StoredIn(const TestPgSchema& schema) {
  return {
      .processed = Count(schema, "SELECT count(*) FROM vip_processed"),
      .offers = Count(schema, "SELECT count(*) FROM vip_offers"),
      .distinct_offered_ids = Count(schema, "SELECT count(DISTINCT message_id) FROM vip_offers")};
}

std::string Describe(const Stored& stored) {
  return "processed ids " + std::to_string(stored.processed) + ", offers " +
         std::to_string(stored.offers) + " (distinct ids " +
         std::to_string(stored.distinct_offered_ids) + ")";
}

// The end of a stream of VIP reads: none was left unanswered or answered other than 200, and
// within `timeout` each read answered is exactly one processed id and one offer in `schema`.
// Returns what is stored then.
Stored ExpectEachAnsweredReadStoredOnce(const TestPgSchema& schema, const GetLoadTally& tally,
                                        std::chrono::seconds timeout) {
  EXPECT_EQ(tally.other, 0) << Describe(tally);
  EXPECT_EQ(tally.unanswered, 0) << Describe(tally);
  const auto answered = static_cast<std::size_t>(tally.ok);
  EXPECT_TRUE(WaitUntil([&] { return StoredIn(schema).processed >= answered; }, timeout))
      << Describe(tally) << "\n"
      << Describe(StoredIn(schema));
  const Stored stored = StoredIn(schema);
  EXPECT_EQ(stored.processed, answered) << Describe(stored);
  EXPECT_EQ(stored.offers, answered) << Describe(stored);
  EXPECT_EQ(stored.distinct_offered_ids, answered) << Describe(stored);
  return stored;
}

// Offers whose notification was read at or after `at` (readAt is the accountservice's clock,
// the same as the test's).
std::size_t OffersReadSince(const TestPgSchema& schema, std::chrono::system_clock::time_point at) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  return Count(schema, "SELECT count(*) FROM vip_offers WHERE read_at_ns >= " + std::to_string(ns));
}

// --- (c) the cluster ------------------------------------------------------------------------

class VipFlowClusterE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_dir_ = RequiredEnv("CPPBLOG_TEST_CLUSTER_DIR");
    urls_ = RequiredEnv("CPPBLOG_TEST_CLUSTER_URLS");
  }
  // Brings the killed node back (`start` restarts dead nodes; they rejoin), so that the tests
  // after this one find the whole cluster.
  void TearDown() override {
    if (killed_node_ == 0) return;
    const auto start = Clock::now();
    const int status = Shell("RABBIT_CLUSTER_DIR='" + cluster_dir_ + "' '" +
                             RequiredEnv("CPPBLOG_DEV") + "' rabbit cluster start >/dev/null 2>&1");
    EXPECT_EQ(status, 0) << "could not restart cluster node n" << killed_node_;
    std::cout << "restarted node n" << killed_node_ << " in " << MillisecondsSince(start)
              << " ms\n";
  }

  // The number (1..3) of the node leading quorum queue `queue`, asked of the first node that
  // answers; 0 when none knows one.
  [[nodiscard]] int LeaderOf(const std::string& queue) const {
    const auto env = ReadClusterEnv(cluster_dir_);
    for (int asked = 1; asked <= 3; ++asked) {
      std::string output;
      try {
        output = ShellOutput("RABBIT_CLUSTER_DIR='" + cluster_dir_ + "' '" +
                             RequiredEnv("CPPBLOG_DEV") + "' rabbit cluster ctl " +
                             std::to_string(asked) + " list_queues name leader 2>/dev/null");
      } catch (const std::runtime_error&) {
        continue;  // that node is down: ask the next
      }
      std::istringstream lines{output};
      for (std::string line; std::getline(lines, line);) {
        const auto tab = line.find('\t');
        if (tab == std::string::npos || line.substr(0, tab) != queue) continue;
        const std::string leader = line.substr(tab + 1);
        for (int node = 1; node <= 3; ++node) {
          const auto name = env.find("NODE" + std::to_string(node) + "_NAME");
          if (name != env.end() && name->second == leader) return node;
        }
      }
    }
    return 0;
  }

  // kill -9 of node `node`'s Erlang VM.
  void KillNode(int node) {
    const auto env = ReadClusterEnv(cluster_dir_);
    const std::filesystem::path pid_file =
        env.at("NODE" + std::to_string(node) + "_DIR") + "/node.pid";
    std::ifstream in{pid_file};
    long pid = 0;
    ASSERT_TRUE(in >> pid) << "no pid in " << pid_file;
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0) << "kill -9 " << pid;
    killed_node_ = node;
  }

  std::string cluster_dir_;
  std::string urls_;
  int killed_node_ = 0;
};

// A stream of VIP reads through an accountservice on the cluster's address list; three
// vipservices, a data dir each, share PostgreSQL; vip_queue is a quorum queue. Its leader node
// and one vipservice are killed (-9) mid-stream. Every read answered 200 must be exactly one
// offer: the outbox re-sends what the dead node had not confirmed, the quorum queue's new leader
// redelivers what the dead vipservice held, and the shared store's processed ids drop both
// kinds of duplicate.
TEST_F(VipFlowClusterE2e, KillingTheLeaderNodeAndAVipServiceLosesAndDoublesNoRead) {
  constexpr int kReadsAfterKill = 1000;
  const TestPgSchema schema;
  const std::string queue = UniqueName("vip_queue-cluster");
  const Settings broker{
      {"vip_queue", queue}, {"vip_queue_type", "quorum"}, {"amqp_server_url", urls_}};
  VipInstance victim{broker, WithPgStore(schema)};
  VipInstance survivor_a{broker, WithPgStore(schema)};
  VipInstance survivor_b{broker, WithPgStore(schema)};
  AccountService accounts{broker};
  for (VipInstance* vip : {&victim, &survivor_a, &survivor_b}) {
    ASSERT_TRUE(vip->WaitHealthy(60s)) << vip->Output();
  }
  ASSERT_TRUE(accounts.WaitHealthy()) << accounts.Process().Output();
  int leader = 0;
  ASSERT_TRUE(WaitUntil([&] { return (leader = LeaderOf(queue)) != 0; }, 20s))
      << "no leader of " << queue << " in " << cluster_dir_;

  const auto start = Clock::now();
  GetLoad load{{.port = accounts.Port(),
                .target = std::string(kVipRead),
                .total = 1'000'000,  // until Stop()
                .connections = 4,
                .threads = 2,
                .round_interval = 8ms}};  // a stream of 500 reads a second
  ASSERT_TRUE(WaitUntil([&] { return victim.MessagesLogged() >= 300; }, 30s))
      << Describe(load.Tally()) << "\n"
      << victim.Process().Output();

  const auto killed_wall = std::chrono::system_clock::now();
  const auto killed_at = Clock::now();
  KillNode(leader);
  victim.Process().Signal(SIGKILL);
  ASSERT_FALSE(HasFatalFailure());
  const int answered_at_kill = load.Tally().ok;
  std::cout << "killed leader node n" << leader << " of " << queue << " and a vipservice after "
            << answered_at_kill << " reads answered (" << MillisecondsSince(start) << " ms)\n";
  EXPECT_THAT(victim.Process().WaitExit(5s), Optional(128 + SIGKILL));

  // The first offer of a read made after the kill: relayed through a surviving node, delivered
  // by the new leader, stored by a surviving vipservice.
  ASSERT_TRUE(WaitUntil([&] { return OffersReadSince(schema, killed_wall) > 0; }, 30s))
      << Describe(load.Tally()) << "\n"
      << Describe(StoredIn(schema)) << "\n"
      << accounts.Process().Output();
  const int kill_to_first_offer_ms = MillisecondsSince(killed_at);
  std::cout << "kill -9 to the first offer of a read after it: " << kill_to_first_offer_ms
            << " ms\n";
  RecordProperty("kill_to_first_offer_ms", kill_to_first_offer_ms);
  ASSERT_TRUE(WaitUntil([&] { return load.Tally().ok >= answered_at_kill + kReadsAfterKill; }, 30s))
      << Describe(load.Tally());
  load.Stop();
  ASSERT_TRUE(load.WaitDone(20s)) << Describe(load.Tally());

  const GetLoadTally tally = load.Tally();
  const auto answered = static_cast<std::size_t>(tally.ok);
  const Stored stored = ExpectEachAnsweredReadStoredOnce(schema, tally, 40s);
  RecordProperty("reads_answered", tally.ok);
  RecordProperty("all_offered_ms", MillisecondsSince(start));
  for (VipInstance* vip : {&survivor_a, &survivor_b}) {
    const Offers offers = OffersAcross({vip->Port()});
    EXPECT_EQ(offers.total, answered) << "GET /offers/10000 on :" << vip->Port();
    EXPECT_EQ(offers.distinct, answered) << "GET /offers/10000 on :" << vip->Port();
  }
  // Handed out more often than stored: the kill did cause redeliveries, which were dropped.
  const std::size_t handled =
      victim.MessagesLogged() + survivor_a.MessagesLogged() + survivor_b.MessagesLogged();
  std::cout << answered << " reads answered, " << stored.offers << " offers, " << handled
            << " deliveries handled (" << handled - std::min(handled, answered)
            << " duplicates dropped); " << MillisecondsSince(start) << " ms in all\n";
  AmqpClient client{{.url = urls_}};
  // It may try the dead node first: an inspection fails until it is on another.
  ASSERT_TRUE(
      WaitUntil([&] { return client.State() == messaging::ConnectionState::kConnected; }, 20s));
  EXPECT_EQ(client.InspectQueue(queue + ".dlq").get().messages, 0U);
  EXPECT_TRUE(WaitUntil([&] { return client.InspectQueue(queue).get().messages == 0; }, 10s));
}

// --- (d) PostgreSQL down --------------------------------------------------------------------

// A stream of VIP reads while PostgreSQL is down for 10 s: the reads answer 200 (the outbox
// holds the notifications, the queue holds the deliveries), the vipservice's /health is 503
// naming the store, nothing is dead-lettered (a store outage is not a poison message, ADR
// 0009), and once the server is back every notification is stored exactly once.
TEST(VipFlowStoreOutageE2e, PostgresDownTenSecondsReadsAnswerNothingDeadLetteredAllStoredOnce) {
  constexpr auto kOutage = 10s;
  const TestPgSchema schema;
  const std::string queue = UniqueName("vip_queue-pg-outage");
  const Settings broker{{"vip_queue", queue}, {"amqp_server_url", TestAmqpUrl()}};
  VipInstance vip{broker, WithPgStore(schema)};
  AccountService accounts{broker};
  ASSERT_TRUE(vip.WaitHealthy(60s)) << vip.Output();
  ASSERT_TRUE(accounts.WaitHealthy()) << accounts.Process().Output();
  GetLoad load{{.port = accounts.Port(),
                .target = std::string(kVipRead),
                .total = 1'000'000,  // until Stop()
                .connections = 2,
                .threads = 1,
                .round_interval = 10ms}};  // a stream of 200 reads a second
  ASSERT_TRUE(WaitUntil([&] { return StoredIn(schema).offers >= 50; }, 20s))
      << Describe(load.Tally()) << "\n"
      << vip.Process().Output();
  std::chrono::steady_clock::time_point returned;
  {
    ScopedOutage outage{"PostgreSQL", [] { TestPostgres("stop"); }, [] { TestPostgres("start"); }};
    const auto stopped = Clock::now();
    const int answered_at_stop = load.Tally().ok;
    HttpResponse health;
    ASSERT_TRUE(WaitUntil(
        [&] {
          health = HttpGet(vip.Port(), "/health");
          return health.status == 503;
        },
        kOutage))
        << health.status << " " << health.body;
    const int stop_to_503_ms = MillisecondsSince(stopped);
    RecordProperty("stop_to_health_503_ms", stop_to_503_ms);
    std::cout << "PostgreSQL stopped; the vipservice's /health 503 after " << stop_to_503_ms
              << " ms: " << health.body << "\n";
    EXPECT_THAT(health.body, HasSubstr("PostgreSQL"));
    // For the rest of the outage, /health stays 503 and the reads go on.
    int healthy_answers = 0;
    while (Clock::now() - stopped < kOutage) {
      if (HttpGet(vip.Port(), "/health").status != 503) ++healthy_answers;
      std::this_thread::sleep_for(100ms);  // a poll interval, not a wait
    }
    EXPECT_EQ(healthy_answers, 0) << "the vipservice said healthy while PostgreSQL was down";
    const GetLoadTally during = load.Tally();
    RecordProperty("reads_answered_during_outage", during.ok - answered_at_stop);
    std::cout << during.ok - answered_at_stop << " reads answered 200 during the "
              << kOutage.count() << " s outage\n";
    EXPECT_GT(during.ok - answered_at_stop, 100) << Describe(during);
    EXPECT_EQ(during.other, 0) << Describe(during);
    outage.End();
    returned = Clock::now();
  }
  ASSERT_TRUE(vip.WaitHealthy(60s)) << vip.Output();
  const int start_to_healthy_ms = MillisecondsSince(returned);
  RecordProperty("start_to_healthy_ms", start_to_healthy_ms);
  std::cout << "PostgreSQL started again; the vipservice healthy after " << start_to_healthy_ms
            << " ms\n";
  load.Stop();
  ASSERT_TRUE(load.WaitDone(20s)) << Describe(load.Tally());

  const GetLoadTally tally = load.Tally();
  const auto answered = static_cast<std::size_t>(tally.ok);
  const Stored stored = ExpectEachAnsweredReadStoredOnce(schema, tally, 30s);
  RecordProperty("start_to_all_stored_ms", MillisecondsSince(returned));
  AmqpClient client{{.url = TestAmqpUrl()}};
  ASSERT_TRUE(
      WaitUntil([&] { return client.State() == messaging::ConnectionState::kConnected; }, 20s));
  EXPECT_EQ(client.InspectQueue(queue + ".dlq").get().messages, 0U);
  EXPECT_EQ(vip.Process().Output().find("dead-lettering"), std::string::npos)
      << vip.Process().Output();
  std::cout << answered << " reads answered, " << Describe(stored) << "; back to all stored in "
            << MillisecondsSince(returned) << " ms after the start\n";
}

}  // namespace
}  // namespace cppblog::e2e
