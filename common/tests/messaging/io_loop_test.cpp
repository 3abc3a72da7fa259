// The I/O loop without a broker: it wakes for posted work while it waits to reconnect, and it
// stops (OnStopping last, state closed) before the handler that owns it goes.
#include "messaging/io_loop.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_url.hpp"

namespace cppblog::messaging {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;

constexpr auto kMaxTestWait = 10s;

// Port 1 on loopback refuses at once: a broker that is down.
ConnectionSettings UnreachableBroker(ClientMetrics& metrics, std::chrono::milliseconds backoff) {
  BrokerNode node;
  node.url = ParseAmqpUrl("amqp://guest:guest@127.0.0.1:1/%2F");
  node.display_url = "amqp://guest:***@127.0.0.1:1/%2F";
  node.name = NodeName(node.url);
  ConnectionSettings settings;
  settings.nodes.push_back(node);
  settings.reconnect_min = backoff;
  settings.reconnect_max = backoff;
  settings.connection_name = "io_loop_test";
  settings.display_url = node.display_url;
  settings.metrics = &metrics;
  return settings;
}

// What the loop called, in order; outlives the handler.
struct CallLog {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> calls;
  int commands_taken = 0;

  void Add(std::string call) {
    const std::lock_guard lock{mutex};
    calls.push_back(std::move(call));
    changed.notify_all();
  }
  bool WaitFor(int commands) {
    std::unique_lock lock{mutex};
    return changed.wait_for(lock, kMaxTestWait, [&] { return commands_taken >= commands; });
  }
  bool WaitForWork() {
    std::unique_lock lock{mutex};
    return changed.wait_for(lock, kMaxTestWait, [&] {
      return std::find(calls.begin(), calls.end(), "work") != calls.end();
    });
  }
};

// A handler with a command queue, owning its loop as the last member (as the connections do).
class Owner final : private IoHandler {
 public:
  Owner(std::shared_ptr<CallLog> log, ClientMetrics& metrics, std::chrono::milliseconds backoff)
      : log_(std::move(log)),
        loop_(UnreachableBroker(metrics, backoff), "test", *this, queue_mutex_,
              [log = log_](ConnectionState state) {
                log->Add(std::string("state ") + ToString(state));
              }) {}
  ~Owner() { log_->Add("owner destroyed"); }

  void PostCommand() {
    loop_.Post([&] { ++commands_; });
  }
  IoLoop& Loop() { return loop_; }

 private:
  void OnConnected(amqp_connection_state_t /*conn*/) override { log_->Add("connected"); }
  void OnConnectionLost() override {}
  void OnMethod(amqp_connection_state_t /*conn*/, amqp_channel_t /*channel*/,
                const amqp_method_t& /*method*/) override {}
  void OnChannelClosed(amqp_connection_state_t /*conn*/, amqp_channel_t /*channel*/,
                       const MessagingError& /*error*/) override {}
  void Work(amqp_connection_state_t conn, Clock::time_point /*now*/) override {
    int taken = 0;
    {
      const std::lock_guard lock{queue_mutex_};
      std::swap(taken, commands_);
    }
    const std::lock_guard lock{log_->mutex};
    if (log_->calls.empty() || log_->calls.back() != "work") log_->calls.push_back("work");
    log_->commands_taken += taken;
    if (conn != nullptr) log_->calls.push_back("work with a connection");
    log_->changed.notify_all();
  }
  Clock::time_point NextTimer() override { return Clock::time_point::max(); }
  bool HasWorkLocked() override { return commands_ > 0; }
  void OnStopping(amqp_connection_state_t conn) override {
    log_->Add(conn == nullptr ? "stopping" : "stopping with a connection");
  }

  std::shared_ptr<CallLog> log_;
  std::mutex queue_mutex_;
  int commands_ = 0;  // guarded by queue_mutex_
  IoLoop loop_;
};

TEST(AmqpIoLoop, APostWakesTheThreadWhileItWaitsToReconnect) {
  ClientMetrics metrics{nullptr};
  auto log = std::make_shared<CallLog>();
  // After the first refused attempt the thread sleeps for the backoff (a minute, ±25 %) unless
  // a post wakes it.
  Owner owner(log, metrics, 60s);
  ASSERT_TRUE(log->WaitForWork()) << "the loop never ran its handler's Work";

  owner.PostCommand();
  ASSERT_TRUE(log->WaitFor(1)) << "a posted command was not taken while the loop waited";
  owner.PostCommand();
  owner.PostCommand();

  EXPECT_TRUE(log->WaitFor(3)) << "posted commands were not taken while the loop waited";
}

TEST(AmqpIoLoop, StopEndsWithOnStoppingAndTheClosedState) {
  ClientMetrics metrics{nullptr};
  auto log = std::make_shared<CallLog>();
  Owner owner(log, metrics, 60s);
  ASSERT_TRUE(log->WaitForWork());

  owner.Loop().Stop();
  owner.Loop().Stop();  // idempotent

  EXPECT_EQ(owner.Loop().State(), ConnectionState::kClosed);
  const std::lock_guard lock{log->mutex};
  EXPECT_THAT(log->calls, ElementsAre("work", "stopping", "state closed"));
}

TEST(AmqpIoLoop, DestroyingItsOwnerStopsTheLoopBeforeTheOwnersStateGoes) {
  ClientMetrics metrics{nullptr};
  auto log = std::make_shared<CallLog>();
  {
    Owner owner(log, metrics, 60s);
    ASSERT_TRUE(log->WaitForWork());
  }

  const std::lock_guard lock{log->mutex};
  // The owner's destructor body runs first; its members (the loop first of them) go after it,
  // and the loop's thread makes its last calls while the handler's queue and log still exist.
  EXPECT_THAT(log->calls, ElementsAre("work", "owner destroyed", "stopping", "state closed"));
}

}  // namespace
}  // namespace cppblog::messaging
