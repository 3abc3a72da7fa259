#include "cppblog/messaging/amqp_client.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cppblog/messaging/amqp_url.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "consumer_connection.hpp"
#include "publisher_connection.hpp"
#include "worker_pool.hpp"

namespace cppblog::messaging {
namespace {

std::string ReadSecretFile(const std::string& path, std::string_view source) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  if (!in || !(content << in.rdbuf())) {
    throw MessagingError(MessagingErrorKind::kInvalidOptions,
                         "cannot read the AMQP password file '" + path + "' (named by " +
                             std::string(source) + "): check that it exists and is readable");
  }
  std::string secret = content.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

std::string ResolvePassword(const AmqpClientOptions& options, const AmqpUrl& url) {
  if (options.password) return *options.password;
  if (!options.password_file.empty()) return ReadSecretFile(options.password_file, "password_file");
  if (options.password_from_environment) {
    if (const char* password = std::getenv("AMQP_PASSWORD"); password && *password) {
      return password;
    }
    if (const char* file = std::getenv("AMQP_PASSWORD_FILE"); file && *file) {
      return ReadSecretFile(file, "AMQP_PASSWORD_FILE");
    }
  }
  return url.password;
}

ConnectionSettings MakeSettings(const AmqpClientOptions& options, ClientMetrics& metrics) {
  ConnectionSettings settings;
  settings.metrics = &metrics;
  settings.display_url = MaskPassword(options.url);
  std::vector<AmqpUrl> urls = ParseAmqpUrlList(options.url);
  const std::vector<std::string_view> entries = SplitAmqpUrlList(options.url);
  // One password for the whole list (ParseAmqpUrlList made sure the URLs agree on it).
  const std::string password = ResolvePassword(options, urls.front());
  for (std::size_t i = 0; i < urls.size(); ++i) {
    BrokerNode node;
    node.url = std::move(urls[i]);
    node.url.password = password;
    node.display_url = MaskPassword(entries[i]);
    node.name = NodeName(node.url);
    node.tls = options.tls;
    if (node.url.ca_file) node.tls.ca_file = *node.url.ca_file;
    if (node.url.cert_file) node.tls.cert_file = *node.url.cert_file;
    if (node.url.key_file) node.tls.key_file = *node.url.key_file;
    if (node.url.verify_peer) node.tls.verify_peer = *node.url.verify_peer;
    if (node.tls.cert_file.empty() != node.tls.key_file.empty()) {
      throw MessagingError(MessagingErrorKind::kInvalidOptions,
                           "TLS client authentication needs both a certificate and a key file (" +
                               node.display_url + ")");
    }
    node.heartbeat = node.url.heartbeat.value_or(options.heartbeat);
    node.connection_timeout = node.url.connection_timeout.value_or(options.connection_timeout);
    if (node.connection_timeout.count() <= 0) node.connection_timeout = std::chrono::seconds{5};
    settings.nodes.push_back(std::move(node));
  }
  // Each client starts at a random node and goes round the list from there, so that the
  // clients of a cluster spread over its nodes.
  std::shuffle(settings.nodes.begin(), settings.nodes.end(), std::mt19937{std::random_device{}()});
  settings.reconnect_min = std::max(options.reconnect_min, std::chrono::milliseconds{1});
  settings.reconnect_max = std::max(options.reconnect_max, settings.reconnect_min);
  settings.connection_name = options.connection_name;
  return settings;
}

int Rank(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnected:
      return 0;
    case ConnectionState::kBlocked:
      return 1;
    case ConnectionState::kRecovering:
      return 2;
    case ConnectionState::kClosed:
      return 3;
  }
  return 3;
}

template <typename T>
std::future<T> Failed(MessagingErrorKind kind, const std::string& what) {
  std::promise<T> promise;
  promise.set_exception(std::make_exception_ptr(MessagingError(kind, what)));
  return promise.get_future();
}

}  // namespace

const char* ToString(ConnectionState state) noexcept {
  switch (state) {
    case ConnectionState::kRecovering:
      return "recovering";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kBlocked:
      return "blocked";
    case ConnectionState::kClosed:
      return "closed";
  }
  return "unknown";
}

class AmqpClient::Impl {
 public:
  explicit Impl(AmqpClientOptions options)
      : options_(std::move(options)),
        metrics_(options_.metrics),
        settings_(MakeSettings(options_, metrics_)) {
    metrics_.ShowState(ConnectionState::kRecovering);
    // spdlog builds its registry on first use; do it here, before our threads exist, so its
    // initialisation is ordered before their logging (ThreadSanitizer cannot see the guard
    // inside the uninstrumented shared spdlog).
    (void)spdlog::default_logger_raw();
    publisher_ =
        std::make_unique<PublisherConnection>(settings_, options_, [this](ConnectionState state) {
          publisher_state_ = state;
          NotifyState();
        });
  }

