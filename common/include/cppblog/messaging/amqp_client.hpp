#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cppblog/messaging/connection_state.hpp"
#include "cppblog/messaging/message_publisher.hpp"
#include "cppblog/messaging/message_subscriber.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/subscription.hpp"

namespace cppblog::metrics {
class Registry;
}

namespace cppblog::messaging {

struct TlsOptions {
  /// PEM CA bundle that signs the broker's certificate, or a directory of CA certificates
  /// under their hashed names (`openssl rehash`, as /etc/ssl/certs); empty: the system trust
  /// store (which SSL_CERT_FILE and SSL_CERT_DIR change).
  std::string ca_file{};
  /// Optional client certificate and its key (PEM).
  std::string cert_file{};
  std::string key_file{};
  bool verify_peer = true;
  bool verify_hostname = true;
};

struct AmqpClientOptions {
  /// amqp://user:password@host:port/vhost?heartbeat=10&connection_timeout=5000 (see
  /// ParseAmqpUrl); amqps:// for TLS. Or the addresses of one broker cluster separated by
  /// commas, each a full URL with the same user, password and vhost (ParseAmqpUrlList): the
  /// client tries them in a shuffled order and, when a connection is lost or cannot be made,
  /// goes on to the next (a whole round that fails backs off as below).
  std::string url = "amqp://guest:guest@localhost:5672/%2F";
  /// Password sources, strongest first: `password`, the file `password_file`, then (only with
  /// password_from_environment) $AMQP_PASSWORD or the file named by $AMQP_PASSWORD_FILE, then
  /// the URL. The password applies to every address of a list.
  std::optional<std::string> password{};
  std::string password_file{};
  bool password_from_environment = false;
  /// Used for amqps://; the URL's cacertfile/certfile/keyfile/verify override these.
  TlsOptions tls{};

  /// Heartbeat interval and socket/login timeout unless the URL says otherwise.
  std::chrono::seconds heartbeat{10};
  std::chrono::milliseconds connection_timeout{5'000};
  /// Reconnect delay: starts at min, doubles up to max, each with +-25 % jitter. A max of 5 s
  /// keeps delivery within 10 s of a broker coming back after an outage of any length.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5'000};

  /// Publishes sent but not confirmed at any time (the pipelined confirm window).
  std::size_t confirm_window = 1000;
  /// Publishes accepted but not yet confirmed (waiting while disconnected or in flight); one
  /// more fails at once with kBufferFull.
  std::size_t max_outstanding_publishes = 100'000;
  /// A publish not confirmed within this time fails with kTimeout.
  std::chrono::milliseconds publish_timeout{60'000};

  /// Threads that run handlers.
  std::size_t handler_threads = 4;
  /// Shown in the management UI.
  std::string connection_name = "cppblog";
  /// Called on the I/O threads at every change of State(); keep it short, do not call back
  /// into the client.
  std::function<void(ConnectionState)> on_state_change{};
  /// Where the client's metrics go (rabbitmq_*, cppblog_amqp_*, messaging_*_duration_seconds,
  /// cppblog_dead_lettered_total; docs/operations.md); null: counted, not exposed. Must
  /// outlive the client.
  metrics::Registry* metrics = nullptr;
};

/// Queue counts from a passive declare.
struct QueueInfo {
  std::uint32_t messages = 0;   // ready messages
  std::uint32_t consumers = 0;  // active consumers
};

/// MessagePublisher and MessageSubscriber over rabbitmq-c, with at-least-once delivery and
/// recovery from broker faults. Thread-safe.
///
/// Two connections (publishing, consuming), each owned by one I/O thread; the consuming
/// connection opens on the first subscription. Handlers run on a pool of
/// `handler_threads` threads. The constructor never blocks on the broker: it throws
/// MessagingError (kInvalidOptions) only for invalid options and otherwise connects, and
/// keeps reconnecting, in the background. See docs/decisions/0002.
class AmqpClient final : public MessagePublisher, public MessageSubscriber {
 public:
  explicit AmqpClient(AmqpClientOptions options);
  /// Close(5 s).
  ~AmqpClient() override;
  AmqpClient(const AmqpClient&) = delete;
  AmqpClient& operator=(const AmqpClient&) = delete;

  [[nodiscard]] std::future<void> Publish(const ExchangeSpec& exchange, std::string routing_key,
                                          Message message) override;
  [[nodiscard]] std::future<void> PublishToQueue(const QueueSpec& queue, Message message) override;

  /// As the two above, but with no future and no thread that waits: `on_done` is called exactly
  /// once with the result. It runs on the publishing I/O thread, or on the calling thread before
  /// this returns when the publish is refused at once (closed, kBufferFull, an empty queue
  /// name); Close() returns only after every accepted publish's callback ran. Keep it short: it
  /// holds up every other confirm. It may publish again (not after kClosed); it must not block,
  /// call Close() or throw (an exception is logged and dropped).
  void Publish(const ExchangeSpec& exchange, std::string routing_key, Message message,
               PublishCallback on_done) override;
  void PublishToQueue(const QueueSpec& queue, Message message, PublishCallback on_done) override;
  [[nodiscard]] std::future<void> Subscribe(const ExchangeSpec& exchange,
                                            std::vector<std::string> binding_keys,
                                            const QueueSpec& queue, Handler handler,
                                            const ConsumerOptions& options) override;
  [[nodiscard]] std::future<void> SubscribeToQueue(const QueueSpec& queue, Handler handler,
                                                   const ConsumerOptions& options) override;

  /// MessageSubscriber's handle forms: pause, resume and cancel one subscription.
  [[nodiscard]] Subscription SubscribeHandle(const ExchangeSpec& exchange,
                                             std::vector<std::string> binding_keys,
                                             const QueueSpec& queue, Handler handler,
                                             const ConsumerOptions& options) override;
  [[nodiscard]] Subscription SubscribeToQueueHandle(const QueueSpec& queue, Handler handler,
                                                    const ConsumerOptions& options) override;

  /// Passive declare on the publishing connection: counts of an existing queue; fails with
  /// MessagingError (kNotFound) when it does not exist.
  [[nodiscard]] std::future<QueueInfo> InspectQueue(std::string queue);

  /// Drains and closes, waiting at most `deadline` in all: stops consuming, lets handlers
  /// in flight finish and acks them, waits for outstanding confirms; publishes still
  /// unconfirmed then fail with kClosed. Later calls to any method fail with kClosed.
  /// Idempotent; blocks.
  void Close(std::chrono::milliseconds deadline = std::chrono::seconds{5});

  /// The worse of the two connections' states (the consuming one counts once opened).
  [[nodiscard]] ConnectionState State() const;

  /// The URL (or list) with the passwords masked, for logs.
  [[nodiscard]] const std::string& DisplayUrl() const noexcept;

  /// "host:port" of the broker node the client is on (or tries next while recovering), for
  /// logs and /health; "a (publishing), b (consuming)" while its two connections are on
  /// different nodes. Never a password.
  [[nodiscard]] std::string CurrentNode() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::messaging
