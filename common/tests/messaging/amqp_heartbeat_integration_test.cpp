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

TEST(AmqpHeartbeat, ABrokerThatStopsAnsweringIsNoticedWithinTwoHeartbeatsAndRecoveredFrom) {
  OwnBroker broker;
  StateLog log;
  AmqpClient client{{.url = broker.Url(),
                     .heartbeat = kHeartbeat,
                     // A stopped node accepts TCP connections (the kernel does) and never
                     // answers the handshake: give up on each attempt soon.
                     .connection_timeout = 1s,
                     .reconnect_min = 50ms,
                     .reconnect_max = 500ms,
                     .on_state_change = log.Callback()}};
  Inbox inbox;
  const std::string queue = UniqueName("heartbeat");
  auto subscribed = client.SubscribeToQueue({.name = queue}, inbox.Recorder(), {});
  Await(subscribed, "subscribe");
  ASSERT_TRUE(log.WaitConnected());
  // A confirmed round trip just before the stop: the last frame from the broker is now.
  auto before = client.PublishToQueue({.name = queue}, {.body = "before"});
  Await(before, "publish before the stop");
  ASSERT_TRUE(inbox.WaitFor(1, kWait));

  std::vector<std::future<void>> during;
  std::optional<Clock::time_point> noticed;
  const auto stopped_at = Clock::now();
  {
    StoppedProcess stopped{broker.VmPid()};
    // Accepted while the broker hangs; confirmed after it is back.
    for (int i = 0; i < 10; ++i) {
      during.push_back(client.PublishToQueue({.name = queue}, {.body = std::to_string(i)}));
    }
    // Generous, so that a slow detection shows as a number rather than a timeout.
    noticed = log.WaitForLoss(6 * kHeartbeat);
    ASSERT_TRUE(noticed.has_value()) << "a broker that stopped answering was not noticed within "
                                     << (6 * kHeartbeat).count() << " s";
    EXPECT_EQ(client.State(), ConnectionState::kRecovering);
  }  // SIGCONT

  const auto detection =
      std::chrono::duration_cast<std::chrono::milliseconds>(*noticed - stopped_at);
  std::cout << "heartbeat " << kHeartbeat.count() << " s: the stopped broker was noticed after "
            << detection.count() << " ms\n";
  ::testing::Test::RecordProperty("detection_ms", static_cast<int>(detection.count()));
  // AMQP 0-9-1: a peer that receives nothing for two heartbeat intervals is dead. Allowance
  // for scheduling on a loaded machine, not for a late check.
  EXPECT_LE(detection, 2 * kHeartbeat + 300ms);
  EXPECT_GE(detection, 2 * kHeartbeat - 300ms) << "noticed before the heartbeats were missed";

  ASSERT_TRUE(log.WaitConnected()) << "no recovery after the broker answered again";
  for (auto& publish : during) Await(publish, "publish while the broker was stopped");
  ASSERT_TRUE(inbox.WaitFor(1 + during.size(), kWait))
      << "confirmed publishes did not all arrive: " << inbox.Messages().size();
  const auto states = log.States();
  ASSERT_GE(states.size(), 3U);
  EXPECT_EQ(states[0], ConnectionState::kConnected);
  EXPECT_EQ(states[1], ConnectionState::kRecovering);
  EXPECT_EQ(states.back(), ConnectionState::kConnected);
}

}  // namespace
}  // namespace cppblog::messaging
