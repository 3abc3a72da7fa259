#include "io_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "amqp_status.hpp"

namespace cppblog::messaging {
namespace {

timeval ToTimeval(std::chrono::microseconds d) {
  const auto us = std::max<std::int64_t>(0, d.count());
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

amqp_field_value_t Bool(bool value) {
  amqp_field_value_t v{};
  v.kind = AMQP_FIELD_KIND_BOOLEAN;
  v.value.boolean = value ? 1 : 0;
  return v;
}

amqp_field_value_t Text(std::string_view text) {
  amqp_field_value_t v{};
  v.kind = AMQP_FIELD_KIND_UTF8;
  v.value.bytes = amqp::Bytes(text);
  return v;
}

// RPCs (declare, consume, ...) that take longer than this drop the connection.
constexpr auto kRpcTimeout = std::chrono::seconds{30};

int MakeEventFd() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}

}  // namespace

IoLoop::IoLoop(ConnectionSettings settings, std::string role, IoHandler& handler,
               std::mutex& queue_mutex, std::function<void(ConnectionState)> on_state_change)
    : settings_(std::move(settings)),
      role_(std::move(role)),
      handler_(handler),
      queue_mutex_(queue_mutex),
      on_state_change_(std::move(on_state_change)),
      event_fd_(MakeEventFd()),
      thread_([this] { Run(); }) {}

IoLoop::~IoLoop() {
  Stop();
  close(event_fd_);
}

void IoLoop::Stop() {
  if (!thread_.joinable()) return;
  stop_requested_ = true;
  Wake();
  thread_.join();
}

void IoLoop::Wake() noexcept {
  const std::uint64_t one = 1;
  // A full counter (EAGAIN) still wakes the reader; nothing else can fail here.
  [[maybe_unused]] const auto n = write(event_fd_, &one, sizeof one);
}

void IoLoop::SetState(ConnectionState state) {
  if (state_.exchange(state) != state && on_state_change_) on_state_change_(state);
}

void IoLoop::OpenChannel(amqp_connection_state_t conn, amqp_channel_t channel) {
  amqp_channel_open(conn, channel);
  amqp::CheckReply(amqp_get_rpc_reply(conn), "open channel " + std::to_string(channel));
  ++open_channels_;
  Metrics().channels.Add(1);
}

void IoLoop::CloseChannel(amqp_connection_state_t conn, amqp_channel_t channel) {
  if (open_channels_ > 0) {
    --open_channels_;
    Metrics().channels.Add(-1);
  }
  amqp::CheckReply(amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS),
                   "close channel " + std::to_string(channel));
}

void IoLoop::SendChannelCloseOk(amqp_connection_state_t conn, amqp_channel_t channel) noexcept {
  amqp_channel_close_ok_t ok{};
  amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  if (open_channels_ > 0) {
    --open_channels_;
    Metrics().channels.Add(-1);
  }
}

void IoLoop::NextNode() {
  current_node_.store((current_node_.load() + 1) % settings_.nodes.size());
}

