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
#include "confirm_tracker.hpp"
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

/// The confirm in a basic.ack or basic.nack method (`method.id` one of those two).
[[nodiscard]] inline BrokerConfirm ConfirmOf(const amqp_method_t& method) noexcept {
  if (method.id == AMQP_BASIC_NACK_METHOD) {
    const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
    return {.delivery_tag = nack->delivery_tag, .multiple = nack->multiple != 0, .ack = false};
  }
  const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
  return {.delivery_tag = ack->delivery_tag, .multiple = ack->multiple != 0, .ack = true};
}

/// What an IoLoop calls, always on its I/O thread, never after its Stop() returned.
///
/// An interface rather than a struct of callables: the hooks are required (a missing one does not
/// compile, where a std::function would be empty at run time; only AfterRead has a default), all
/// of them work on one object's state, and a call costs one indirect call. The object that
/// implements it owns the IoLoop as its last member, so that the loop stops (joins its thread)
/// before any state a hook touches goes.
class IoHandler {
 public:
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
  /// Earliest timer of the handler (Clock::time_point::max() for none).
  virtual Clock::time_point NextTimer() = 0;
  /// Under the queue mutex (the owner's, given to the IoLoop), right before the thread sleeps:
  /// true when there is work now (commands queued, messages it can send), so it does not sleep.
  virtual bool HasWorkLocked() = 0;
  /// After each read of the socket (e.g. to hand a batch of deliveries on).
  virtual void AfterRead() {}
  /// Last call, connection still open (or null).
  virtual void OnStopping(amqp_connection_state_t conn) = 0;

 protected:
  ~IoHandler() = default;  // never owned through this interface
};

/// One rabbitmq-c connection owned by one I/O thread (rabbitmq-c is not thread-safe).
///
/// The thread starts in the constructor and ends in Stop() or the destructor. It connects,
/// reconnects with jittered exponential backoff along the node list, services heartbeats (it never
/// sleeps longer than heartbeat/2 without reading, and notices a silent broker two heartbeat
/// intervals after its last bytes), and waits in poll() on the socket and an eventfd. Other threads
/// never touch the connection: they queue work for the handler through Post(), under the queue
/// mutex its owner holds next to its queues, which writes the eventfd only when the thread sleeps
/// (one write per batch, not per message).
class IoLoop {
 public:
  /// Starts the I/O thread, which calls `handler` from now on: construct the loop after
  /// everything the handler touches (as the last member of its owner). `queue_mutex` is the
  /// owner's lock over the queues that Post() fills and the handler's Work() empties; the loop
  /// takes it for Post() and to ask HasWorkLocked() before it sleeps. `on_state_change` gets each
  /// new State(), on the I/O thread.
  IoLoop(ConnectionSettings settings, std::string role, IoHandler& handler, std::mutex& queue_mutex,
         std::function<void(ConnectionState)> on_state_change);
  /// Stop().
  ~IoLoop();
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  /// Ends the thread: the handler's last call is OnStopping(); then the connection is closed
  /// cleanly and the state is kClosed. Idempotent; not from the I/O thread.
  void Stop();

  /// Any thread: runs `push` under the queue mutex, then wakes the I/O thread if it sleeps. A
  /// `push` that returns bool wakes it only when it returns true (what it queued can wait for the
  /// thread's next timer or read). A busy thread finds the work through HasWorkLocked() before it
  /// sleeps, so a burst of pushes costs one eventfd write.
  template <typename F>
  void Post(F&& push) {
    bool wake = false;
    {
      std::lock_guard lock(queue_mutex_);
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        push();
        wake = idle_;
      } else {
        wake = push() && idle_;
      }
      if (wake) idle_ = false;
    }
    if (wake) Wake();
  }

  /// Any thread.
  [[nodiscard]] ConnectionState State() const noexcept { return state_.load(); }
  /// The node this connection is on, or tries next while recovering. Any thread.
  [[nodiscard]] const BrokerNode& CurrentNode() const noexcept {
    return settings_.nodes[current_node_.load()];
  }
  [[nodiscard]] ClientMetrics& Metrics() const noexcept { return *settings_.metrics; }

  // I/O thread only (the handler's hooks).

  /// The broker sent connection.blocked (and no unblocked since): send nothing.
  [[nodiscard]] bool IsBlocked() const noexcept { return blocked_; }
  /// Opens `channel` (after a channel error too: the broker closed it).
  void OpenChannel(amqp_connection_state_t conn, amqp_channel_t channel);
  /// Closes `channel` (channel.close, waiting for close-ok); frames of other channels that come
  /// meanwhile are kept for the next read.
  void CloseChannel(amqp_connection_state_t conn, amqp_channel_t channel);
  /// After a failed RPC closed `channel`: tell the broker we saw it.
  void SendChannelCloseOk(amqp_connection_state_t conn, amqp_channel_t channel) noexcept;

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
  void Wake() noexcept;
  /// When rabbitmq-c gives a silent broker up (two heartbeat intervals after the last bytes
  /// from it); the far future without heartbeats.
  [[nodiscard]] Clock::time_point SilentLimit() const;
  void SetState(ConnectionState state);

  const ConnectionSettings settings_;
  const std::string role_;
  IoHandler& handler_;
  std::mutex& queue_mutex_;
  const std::function<void(ConnectionState)> on_state_change_;
  const int event_fd_;
  bool idle_ = false;  // guarded by queue_mutex_: the thread sleeps (or is about to)
  std::atomic<bool> stop_requested_{false};
  std::atomic<ConnectionState> state_{ConnectionState::kRecovering};
  std::atomic<std::size_t> current_node_{0};  // written by the I/O thread only

  // I/O thread only.
  amqp_connection_state_t conn_ = nullptr;
  bool blocked_ = false;
  // The last poll() saw the socket readable, or did not look (false: it looked and saw nothing,
  // so reading would only cost a recv() and a poll() for nothing).
  bool socket_may_have_data_ = true;
  bool socket_readable_ = false;       // the last poll() saw bytes from the broker
  Clock::time_point next_read_{};      // read by then at the latest (heartbeats are serviced there)
  Clock::time_point last_received_{};  // when bytes from the broker were last read
  // Heartbeats are only serviced inside rabbitmq-c calls: never longer than half the interval
  // without reading.
  std::chrono::milliseconds heartbeat_tick_{1000};
  std::chrono::milliseconds heartbeat_{0};  // as negotiated; 0: none
  bool reported_loss_ = false;
  bool ever_connected_ = false;     // a later connect is a recovery
  int open_channels_ = 0;           // counted in the rabbitmq_channels gauge
  bool counted_connected_ = false;  // counted in the rabbitmq_connections gauge
  std::mt19937 random_{std::random_device{}()};

  std::thread thread_;  // last: started once everything above is set
};

}  // namespace cppblog::messaging
