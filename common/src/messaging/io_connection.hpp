#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/amqp_url.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "client_metrics.hpp"
#include "rabbitmq_c.hpp"

namespace cppblog::messaging {

using Clock = std::chrono::steady_clock;

/// An exception for a promise, sharing no memory with `error` (whose string buffer another
/// thread may free): futures are read on other threads.
[[nodiscard]] inline std::exception_ptr ErrorFor(const MessagingError& error) {
  return std::make_exception_ptr(MessagingError(error.kind(), std::string(error.what())));
}

/// One broker address of the list; the password is resolved already.
struct BrokerNode {
  AmqpUrl url;
  TlsOptions tls;
  std::chrono::seconds heartbeat{10};
  std::chrono::milliseconds connection_timeout{5'000};
  std::string display_url;  // password masked
  std::string name;         // host:port
};

/// Everything needed to open one connection.
struct ConnectionSettings {
  /// In the order to try them (shuffled once per client, so that the clients of a cluster
  /// spread over its nodes); never empty.
  std::vector<BrokerNode> nodes;
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5'000};
  std::string connection_name;
  std::string display_url;           // the whole list, passwords masked
  ClientMetrics* metrics = nullptr;  // never null once the client built the settings
};

/// One rabbitmq-c connection owned by one I/O thread (rabbitmq-c is not thread-safe).
///
/// The thread connects, reconnects with jittered exponential backoff, services heartbeats
/// (it never sleeps longer than heartbeat/2 without reading), and waits in poll() on the
/// socket and an eventfd. Other threads never touch the connection: they append to a
/// derived class's command queue under queue_mutex_ through Post(), which wakes the thread
/// only when it sleeps (one eventfd write per batch, not per message).
///
/// Derived classes implement the hooks, all called on the I/O thread, and must call Stop()
/// in their destructor.
class IoConnection {
 public:
  IoConnection(ConnectionSettings settings, std::string role,
               std::function<void()> on_state_change);
  virtual ~IoConnection();
  IoConnection(const IoConnection&) = delete;
  IoConnection& operator=(const IoConnection&) = delete;

  void Start();
  /// Ends the thread: the hooks' last call is OnStopping(); then the connection is closed
  /// cleanly. Idempotent.
  void Stop();

  [[nodiscard]] ConnectionState State() const noexcept { return state_.load(); }
  /// The node this connection is on, or tries next while recovering. Any thread.
  [[nodiscard]] const BrokerNode& CurrentNode() const noexcept {
    return settings_.nodes[current_node_.load()];
  }

 protected:
  /// Runs `push` under queue_mutex_ and wakes the I/O thread if it sleeps; a `push` that
  /// returns bool wakes it only when it returns true (what it queued can wait for the thread's
  /// next timer or read).
  template <typename F>
  void Post(F&& push) {
    bool wake = false;
    {
      std::lock_guard lock(queue_mutex_);
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        push();
        wake = io_idle_;
      } else {
        wake = push() && io_idle_;
      }
      if (wake) io_idle_ = false;
    }
    if (wake) Wake();
  }
  void Wake() noexcept;

  /// A live connection: open channels, replay topology. Throwing MessagingError drops it.
  virtual void OnConnected(amqp_connection_state_t conn) = 0;
  /// The connection is gone (or failed to come up): forget its channels and tags.
  virtual void OnConnectionLost() = 0;
  /// A method frame that is not connection-level; content (if any) is still unread.
  virtual void OnMethod(amqp_connection_state_t conn, amqp_channel_t channel,
                        const amqp_method_t& method) = 0;
  /// The broker closed `channel` (close-ok is sent already).
  virtual void OnChannelClosed(amqp_connection_state_t conn, amqp_channel_t channel,
                               const MessagingError& error) = 0;
  /// Take commands, send, handle timers. `conn` is null while disconnected.
  virtual void Work(amqp_connection_state_t conn, Clock::time_point now) = 0;
  /// Earliest timer of the derived class (Clock::time_point::max() for none).
  virtual Clock::time_point NextTimer() = 0;
  /// Under queue_mutex_: true when there is work now (commands, sendable messages): do not sleep.
  virtual bool HasWorkLocked() = 0;
  /// After each read of the socket (e.g. to hand a batch of deliveries on).
  virtual void AfterRead() {}
  /// Last call on the I/O thread, connection still open (or null).
  virtual void OnStopping(amqp_connection_state_t conn) = 0;

  [[nodiscard]] bool IsBlocked() const noexcept { return blocked_; }
  [[nodiscard]] const std::string& Role() const noexcept { return role_; }
  [[nodiscard]] const ConnectionSettings& Settings() const noexcept { return settings_; }

  /// Opens `channel` (after a channel error too: the broker closed it).
  void OpenChannel(amqp_connection_state_t conn, amqp_channel_t channel);
  /// After a failed RPC closed `channel`: tell the broker we saw it.
  void SendChannelCloseOk(amqp_connection_state_t conn, amqp_channel_t channel) noexcept;
  [[nodiscard]] ClientMetrics& Metrics() const noexcept { return *settings_.metrics; }

  std::mutex queue_mutex_;

 private:
  void Run();
  void Connect();
  void DropConnection(const std::string& why);
  /// On to the next address of the list (the same one when there is one).
  void NextNode();
  /// Reads what the socket has; returns the number of frames read (heartbeats not counted).
  int ReadAvailable();
  void Dispatch(const amqp_frame_t& frame);
  void Sleep(Clock::time_point until);
  /// When rabbitmq-c gives a silent broker up (two heartbeat intervals after the last bytes
  /// from it); the far future without heartbeats.
  [[nodiscard]] Clock::time_point SilentLimit() const;
  void SetState(ConnectionState state);

  ConnectionSettings settings_;
  std::string role_;
  std::function<void()> on_state_change_;
  int event_fd_ = -1;
  bool io_idle_ = false;  // guarded by queue_mutex_
  // I/O thread: the last poll() saw the socket readable, or did not look (false: it looked and
  // saw nothing, so reading would only cost a recv() and a poll() for nothing).
  bool socket_may_have_data_ = true;
  Clock::time_point next_read_{};  // read by then at the latest (heartbeats are serviced there)
  // Heartbeats are only serviced inside rabbitmq-c calls: never longer than half the interval
  // without reading.
  std::chrono::milliseconds heartbeat_tick_{1000};
  std::atomic<bool> stop_requested_{false};
  std::atomic<ConnectionState> state_{ConnectionState::kRecovering};
  std::atomic<std::size_t> current_node_{0};  // written by the I/O thread only
  std::thread thread_;

  // I/O thread only.
  amqp_connection_state_t conn_ = nullptr;
  bool blocked_ = false;
  bool socket_readable_ = false;            // the last poll() saw bytes from the broker
  Clock::time_point last_received_{};       // when bytes from the broker were last read
  std::chrono::milliseconds heartbeat_{0};  // as negotiated; 0: none
  bool reported_loss_ = false;
  bool ever_connected_ = false;     // a later connect is a recovery
  int open_channels_ = 0;           // counted in the rabbitmq_channels gauge
  bool counted_connected_ = false;  // counted in the rabbitmq_connections gauge
  std::mt19937 random_{std::random_device{}()};
};

}  // namespace cppblog::messaging
