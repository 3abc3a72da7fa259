// Heartbeat dead-peer detection: a broker that stops answering without closing the socket
// (its Erlang VM stopped with SIGSTOP, as a hung host or a network partition looks to a client)
// is noticed by the missed heartbeats, and recovered from once it answers again (SIGCONT).
//
// The test stops the VM of a node of its own (OwnBroker), never the shared test broker: `./dev
// test` runs ctest with -j2, and a stopped shared node would fail whatever runs beside it. The
// VM is continued in a scope guard, so a failing assertion never leaves it stopped. The target
// is RUN_SERIAL all the same (it holds the recovery tests), which keeps the timing quiet.
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/types.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "own_broker.hpp"

namespace cppblog::messaging {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kWait = 60s;
constexpr auto kHeartbeat = 2s;
// The client checks for missed heartbeats every half interval; this is between two checks.
constexpr auto kHalfwayBetweenChecks = std::chrono::milliseconds{kHeartbeat} * 3 / 4;  // 1.5 s

// Every state change with the time it came, so a test can wait for "lost" and "back" and
// say when the loss was noticed.
class StateLog {
 public:
  std::function<void(ConnectionState)> Callback() {
    return [this](ConnectionState state) {
      std::lock_guard lock(mutex_);
      if (state == ConnectionState::kRecovering && !first_loss_) first_loss_ = Clock::now();
      current_ = state;
      states_.push_back(state);
      cv_.notify_all();
    };
  }
  // The time the first loss was reported, or nothing at the deadline.
  std::optional<Clock::time_point> WaitForLoss(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return first_loss_.has_value(); });
    return first_loss_;
  }
  bool WaitConnected() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return current_ == ConnectionState::kConnected; });
  }
  std::vector<ConnectionState> States() {
    std::lock_guard lock(mutex_);
    return states_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Clock::time_point> first_loss_;
  ConnectionState current_ = ConnectionState::kRecovering;
  std::vector<ConnectionState> states_;
};

// SIGSTOP of a process for the life of this object; SIGCONT on destruction, whatever happened.
class StoppedProcess {
 public:
  explicit StoppedProcess(pid_t pid) : pid_(pid) {
    if (::kill(pid_, SIGSTOP) != 0) throw std::runtime_error("kill -STOP failed");
  }
  ~StoppedProcess() { Continue(); }
  StoppedProcess(const StoppedProcess&) = delete;
  StoppedProcess& operator=(const StoppedProcess&) = delete;
  void Continue() {
    if (pid_ == 0) return;
    const int status = ::kill(pid_, SIGCONT);
    EXPECT_EQ(status, 0) << "kill -CONT " << pid_ << " failed: the node may be left stopped";
    pid_ = 0;
  }

 private:
  pid_t pid_;
};

void Await(std::future<void>& future, const char* what) {
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready) << what;
  future.get();
}

AmqpClientOptions Options(const OwnBroker& broker, StateLog& log) {
  return {.url = broker.Url(),
          .heartbeat = kHeartbeat,
          // A stopped node accepts TCP connections (the kernel does) and never answers the
          // handshake: give up on each attempt soon.
          .connection_timeout = 1s,
          .reconnect_min = 50ms,
          .reconnect_max = 500ms,
          .on_state_change = log.Callback()};
}

