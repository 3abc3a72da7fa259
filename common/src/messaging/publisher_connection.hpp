#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "amqp_message.hpp"
#include "confirm_tracker.hpp"
#include "io_loop.hpp"

namespace cppblog::messaging {

/// The publishing connection: one publish channel with confirms (1 after each connect), channel 2
/// declares (so a refused declaration never closes the channel that has publishes in flight).
///
/// Publishes are pipelined: up to `confirm_window` are in flight, each settled by the
/// broker's (possibly multiple) ack or nack; a basic.return marks its message unroutable.
/// On connection loss the unconfirmed ones go back to the front of the queue and are sent
/// again after the reconnect (so a consumer may see duplicates, never a loss).
///
/// A nack (ADR 0016) costs only the nacked publishes: one to a queue declared classic fails at
/// once with kNacked (a classic queue refuses because it is full, never for an election); any
/// other is sent again after a pause of its own (50 ms doubling to 1 s) until its publish
/// timeout, on a new publish channel of the same connection when the current one has nacked.
/// The replaced channel stays open until its last confirm came, then is closed. A nack never
/// drops the connection.
///
/// The per-message path is kept cheap (bench/amqp_throughput.sh measures it against a raw
/// rabbitmq-c loop): a publish is one Outgoing, allocated once and moved between the queues as
/// a pointer; settled ones go back to the callers for reuse, so the I/O thread frees no
/// message memory (a free on another thread than the allocating one contends for malloc's
/// arena lock); a caller wakes the I/O thread only when it can send now.
///
/// Connects in the background from construction on; the destructor stops the I/O thread.
class PublisherConnection final : private IoHandler {
 public:
  /// `on_state_change` gets each new state of the connection, on its I/O thread.
  PublisherConnection(ConnectionSettings settings, const AmqpClientOptions& options,
                      std::function<void(ConnectionState)> on_state_change);

  [[nodiscard]] std::future<void> Publish(const ExchangeSpec& exchange, std::string routing_key,
                                          Message&& message);
  [[nodiscard]] std::future<void> Publish(const QueueSpec& queue, Message&& message);
  /// The callback forms: `on_done` instead of a future (AmqpClient::Publish with a callback).
  void Publish(const ExchangeSpec& exchange, std::string routing_key, Message&& message,
               PublishCallback&& on_done);
  void Publish(const QueueSpec& queue, Message&& message, PublishCallback&& on_done);
  [[nodiscard]] std::future<QueueInfo> InspectQueue(std::string queue);

  /// New publishes fail with kClosed from now on.
  void BeginClose();
  /// Waits until every accepted publish is settled; false at the deadline.
  bool WaitSettled(Clock::time_point deadline);
  /// Ends the I/O thread: what is not settled yet fails with kClosed. Idempotent.
  void Stop() { loop_.Stop(); }

  [[nodiscard]] const BrokerNode& CurrentNode() const noexcept { return loop_.CurrentNode(); }

 private:
  using Target = std::variant<ExchangeSpec, QueueSpec>;
  /// A publish's destination as the caller passed it: copied into targets_ only when new.
  using TargetRef = std::variant<const ExchangeSpec*, const QueueSpec*>;

  struct Outgoing {
    std::string exchange;
    std::string routing_key;
    Message message;
    std::uint32_t target = 0;  // 1-based index into targets_; 0: nothing to declare
    metrics::Histogram* confirm_duration = nullptr;  // of its destination
    Clock::time_point deadline;
    Clock::time_point sent_at;                  // the last basic.publish of it
    std::optional<std::promise<void>> promise;  // none when on_done is set
    PublishCallback on_done;
    bool settled = false;     // the promise (or on_done) has its result
    std::uint32_t nacks = 0;  // times the broker refused it
    /// A queue declared classic: a nack is its refusal (full), final at once.
    bool refusal_is_final = false;
    Clock::time_point retry_at;  // when nacked: sent again from then on
    std::string return_text;     // why the broker returned it (basic.return)
  };
  using OutgoingPtr = std::unique_ptr<Outgoing>;
  /// A channel in confirm mode that publishes were sent on, with their delivery tags.
  struct PublishChannel {
    amqp_channel_t id = 0;
    ConfirmTracker<OutgoingPtr> in_flight;
  };
  struct Inspect {
    std::string queue;
    std::promise<QueueInfo> promise;
  };

