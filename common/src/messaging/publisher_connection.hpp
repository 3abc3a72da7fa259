#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "io_connection.hpp"

namespace cppblog::messaging {

/// The publishing connection: channel 1 publishes with confirms, channel 2 declares (so a
/// refused declaration never closes the channel that has publishes in flight).
///
/// Publishes are pipelined: up to `confirm_window` are in flight, each settled by the
/// broker's (possibly multiple) ack or nack; a basic.return marks its message unroutable.
/// On connection loss the unconfirmed ones go back to the front of the queue and are sent
/// again after the reconnect (so a consumer may see duplicates, never a loss).
class PublisherConnection final : public IoConnection {
 public:
  PublisherConnection(ConnectionSettings settings, const AmqpClientOptions& options,
                      std::function<void()> on_state_change);
  ~PublisherConnection() override;

  [[nodiscard]] std::future<void> Publish(const ExchangeSpec& exchange, std::string routing_key,
                                          Message message);
  [[nodiscard]] std::future<void> Publish(const QueueSpec& queue, Message message);
  /// The callback forms: `on_done` instead of a future (AmqpClient::Publish with a callback).
  void Publish(const ExchangeSpec& exchange, std::string routing_key, Message message,
               PublishCallback on_done);
  void Publish(const QueueSpec& queue, Message message, PublishCallback on_done);
  [[nodiscard]] std::future<QueueInfo> InspectQueue(std::string queue);

  /// New publishes fail with kClosed from now on.
  void BeginClose();
  /// Waits until every accepted publish is settled; false at the deadline.
  bool WaitSettled(Clock::time_point deadline);

 private:
  using Target = std::variant<ExchangeSpec, QueueSpec>;

  struct Outgoing {
    std::string exchange;
    std::string routing_key;
    Message message;
    std::uint32_t target = 0;  // 1-based index into targets_; 0: nothing to declare
    metrics::Histogram* confirm_duration = nullptr;  // of its destination
    Clock::time_point deadline;
    Clock::time_point sent_at;   // the last basic.publish of it
    std::promise<void> promise;  // unused when on_done is set
    PublishCallback on_done;
    bool settled = false;     // the promise (or on_done) has its result
    bool confirmed = false;   // the broker acked or nacked it
    bool returned = false;    // basic.return came first: unroutable
    std::uint32_t nacks = 0;  // times the broker refused it
    std::string return_text;
  };
  struct Inspect {
    std::string queue;
    std::promise<QueueInfo> promise;
  };

  /// With `on_done`: it gets the result and the returned future is not valid.
  std::future<void> Enqueue(const Target& target, std::string exchange, std::string routing_key,
                            Message message, PublishCallback on_done = {});
  std::uint32_t TargetIdLocked(const Target& target);
  void Settle(Outgoing& message, std::exception_ptr error);
  void Confirm(std::uint64_t tag, bool multiple, bool ack);
  void OnReturn(amqp_connection_state_t conn, amqp_channel_t channel, const amqp_method_t& method);
  bool EnsureDeclared(amqp_connection_state_t conn, Outgoing& message);
  void SendPending(amqp_connection_state_t conn);
  void ExpireTimeouts(Clock::time_point now);
  void RunInspects(amqp_connection_state_t conn, std::vector<Inspect>& inspects);
  void ResetPublishChannel(amqp_connection_state_t conn);
  [[nodiscard]] bool CanSend() const noexcept;

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

  const std::size_t window_;
  const std::size_t max_outstanding_;
  const std::chrono::milliseconds timeout_;

  // Guarded by queue_mutex_.
  std::vector<Outgoing> incoming_;
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
  std::vector<Outgoing> batch_;
  std::deque<Outgoing> pending_;
  std::deque<Outgoing> in_flight_;  // delivery tags first_tag_, first_tag_ + 1, ...
  std::deque<Outgoing> nacked_;     // refused, to be sent again at hold_until_
  Clock::time_point hold_until_{};  // no sending before (after a nack)
  std::chrono::milliseconds nack_backoff_{0};
  std::uint64_t first_tag_ = 1;
  std::vector<char> declared_;  // per target, on this connection
  std::vector<amqp_table_entry_t> header_entries_;
};

}  // namespace cppblog::messaging