void IoLoop::Connect() {
  const BrokerNode& node = CurrentNode();
  const AmqpUrl& url = node.url;
  conn_ = amqp_new_connection();
  if (conn_ == nullptr) {
    throw MessagingError(MessagingErrorKind::kConnectionLost, "out of memory for a connection");
  }
  amqp_socket_t* socket = nullptr;
  if (url.tls) {
    socket = amqp_ssl_socket_new(conn_);
    if (socket == nullptr) {
      throw MessagingError(MessagingErrorKind::kConnectionLost, "cannot create a TLS socket");
    }
    const TlsOptions& tls = node.tls;
    amqp_ssl_socket_set_verify_peer(socket, tls.verify_peer ? 1 : 0);
    amqp_ssl_socket_set_verify_hostname(socket, tls.verify_hostname ? 1 : 0);
    amqp::CheckStatus(amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST),
                      "set TLS versions");
    std::error_code not_a_directory;
    if (!tls.ca_file.empty() && std::filesystem::is_directory(tls.ca_file, not_a_directory)) {
      // A directory of CA certificates under hashed names (as /etc/ssl/certs, `openssl
      // rehash`): rabbitmq-c loads only files, OpenSSL reads such a directory as it verifies.
      if (SSL_CTX_load_verify_locations(static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket)),
                                        nullptr, tls.ca_file.c_str()) != 1) {
        throw MessagingError(MessagingErrorKind::kConnectionLost,
                             "load TLS CA directory '" + tls.ca_file + "': OpenSSL refused it");
      }
    } else if (!tls.ca_file.empty()) {
      amqp::CheckStatus(amqp_ssl_socket_set_cacert(socket, tls.ca_file.c_str()),
                        "load TLS CA file '" + tls.ca_file + "'");
    } else {
      // rabbitmq-c 0.11 does not load the system trust store by itself.
      SSL_CTX_set_default_verify_paths(static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket)));
    }
    if (!tls.cert_file.empty()) {
      amqp::CheckStatus(
          amqp_ssl_socket_set_key(socket, tls.cert_file.c_str(), tls.key_file.c_str()),
          "load TLS client certificate '" + tls.cert_file + "' and key '" + tls.key_file + "'");
    }
  } else {
    socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr) {
      throw MessagingError(MessagingErrorKind::kConnectionLost, "cannot create a socket");
    }
  }

  timeval connect_timeout = ToTimeval(node.connection_timeout);
  amqp::CheckStatus(amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &connect_timeout),
                    "connect to " + node.display_url);
  amqp_set_handshake_timeout(conn_, &connect_timeout);
  timeval rpc_timeout = ToTimeval(kRpcTimeout);
  amqp_set_rpc_timeout(conn_, &rpc_timeout);

  // rabbitmq-c 0.11 advertises neither capability unless asked (rabbitmq-notes.md 4).
  amqp_table_entry_t capabilities[] = {
      {amqp::Bytes("connection.blocked"), Bool(true)},
      {amqp::Bytes("consumer_cancel_notify"), Bool(true)},
  };
  amqp_field_value_t capabilities_value{};
  capabilities_value.kind = AMQP_FIELD_KIND_TABLE;
  capabilities_value.value.table = amqp_table_t{2, capabilities};
  const std::string name = settings_.connection_name + " (" + role_ + ")";
  amqp_table_entry_t properties[] = {
      {amqp::Bytes("capabilities"), capabilities_value},
      {amqp::Bytes("connection_name"), Text(name)},
      {amqp::Bytes("product"), Text("cppblog")},
  };
  const amqp_table_t properties_table{3, properties};
  const auto heartbeat = static_cast<int>(node.heartbeat.count());
  amqp::CheckReply(amqp_login_with_properties(conn_, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
                                              heartbeat, &properties_table, AMQP_SASL_METHOD_PLAIN,
                                              url.user.c_str(), url.password.c_str()),
                   "log in to " + node.display_url + " as user '" + url.user + "'");
}

void IoLoop::DropConnection(const std::string& why) {
  if (conn_ != nullptr) {
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
    if (counted_connected_) Metrics().connections.Add(-1);
  }
  counted_connected_ = false;
  Metrics().channels.Add(-open_channels_);
  open_channels_ = 0;
  blocked_ = false;
  handler_.OnConnectionLost();
  if (!reported_loss_) {
    spdlog::warn("amqp {}: {}; reconnecting in the background (node={} url={})", role_, why,
                 CurrentNode().name, settings_.display_url);
    reported_loss_ = true;
  } else {
    spdlog::debug("amqp {}: {}", role_, why);
  }
  SetState(ConnectionState::kRecovering);
}