  /// With `on_done`: it gets the result and the returned future is not valid.
  std::future<void> Enqueue(TargetRef target, std::string exchange, std::string routing_key,
                            Message&& message, PublishCallback&& on_done);
  std::uint32_t TargetIdLocked(TargetRef target);
  void Settle(Outgoing& message, std::exception_ptr error);
  void Confirm(PublishChannel& channel, const BrokerConfirm& confirm);
  void OnReturn(amqp_connection_state_t conn, PublishChannel& channel, const amqp_method_t& method);
  /// The current or a retiring publish channel with this number; null for another channel.
  PublishChannel* FindPublishChannel(amqp_channel_t id) noexcept;
  /// Publishes sent and not confirmed, over every publish channel.
  [[nodiscard]] std::size_t InFlight() const noexcept;
  /// Opens a new publish channel for what is sent from now on; the current one retires.
  void RenewPublishChannel(amqp_connection_state_t conn);
  /// Closes the retired channels whose publishes are all confirmed.
  void CloseDrainedChannels(amqp_connection_state_t conn);
  /// Nacked publishes whose pause is over go to the front of pending_, in their order.
  void TakeDueRetries(amqp_connection_state_t conn, Clock::time_point now);
  bool EnsureDeclared(amqp_connection_state_t conn, Outgoing& message);
  void SendPending(amqp_connection_state_t conn);
  /// Appends the frames of `m` (basic.publish, content header, body) to frames_.
  void AppendPublish(amqp_connection_state_t conn, const Outgoing& m,
                     amqp_basic_properties_t props);
  /// Writes frames_ to the socket (all of it, or throws kConnectionLost) and clears it.
  void WriteFrames(amqp_connection_state_t conn);
  /// A popped Outgoing (settled, or a shell) goes back to the callers for reuse.
  void Recycle(OutgoingPtr message);
  void ExpireTimeouts(Clock::time_point now);
  void RunInspects(amqp_connection_state_t conn, std::vector<Inspect>& inspects);
  /// Opens channel `id` in confirm mode.
  void OpenPublishChannel(amqp_connection_state_t conn, amqp_channel_t id);
  /// Connected, not blocked, and room in the confirm window.
  [[nodiscard]] bool RoomToSend() const noexcept;

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
  void OnStopping(amqp_connection_state_t conn) override;

  static constexpr std::chrono::milliseconds kMinNackBackoff{50};
  static constexpr std::chrono::milliseconds kMaxNackBackoff{1000};
  /// A new publish channel at most this often, and at most kMaxRetiring replaced ones open.
  static constexpr std::chrono::milliseconds kMinChannelRenewal{1000};
  static constexpr std::size_t kMaxRetiring = 8;

  const std::size_t window_;
  const std::size_t max_outstanding_;
  const std::chrono::milliseconds timeout_;

  // An Outgoing whose body holds more than this is freed, not kept for reuse; and at most
  // spare_limit_ (the confirm window, within 64..4096) are kept.
  static constexpr std::size_t kMaxSpareBody = 4 * 1024;
  const std::size_t spare_limit_;

  // Guards what follows, up to closing_; loop_ takes it for Post() and HasWorkLocked().
  std::mutex queue_mutex_;
  std::vector<OutgoingPtr> incoming_;
  std::vector<OutgoingPtr> spare_;  // settled, for Enqueue to fill again
  /// Set by the I/O thread before it sleeps: whether a new publish gives it something to do
  /// (room to send it, or no earlier timer that would take it from incoming_ in time).
  bool intake_wakes_ = true;
  std::vector<Inspect> inspects_;
  std::vector<Target> targets_;
  std::vector<metrics::Histogram*> target_durations_;  // parallel to targets_
  std::map<std::string, std::uint32_t, std::less<>> exchange_ids_;
  std::map<std::string, std::uint32_t, std::less<>> queue_ids_;
  bool closing_ = false;

  std::atomic<std::size_t> outstanding_{0};
  std::atomic<bool> draining_{false};
  std::mutex drain_mutex_;
  std::condition_variable drain_cv_;

  // I/O thread only.
  bool connected_ = false;
  std::vector<OutgoingPtr> batch_;
  std::vector<OutgoingPtr> done_;  // to go to spare_
  std::deque<OutgoingPtr> pending_;
  PublishChannel current_;                    // where publishes go now
  std::vector<PublishChannel> retiring_;      // replaced after a nack, until their confirms came
  amqp_channel_t last_channel_id_ = 0;        // the last publish channel opened
  bool current_nacked_ = false;               // current_ nacked: retries go on a new channel
  Clock::time_point renewed_at_{};            // when current_ was opened
  std::chrono::milliseconds renew_pause_{0};  // no renewal before renewed_at_ + this
  std::deque<OutgoingPtr> nacked_;            // refused, to be sent again at their retry_at
  std::vector<char> declared_;                // per target, on this connection
  amqp::FieldStorage fields_;                 // headers of the message being sent
  std::string frames_;                        // encoded publishes not yet written
  std::vector<char> scratch_;                 // one frame's payload while it is encoded

  // Last: its thread calls the hooks above from construction on, and is joined before any
  // member above is destroyed.
  IoLoop loop_;
};

}  // namespace cppblog::messaging
