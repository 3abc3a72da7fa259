// Broker failover on the 3-node cluster that ./dev test starts (issue 11, test b): the client
// is given the cluster's address list and keeps publishing confirmed messages to a quorum
// queue, and consuming them, while the node it is connected to is killed with kill -9. It
// disrupts the cluster, so CTest runs it alone (RUN_SERIAL); it restarts the node it killed.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kMessages = 10'000;
constexpr std::size_t kKillAfterConfirms = 2'000;
constexpr std::size_t kConfirmWindow = 1'000;

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Every id the consumer saw, how often, and when the first one at or above a mark came.
class Tally {
 public:
  Outcome Record(const Message& m) {
    const auto id = static_cast<std::size_t>(std::stoul(m.body));
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    if (id >= seen_.size()) seen_.resize(id + 1, 0);
    if (seen_[id]++ > 0) ++duplicates_;
    if (mark_ && id >= *mark_ && !first_at_mark_) first_at_mark_ = now;
    cv_.notify_all();
    return Outcome::kAck;
  }
  void SetMark(std::size_t id) {
    std::lock_guard lock(mutex_);
    mark_ = id;
  }
  std::optional<Clock::time_point> FirstAtMark() {
    std::lock_guard lock(mutex_);
    return first_at_mark_;
  }
  // True once every id in `ids` was seen.
  bool WaitForAll(const std::vector<std::size_t>& ids, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return MissingLocked(ids).empty(); });
  }
  std::vector<std::size_t> Missing(const std::vector<std::size_t>& ids) {
    std::lock_guard lock(mutex_);
    return MissingLocked(ids);
  }
  std::size_t Duplicates() {
    std::lock_guard lock(mutex_);
    return duplicates_;
  }
  std::vector<std::pair<std::size_t, int>> DuplicatedIds() {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::size_t, int>> out;
    for (std::size_t id = 0; id < seen_.size(); ++id) {
      if (seen_[id] > 1) out.emplace_back(id, seen_[id]);
    }
    return out;
  }

 private:
  std::vector<std::size_t> MissingLocked(const std::vector<std::size_t>& ids) const {
    std::vector<std::size_t> missing;
    for (const std::size_t id : ids) {
      if (id >= seen_.size() || seen_[id] == 0) missing.push_back(id);
    }
    return missing;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<int> seen_;
  std::size_t duplicates_ = 0;
  std::optional<std::size_t> mark_;
  std::optional<Clock::time_point> first_at_mark_;
};

class AmqpClusterFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_dir_ = RequiredEnv("CPPBLOG_TEST_CLUSTER_DIR");
    urls_ = RequiredEnv("CPPBLOG_TEST_CLUSTER_URLS");
  }
  // Bring the killed node back, so that the cluster is whole for the tests after this one.
  void TearDown() override {
    if (!killed_) return;
    const int status = Shell("RABBIT_CLUSTER_DIR='" + cluster_dir_ + "' '" +
                             RequiredEnv("CPPBLOG_DEV") + "' rabbit cluster start >/dev/null");
    EXPECT_EQ(status, 0) << "could not restart the killed cluster node";
  }

  // kill -9 of the Erlang VM of the node at `node` ("127.0.0.1:port"); returns its number.
  int KillNode(const std::string& node) {
    const auto env = ReadClusterEnv(cluster_dir_);
    for (int i = 1; i <= 3; ++i) {
      const auto port = env.find("NODE" + std::to_string(i) + "_PORT");
      if (port == env.end() || node != "127.0.0.1:" + port->second) continue;
      const std::string dir = env.at("NODE" + std::to_string(i) + "_DIR");
      const std::string pid_text = ReadFirstLine(dir + "/node.pid");
      const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
      EXPECT_EQ(::kill(pid, SIGKILL), 0) << "kill -9 " << pid;
      killed_ = true;
      return i;
    }
    ADD_FAILURE() << "node " << node << " is not in " << cluster_dir_ << "/cluster.env";
    return 0;
  }

  std::string cluster_dir_;
  std::string urls_;
  bool killed_ = false;
};