void IoLoop::Dispatch(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return;  // stray content: nobody waits for it
  const amqp_method_t& method = frame.payload.method;
  switch (method.id) {
    case AMQP_CONNECTION_CLOSE_METHOD: {
      amqp_connection_close_ok_t ok{};
      amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      throw amqp::ConnectionCloseError(*static_cast<amqp_connection_close_t*>(method.decoded),
                                       "read from the broker");
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* blocked = static_cast<amqp_connection_blocked_t*>(method.decoded);
      spdlog::warn("amqp {}: the broker blocked publishing: {}", role_,
                   amqp::ToString(blocked->reason));
      blocked_ = true;
      SetState(ConnectionState::kBlocked);
      return;
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      spdlog::info("amqp {}: the broker unblocked publishing", role_);
      blocked_ = false;
      SetState(ConnectionState::kConnected);
      return;
    case AMQP_CHANNEL_CLOSE_METHOD: {
      SendChannelCloseOk(conn_, frame.channel);
      const auto error =
          amqp::ChannelCloseError(*static_cast<amqp_channel_close_t*>(method.decoded),
                                  role_ + " channel " + std::to_string(frame.channel));
      handler_.OnChannelClosed(conn_, frame.channel, error);
      return;
    }
    default:
      handler_.OnMethod(conn_, frame.channel, method);
  }
}

int IoLoop::ReadAvailable() {
  const auto buffered = [this] {
    return amqp_frames_enqueued(conn_) != 0 || amqp_data_in_buffer(conn_) != 0;
  };
  const auto now = Clock::now();
  // Woken for a command with nothing to read: skip the recv() and poll() that would find
  // nothing; but read at least every heartbeat tick, and once the broker has been silent for two
  // heartbeat intervals (rabbitmq-c sends heartbeats and gives a silent peer up only inside its
  // read calls).
  if (!socket_may_have_data_ && !buffered() && now < next_read_ && now < SilentLimit()) return 0;
  next_read_ = now + heartbeat_tick_;
  // Bounded, so that a flood of frames cannot starve the command queue (acks to send).
  int i = 0;
  for (; i < 4096; ++i) {
    amqp_frame_t frame{};
    timeval zero{0, 0};
    // A zero timeout reads what the socket has without blocking, and sends a heartbeat
    // or detects a missed one when due.
    const int status = amqp_simple_wait_frame_noblock(conn_, &frame, &zero);
    if (status == AMQP_STATUS_TIMEOUT) break;
    amqp::CheckStatus(status, "read from the broker");
    Dispatch(frame);
  }
  if (amqp_frames_enqueued(conn_) == 0 && amqp_data_in_buffer(conn_) == 0) {
    amqp_maybe_release_buffers(conn_);
  }
  return i;
}

Clock::time_point IoLoop::SilentLimit() const {
  if (heartbeat_.count() == 0) return Clock::time_point::max();
  return last_received_ + 2 * heartbeat_ + std::chrono::milliseconds{5};
}

void IoLoop::Sleep(Clock::time_point until) {
  {
    std::lock_guard lock(queue_mutex_);
    if (handler_.HasWorkLocked() || stop_requested_) {
      socket_may_have_data_ = true;  // not polled: the next ReadAvailable tries
      return;
    }
    idle_ = true;
  }
  pollfd fds[2] = {{event_fd_, POLLIN, 0}, {-1, POLLIN, 0}};
  nfds_t count = 1;
  if (conn_ != nullptr) {
    if (amqp_frames_enqueued(conn_) != 0 || amqp_data_in_buffer(conn_) != 0) {
      std::lock_guard lock(queue_mutex_);
      idle_ = false;
      return;
    }
    fds[1].fd = amqp_get_sockfd(conn_);
    count = 2;
  }
  const auto now = Clock::now();
  const auto wait = until > now ? std::chrono::ceil<std::chrono::milliseconds>(until - now)
                                : std::chrono::milliseconds{0};
  const int ready =
      poll(fds, count, static_cast<int>(std::min<std::int64_t>(wait.count(), 60'000)));
  // Readable, closed, in error, or a failed poll: let rabbitmq-c look (and report it).
  socket_may_have_data_ = ready < 0 || fds[1].revents != 0;
  if (count == 2 && fds[1].revents != 0) socket_readable_ = true;
  if ((fds[0].revents & POLLIN) != 0) {
    std::uint64_t value = 0;
    [[maybe_unused]] const auto n = read(event_fd_, &value, sizeof value);
  }
  std::lock_guard lock(queue_mutex_);
  idle_ = false;
}

void IoLoop::Run() {
  auto backoff = settings_.reconnect_min;
  auto next_attempt = Clock::now();
  // Failed attempts since the last success; a whole round of the list backs off.
  std::size_t failures = 0;
  // Heartbeats are only serviced inside rabbitmq-c calls: never sleep longer than half the
  // interval without reading.
  heartbeat_tick_ = std::chrono::milliseconds{1000};
  heartbeat_ = std::chrono::milliseconds{0};
  while (!stop_requested_) {
    const auto now = Clock::now();
    if (conn_ == nullptr) {
      if (now >= next_attempt) {
        try {
          Connect();
          socket_may_have_data_ = true;
          Metrics().connections.Add(1);
          counted_connected_ = true;
          handler_.OnConnected(conn_);
          if (ever_connected_) Metrics().recoveries.Increment();
          ever_connected_ = true;
          blocked_ = false;
          backoff = settings_.reconnect_min;
          failures = 0;
          reported_loss_ = false;
          const BrokerNode& node = CurrentNode();
          heartbeat_ = std::chrono::seconds{amqp_get_heartbeat(conn_)};  // as negotiated
          heartbeat_tick_ =
              heartbeat_.count() > 0 ? heartbeat_ / 2 : std::chrono::milliseconds{1000};
          last_received_ = Clock::now();
          socket_readable_ = false;
          if (settings_.nodes.size() > 1) {
            spdlog::info("amqp {}: connected to node {} ({})", role_, node.name, node.display_url);
          } else {
            spdlog::info("amqp {}: connected to {}", role_, node.display_url);
          }
          SetState(ConnectionState::kConnected);
          continue;
        } catch (const std::exception& e) {  // MessagingError, or OpenSSL/allocation trouble
          DropConnection(e.what());
          NextNode();
          if (++failures < settings_.nodes.size()) {
            next_attempt = Clock::now();  // the next address at once
          } else {
            failures = 0;
            std::uniform_real_distribution<double> jitter(0.75, 1.25);
            next_attempt = Clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                              backoff * jitter(random_));
            backoff = std::min(backoff * 2, settings_.reconnect_max);
          }
        }
      }
      handler_.Work(nullptr, Clock::now());
      Sleep(std::min(next_attempt, handler_.NextTimer()));
      continue;
    }
    try {
      handler_.Work(conn_, now);
      if (ReadAvailable() > 0 || socket_readable_) last_received_ = Clock::now();
      socket_readable_ = false;
      handler_.AfterRead();
      // rabbitmq-c gives the broker up once nothing came from it for two intervals: look right
      // then, not up to a tick later (a wake-up for other work shifts the ticks).
      auto wake = Clock::now() + heartbeat_tick_;
      if (const auto silent = SilentLimit(); silent > Clock::now()) wake = std::min(wake, silent);
      Sleep(std::min(wake, handler_.NextTimer()));
    } catch (const MessagingError& e) {
      DropConnection(e.what());
      // The first retry is immediate: a broker restart is short, and on a cluster the next
      // node is most likely up.
      NextNode();
      next_attempt = Clock::now();
    } catch (const std::exception& e) {
      // Not a broker error (out of memory, a bug): start over on a fresh connection rather
      // than end the thread, which would silently stop all messaging.
      spdlog::error("amqp {}: unexpected error: {}", role_, e.what());
      DropConnection(e.what());
      next_attempt = Clock::now() + settings_.reconnect_max;
    }
  }
  try {
    handler_.OnStopping(conn_);
  } catch (const MessagingError& e) {
    spdlog::debug("amqp {}: while stopping: {}", role_, e.what());
  }
  if (conn_ != nullptr) {
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
    if (counted_connected_) Metrics().connections.Add(-1);
  }
  counted_connected_ = false;
  Metrics().channels.Add(-open_channels_);
  open_channels_ = 0;
  SetState(ConnectionState::kClosed);
}

}  // namespace cppblog::messaging