  ~Impl() { Close(std::chrono::seconds{5}); }

  std::future<void> Publish(const ExchangeSpec& exchange, std::string routing_key,
                            Message&& message) {
    return publisher_->Publish(exchange, std::move(routing_key), std::move(message));
  }

  std::future<void> PublishToQueue(const QueueSpec& queue, Message&& message) {
    if (queue.name.empty()) {
      return Failed<void>(MessagingErrorKind::kInvalidOptions,
                          "publish to a queue: the queue name is empty");
    }
    return publisher_->Publish(queue, std::move(message));
  }

  void Publish(const ExchangeSpec& exchange, std::string routing_key, Message&& message,
               PublishCallback&& on_done) {
    publisher_->Publish(exchange, std::move(routing_key), std::move(message), std::move(on_done));
  }

  void PublishToQueue(const QueueSpec& queue, Message&& message, PublishCallback&& on_done) {
    if (queue.name.empty()) {
      const MessagingError error(MessagingErrorKind::kInvalidOptions,
                                 "publish to a queue: the queue name is empty");
      if (on_done) on_done(&error);
      return;
    }
    publisher_->Publish(queue, std::move(message), std::move(on_done));
  }

  // The control of a handle whose subscription never started: every call fails with kClosed.
  static std::shared_ptr<Subscription::Control> Detached() {
    static const auto link = std::make_shared<ConsumerLink>();
    return ConsumerConnection::MakeDetachedControl(link);
  }

  std::future<QueueInfo> InspectQueue(std::string queue) {
    return publisher_->InspectQueue(std::move(queue));
  }

  std::future<void> Subscribe(std::optional<ExchangeSpec> exchange,
                              std::vector<std::string> binding_keys, const QueueSpec& queue,
                              Handler handler, const ConsumerOptions& options,
                              std::shared_ptr<Subscription::Control>* control = nullptr) {
    if (!handler) {
      return Failed<void>(MessagingErrorKind::kInvalidOptions, "subscribe: the handler is empty");
    }
    std::lock_guard lock(mutex_);
    if (closed_) {
      return Failed<void>(MessagingErrorKind::kClosed, "subscribe: the AMQP client is closed");
    }
    if (!consumer_) {
      pool_ = std::make_unique<WorkerPool>(options_.handler_threads);
      consumer_state_ = ConnectionState::kRecovering;
      consumer_ =
          std::make_unique<ConsumerConnection>(settings_, *pool_, [this](ConnectionState state) {
            consumer_state_ = state;
            NotifyState();
          });
      consumer_view_ = consumer_.get();
    }
    auto config = std::make_shared<SubscriptionConfig>();
    config->id = next_subscription_id_++;
    config->exchange = std::move(exchange);
    config->binding_keys = std::move(binding_keys);
    config->queue = queue;
    config->handler = std::move(handler);
    config->options = options;
    // A server-named queue's name is random: its exchange names it (bounded label values).
    config->process_duration = &metrics_.ProcessDuration(
        !queue.name.empty() ? queue.name : (config->exchange ? config->exchange->name : ""));
    if (control != nullptr) *control = consumer_->MakeControl(config->id);
    return consumer_->Subscribe(std::move(config));
  }

