#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cppblog/messaging/subscription.hpp"

#include "amqp_message.hpp"
#include "confirm_tracker.hpp"
#include "io_loop.hpp"
#include "worker_pool.hpp"

namespace cppblog::messaging {

/// A subscription as the caller asked for it; immutable, shared with the workers.
struct SubscriptionConfig {
  std::uint32_t id = 0;
  std::optional<ExchangeSpec> exchange;
  std::vector<std::string> binding_keys;
  QueueSpec queue;
  Handler handler;
  ConsumerOptions options;
  metrics::Histogram* process_duration = nullptr;  // messaging_process_duration_seconds
};

enum class SubscriptionOp { kPause, kResume, kCancel };

class ConsumerConnection;

/// What Subscription handles reach their connection through; `connection` is null once the
/// connection is gone.
struct ConsumerLink {
  std::mutex mutex;
  ConsumerConnection* connection = nullptr;
};

/// The consuming connection. Each subscription has its own channel (3, 4, ...) on which it
/// declares its exchange, queue and `<queue>.dlq`, binds, sets its prefetch and consumes;
/// channel 2 republishes (retries, dead letters) with confirms, and the original delivery is
/// acked only after the republish is confirmed. Deliveries run on the worker pool; their
/// outcome comes back here. Acks are tied to the channel generation they were delivered on:
/// after a reconnect, late acks of the dead connection are dropped (the broker redelivers).
///
/// Connects in the background from construction on; the destructor detaches the Subscription
/// handles and stops the I/O thread.
class ConsumerConnection final : private IoHandler {
 public:
  /// `on_state_change` gets each new state of the connection, on its I/O thread. Deliveries
  /// run on `pool`, whose tasks call back into this connection: stop it before destroying this.
  ConsumerConnection(ConnectionSettings settings, WorkerPool& pool,
                     std::function<void(ConnectionState)> on_state_change);
  ~ConsumerConnection();
  ConsumerConnection(const ConsumerConnection&) = delete;
  ConsumerConnection& operator=(const ConsumerConnection&) = delete;

  [[nodiscard]] std::future<void> Subscribe(std::shared_ptr<const SubscriptionConfig> config);
  /// Cancels every consumer (no more deliveries reach handlers); false at the deadline.
  bool StopConsuming(Clock::time_point deadline);
  /// Waits until the outcomes of finished handlers are sent (acks, confirmed republishes).
  bool WaitFlushed(Clock::time_point deadline);
  /// Pauses, resumes or cancels subscription `id`; completes as Subscription describes.
  [[nodiscard]] std::future<void> Control(std::uint32_t id, SubscriptionOp op);
  /// The control of a Subscription handle for subscription `id`.
  [[nodiscard]] std::shared_ptr<Subscription::Control> MakeControl(std::uint32_t id);
  /// A control on `link` (whose connection is null): every call fails with kClosed.
  [[nodiscard]] static std::shared_ptr<Subscription::Control> MakeDetachedControl(
      std::shared_ptr<ConsumerLink> link);
  /// Ends the I/O thread: waiting Subscribe()s fail with kClosed, waiting cancels and flushes
  /// complete. Idempotent.
  void Stop() { loop_.Stop(); }

  [[nodiscard]] const BrokerNode& CurrentNode() const noexcept { return loop_.CurrentNode(); }

 private:
  struct Consumer {
    std::shared_ptr<const SubscriptionConfig> config;
    std::optional<std::promise<void>> ready;  // until the first consume-ok
    amqp_channel_t channel = 0;
    bool channel_open = false;
    bool active = false;      // set up on an open channel: its deliveries' acks count
    bool consuming = false;   // the broker has our consumer (basic.consume-ok, no cancel since)
    bool paused = false;      // by the handle: set up without consuming
    bool cancelling = false;  // by the handle: closes once settled, then is erased
    std::vector<std::promise<void>> cancel_waiters;
    std::uint64_t generation = 0;  // changes with every (re)opened consumer
    std::string queue_name;
    std::string consumer_tag;
    Clock::time_point setup_at = Clock::time_point::max();  // pending (re)setup
    // Deliveries not yet acked on this channel, by tag from first_unacked: kUnsettled,
    // kAckDue (handler done, ack not sent) or kSettled. Lets one multiple-ack cover a run.
    std::uint64_t first_unacked = 1;
    std::deque<std::uint8_t> unacked;
    bool acks_due = false;
  };
  struct Result {
    std::uint32_t subscription = 0;
    std::uint64_t generation = 0;
    std::uint64_t delivery_tag = 0;
    Outcome outcome = Outcome::kAck;
    bool poison = false;  // kDeadLetter from a PoisonMessage (else the handler chose it)
    std::string reason;
    Message message;  // kept for retries and dead letters
  };
  struct Republish {
    std::uint32_t subscription = 0;
    std::uint64_t generation = 0;
    std::uint64_t delivery_tag = 0;  // of the original, acked on confirm
    std::string routing_key;         // queue, through the default exchange
    Message message;
    Clock::time_point due;
  };