// One test (one node to start: CTest runs each test in a process of its own), two clients:
// `client` publishes and consumes, `sparse` only publishes, once more while the broker hangs,
// as a service that publishes now and then does. Neither may take longer than two heartbeats.
TEST(AmqpHeartbeat, ABrokerThatStopsAnsweringIsNoticedWithinTwoHeartbeatsAndRecoveredFrom) {
  OwnBroker broker;
  StateLog log;
  StateLog sparse_log;
  AmqpClient client{Options(broker, log)};
  AmqpClient sparse{Options(broker, sparse_log)};
  Inbox inbox;
  const std::string queue = UniqueName("heartbeat");
  auto subscribed = client.SubscribeToQueue({.name = queue}, inbox.Recorder(), {});
  Await(subscribed, "subscribe");
  ASSERT_TRUE(log.WaitConnected());
  ASSERT_TRUE(sparse_log.WaitConnected());
  // Confirmed round trips just before the stop: the last frames from the broker come now.
  auto before = client.PublishToQueue({.name = queue}, {.body = "before"});
  Await(before, "publish before the stop");
  ASSERT_TRUE(inbox.WaitFor(1, kWait));
  auto sparse_before = sparse.PublishToQueue({.name = queue}, {.body = "sparse before"});
  Await(sparse_before, "publish before the stop");

  std::vector<std::future<void>> during;
  std::optional<Clock::time_point> noticed;
  std::optional<Clock::time_point> sparse_noticed;
  const auto stopped_at = Clock::now();
  {
    StoppedProcess stopped{broker.VmPid()};
    // Accepted while the broker hangs; confirmed after it is back.
    for (int i = 0; i < 10; ++i) {
      during.push_back(client.PublishToQueue({.name = queue}, {.body = std::to_string(i)}));
    }
    // Not noticed while the heartbeats are not yet missed; then one more publish, between
    // two of the client's heartbeat checks.
    EXPECT_FALSE(sparse_log.WaitForLoss(kHalfwayBetweenChecks).has_value())
        << "noticed before two heartbeats were missed";
    during.push_back(sparse.PublishToQueue({.name = queue}, {.body = "sparse during"}));
    // Generous, so that a slow detection shows as a number rather than a timeout.
    noticed = log.WaitForLoss(6 * kHeartbeat);
    sparse_noticed = sparse_log.WaitForLoss(6 * kHeartbeat);
    ASSERT_TRUE(noticed.has_value() && sparse_noticed.has_value())
        << "a broker that stopped answering was not noticed within " << (6 * kHeartbeat).count()
        << " s";
    EXPECT_EQ(client.State(), ConnectionState::kRecovering);
  }  // SIGCONT

  const auto ms = [&](Clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - stopped_at);
  };
  std::cout << "heartbeat " << kHeartbeat.count() << " s: the stopped broker was noticed after "
            << ms(*noticed).count() << " ms (publishing and consuming), "
            << ms(*sparse_noticed).count() << " ms (publishing now and then)\n";
  ::testing::Test::RecordProperty("detection_ms", static_cast<int>(ms(*noticed).count()));
  ::testing::Test::RecordProperty("sparse_detection_ms",
                                  static_cast<int>(ms(*sparse_noticed).count()));
  // AMQP 0-9-1: a peer that receives nothing for two heartbeat intervals is dead. Allowance
  // for scheduling on a loaded machine, not for a late check.
  for (const auto at : {*noticed, *sparse_noticed}) {
    EXPECT_LE(ms(at), 2 * kHeartbeat + 300ms);
    EXPECT_GE(ms(at), 2 * kHeartbeat - 300ms) << "noticed before the heartbeats were missed";
  }

  ASSERT_TRUE(log.WaitConnected()) << "no recovery after the broker answered again";
  ASSERT_TRUE(sparse_log.WaitConnected()) << "no recovery after the broker answered again";
  for (auto& publish : during) Await(publish, "publish while the broker was stopped");
  ASSERT_TRUE(inbox.WaitFor(2 + during.size(), kWait))
      << "confirmed publishes did not all arrive: " << inbox.Messages().size();
  for (StateLog* l : {&log, &sparse_log}) {
    const auto states = l->States();
    ASSERT_GE(states.size(), 3U);
    EXPECT_EQ(states[0], ConnectionState::kConnected);
    EXPECT_EQ(states[1], ConnectionState::kRecovering);
    EXPECT_EQ(states.back(), ConnectionState::kConnected);
  }
}

}  // namespace
}  // namespace cppblog::messaging