  void Close(std::chrono::milliseconds deadline) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    const auto end = Clock::now() + deadline;
    publisher_->BeginClose();
    if (consumer_) {
      // Order matters: no new deliveries, then the handlers in flight finish, then their acks
      // (and dead-letter republishes) reach the broker before the connection closes.
      const bool drained =
          consumer_->StopConsuming(end) && pool_->WaitIdle(end) && consumer_->WaitFlushed(end);
      if (!drained)
        spdlog::warn("amqp: handlers still busy at close; their messages are redelivered");
      pool_->Stop();
      consumer_->Stop();
    }
    if (!publisher_->WaitSettled(end)) {
      spdlog::warn("amqp: publishes still unconfirmed at close; they fail with 'closed'");
    }
    publisher_->Stop();
  }

  ConnectionState State() const {
    const ConnectionState publishing = publisher_state_;
    const ConnectionState consuming = consumer_state_;
    return Rank(consuming) > Rank(publishing) ? consuming : publishing;
  }

  const std::string& DisplayUrl() const noexcept { return settings_.display_url; }

  std::string CurrentNode() const {
    const std::string& publishing = publisher_->CurrentNode().name;
    if (const ConsumerConnection* consumer = consumer_view_.load()) {
      const std::string& consuming = consumer->CurrentNode().name;
      if (consuming != publishing)
        return publishing + " (publishing), " + consuming + " (consuming)";
    }
    return publishing;
  }

 private:
  // On an I/O thread, which may run before publisher_ or consumer_ is assigned: it reads only
  // the states their callbacks stored.
  void NotifyState() {
    const ConnectionState state = State();
    std::lock_guard lock(state_mutex_);
    if (state == reported_) return;
    reported_ = state;
    metrics_.ShowState(state);
    if (!options_.on_state_change) return;
    try {
      options_.on_state_change(state);
    } catch (const std::exception& e) {
      spdlog::error("amqp: the state-change callback threw: {}", e.what());
    }
  }

  const AmqpClientOptions options_;
  ClientMetrics metrics_;
  const ConnectionSettings settings_;
  // Each connection's state as its callback last reported it, for State() and NotifyState():
  // the consumer's counts as connected (the best) until there is a consumer connection.
  std::atomic<ConnectionState> publisher_state_{ConnectionState::kRecovering};
  std::atomic<ConnectionState> consumer_state_{ConnectionState::kConnected};
  std::unique_ptr<PublisherConnection> publisher_;

  std::mutex mutex_;  // guards what follows, except consumer_view_
  bool closed_ = false;
  std::uint32_t next_subscription_id_ = 1;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<ConsumerConnection> consumer_;
  std::atomic<const ConsumerConnection*> consumer_view_{nullptr};  // for CurrentNode() off the lock

  std::mutex state_mutex_;
  ConnectionState reported_ = ConnectionState::kRecovering;
};

AmqpClient::AmqpClient(AmqpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

AmqpClient::~AmqpClient() = default;

std::future<void> AmqpClient::Publish(const ExchangeSpec& exchange, std::string routing_key,
                                      Message message) {
  return impl_->Publish(exchange, std::move(routing_key), std::move(message));
}

std::future<void> AmqpClient::PublishToQueue(const QueueSpec& queue, Message message) {
  return impl_->PublishToQueue(queue, std::move(message));
}

void AmqpClient::Publish(const ExchangeSpec& exchange, std::string routing_key, Message message,
                         PublishCallback on_done) {
  impl_->Publish(exchange, std::move(routing_key), std::move(message), std::move(on_done));
}

void AmqpClient::PublishToQueue(const QueueSpec& queue, Message message, PublishCallback on_done) {
  impl_->PublishToQueue(queue, std::move(message), std::move(on_done));
}

std::future<void> AmqpClient::Subscribe(const ExchangeSpec& exchange,
                                        std::vector<std::string> binding_keys,
                                        const QueueSpec& queue, Handler handler,
                                        const ConsumerOptions& options) {
  return impl_->Subscribe(exchange, std::move(binding_keys), queue, std::move(handler), options);
}

std::future<void> AmqpClient::SubscribeToQueue(const QueueSpec& queue, Handler handler,
                                               const ConsumerOptions& options) {
  if (queue.name.empty()) {
    return Failed<void>(MessagingErrorKind::kInvalidOptions,
                        "subscribe to a queue: the queue name is empty");
  }
  return impl_->Subscribe(std::nullopt, {}, queue, std::move(handler), options);
}

Subscription AmqpClient::SubscribeHandle(const ExchangeSpec& exchange,
                                         std::vector<std::string> binding_keys,
                                         const QueueSpec& queue, Handler handler,
                                         const ConsumerOptions& options) {
  std::shared_ptr<Subscription::Control> control;
  auto ready = impl_->Subscribe(exchange, std::move(binding_keys), queue, std::move(handler),
                                options, &control);
  return Subscription{control ? control : impl_->Detached(), ready.share()};
}

Subscription AmqpClient::SubscribeToQueueHandle(const QueueSpec& queue, Handler handler,
                                                const ConsumerOptions& options) {
  if (queue.name.empty()) {
    return Subscription{impl_->Detached(),
                        Failed<void>(MessagingErrorKind::kInvalidOptions,
                                     "subscribe to a queue: the queue name is empty")
                            .share()};
  }
  std::shared_ptr<Subscription::Control> control;
  auto ready = impl_->Subscribe(std::nullopt, {}, queue, std::move(handler), options, &control);
  return Subscription{control ? control : impl_->Detached(), ready.share()};
}

std::future<QueueInfo> AmqpClient::InspectQueue(std::string queue) {
  return impl_->InspectQueue(std::move(queue));
}

void AmqpClient::Close(std::chrono::milliseconds deadline) { impl_->Close(deadline); }

ConnectionState AmqpClient::State() const { return impl_->State(); }

const std::string& AmqpClient::DisplayUrl() const noexcept { return impl_->DisplayUrl(); }

std::string AmqpClient::CurrentNode() const { return impl_->CurrentNode(); }

}  // namespace cppblog::messaging