TEST_F(AmqpClusterFailover, EveryConfirmedMessageIsConsumedWhenTheConnectedNodeIsKilled) {
  const QueueSpec queue{.name = UniqueName("failover"), .type = QueueType::kQuorum};
  Tally tally;
  AmqpClient client{{.url = urls_,
                     .reconnect_max = 1000ms,
                     .confirm_window = kConfirmWindow,
                     .connection_name = "cppblog failover test"}};
  auto subscribed = client.SubscribeToQueue(
      queue, [&](const Message& m) { return tally.Record(m); }, {.prefetch = 500});
  ASSERT_EQ(subscribed.wait_for(60s), std::future_status::ready);
  subscribed.get();
  ASSERT_TRUE(WaitUntil([&] { return client.State() == ConnectionState::kConnected; }, 30s));
  const std::string node = client.CurrentNode();
  std::cout << "client on node " << node << " of " << urls_ << "\n";
  // Both connections start at the same node of the shuffled list.
  ASSERT_EQ(node.find(','), std::string::npos) << node;

  std::vector<std::future<void>> confirms;
  confirms.reserve(kMessages);
  for (std::size_t id = 0; id < kMessages; ++id) {
    confirms.push_back(client.PublishToQueue(
        queue, {.body = std::to_string(id), .message_id = std::to_string(id), .persistent = true}));
  }
  // Kill the node while publishes are in flight: once the first kKillAfterConfirms confirmed.
  ASSERT_EQ(confirms[kKillAfterConfirms - 1].wait_for(60s), std::future_status::ready);
  // None past the window can have been sent to the dead node: the first delivery of one of
  // them came through the node the client failed over to.
  std::size_t first_unconfirmed = kKillAfterConfirms;
  while (first_unconfirmed < kMessages &&
         confirms[first_unconfirmed].wait_for(0s) == std::future_status::ready) {
    ++first_unconfirmed;
  }
  tally.SetMark(first_unconfirmed + kConfirmWindow);
  const auto killed_at = Clock::now();
  const int killed = KillNode(node);
  ASSERT_NE(killed, 0);
  std::cout << "killed node n" << killed << " (" << node << ") after " << first_unconfirmed
            << " confirms\n";

  std::vector<std::size_t> confirmed;
  std::size_t failed = 0;
  std::optional<Clock::time_point> first_confirm_after;
  for (std::size_t id = 0; id < kMessages; ++id) {
    ASSERT_EQ(confirms[id].wait_for(120s), std::future_status::ready) << "publish " << id;
    try {
      confirms[id].get();
      confirmed.push_back(id);
      if (id == first_unconfirmed && first_unconfirmed < kMessages) {
        first_confirm_after = Clock::now();
      }
    } catch (const MessagingError& e) {
      if (failed++ < 5) std::cout << "publish " << id << " failed: " << e.what() << "\n";
    }
  }
  const std::string after = client.CurrentNode();
  std::cout << "client now on node " << after << "\n";
  EXPECT_NE(after.find(node), 0U) << "still on the killed node " << node;

  EXPECT_EQ(failed, 0U) << "publishes must survive a failover (they are re-sent)";
  const bool all = tally.WaitForAll(confirmed, 120s);
  const auto missing = tally.Missing(confirmed);
  EXPECT_TRUE(all) << missing.size() << " confirmed messages never consumed, the first "
                   << (missing.empty() ? 0 : missing.front());
  // Drained: the queue holds nothing more (late redeliveries would show as duplicates).
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto info = client.InspectQueue(queue.name);
        return info.wait_for(10s) == std::future_status::ready && info.get().messages == 0;
      },
      30s));

  const auto duplicates = tally.DuplicatedIds();
  std::cout << "confirmed " << confirmed.size() << " of " << kMessages
            << ", consumed all: " << (all ? "yes" : "no") << ", duplicates " << tally.Duplicates()
            << " (" << duplicates.size() << " ids)";
  for (std::size_t i = 0; i < std::min<std::size_t>(duplicates.size(), 50); ++i) {
    std::cout << (i == 0 ? ": " : ", ") << duplicates[i].first << " x" << duplicates[i].second;
  }
  std::cout << (duplicates.size() > 50 ? ", ..." : "") << "\n";
  if (first_confirm_after) {
    std::cout << "kill -9 -> first confirm after it: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(*first_confirm_after -
                                                                       killed_at)
                     .count()
              << " ms\n";
  }
  const auto first_delivery = tally.FirstAtMark();
  ASSERT_TRUE(first_delivery.has_value()) << "no delivery after the kill";
  std::cout
      << "kill -9 -> first delivery of a message published after it: "
      << std::chrono::duration_cast<std::chrono::milliseconds>(*first_delivery - killed_at).count()
      << " ms\n";
  client.Close();
}

}  // namespace
}  // namespace cppblog::messaging