  struct ControlRequest {
    std::uint32_t id = 0;
    SubscriptionOp op = SubscriptionOp::kPause;
    std::promise<void> done;
  };

  // Declares (on a new channel: with fresh delivery bookkeeping) and, unless paused, consumes.
  void Setup(amqp_connection_state_t conn, Consumer& sub);
  // basic.consume on the subscription's open channel; its bookkeeping stays.
  void Consume(amqp_connection_state_t conn, Consumer& sub);
  // basic.cancel, the channel kept.
  void StopConsumer(amqp_connection_state_t conn, Consumer& sub);
  // A channel error during set-up or (un)pausing: the channel is gone, set up again later.
  void OnSetupChannelError(amqp_connection_state_t conn, Consumer& sub,
                           const MessagingError& error);
  void ApplyControl(amqp_connection_state_t conn, ControlRequest& request, Clock::time_point now);
  // Closes cancelled subscriptions whose deliveries are all settled (or gone with the
  // connection), completes their Cancel()s and erases them.
  void FinishCancels(amqp_connection_state_t conn);
  [[nodiscard]] bool AllSettled(std::uint32_t id, const Consumer& sub) const;
  void OnDeliver(amqp_connection_state_t conn, amqp_channel_t channel, const amqp_method_t& method);
  void RunHandler(const SubscriptionConfig& config, std::uint64_t generation,
                  std::uint64_t delivery_tag, Message message);
  void HandleResult(amqp_connection_state_t conn, Result& result, Clock::time_point now);
  void DeadLetter(Consumer& sub, Result& result, const std::string& reason, Clock::time_point now);
  void SendRepublish(amqp_connection_state_t conn, Republish republish);
  void ConfirmRepublish(amqp_connection_state_t conn, const BrokerConfirm& confirm);
  void SettleOriginal(amqp_connection_state_t conn, const Republish& republish, bool ok);
  void ResetRepublishChannel(amqp_connection_state_t conn);
  static void Track(Consumer& sub, std::uint64_t tag);
  static void Mark(Consumer& sub, std::uint64_t tag, std::uint8_t state);
  void SendDueAcks(amqp_connection_state_t conn);
  // Completes the flush waiters once no republish is unconfirmed or due.
  void ResolveFlushWaiters(Clock::time_point now);
  void CancelConsumers(amqp_connection_state_t conn);
  Consumer* FindByChannel(amqp_channel_t channel);

  // IoHandler, on the I/O thread.
  void OnConnected(amqp_connection_state_t conn) override;
  void OnConnectionLost() override;
  void OnMethod(amqp_connection_state_t conn, amqp_channel_t channel,
                const amqp_method_t& method) override;
  void OnChannelClosed(amqp_connection_state_t conn, amqp_channel_t channel,
                       const MessagingError& error) override;
  void Work(amqp_connection_state_t conn, Clock::time_point now) override;
  Clock::time_point NextTimer() override;
  bool HasWorkLocked() override;
  void AfterRead() override;
  void OnStopping(amqp_connection_state_t conn) override;

  WorkerPool& pool_;
  std::shared_ptr<ConsumerLink> link_ = std::make_shared<ConsumerLink>();

  // Guards what follows, up to stopped_; loop_ takes it for Post() and HasWorkLocked().
  std::mutex queue_mutex_;
  std::vector<std::pair<std::shared_ptr<const SubscriptionConfig>, std::promise<void>>> new_;
  std::vector<Result> results_;
  std::vector<std::promise<void>> cancel_requests_;
  std::vector<std::promise<void>> flush_requests_;
  std::vector<ControlRequest> control_requests_;
  bool stopped_ = false;  // OnStopping ran: no request is taken any more

  // I/O thread only.
  bool connected_ = false;
  bool consuming_ = true;
  std::uint64_t next_generation_ = 1;
  std::map<std::uint32_t, Consumer> subscriptions_;
  std::vector<Result> results_batch_;
  std::vector<WorkerPool::Task> tasks_;
  std::vector<Republish> delayed_;         // retries waiting for their backoff
  ConfirmTracker<Republish> republishes_;  // sent on the republish channel, by delivery tag
  std::vector<std::promise<void>> flush_waiters_;
  amqp::FieldStorage fields_;  // headers of the message being sent

  // Last: its thread calls the hooks above from construction on, and is joined before any
  // member above is destroyed.
  IoLoop loop_;
};

}  // namespace cppblog::messaging
