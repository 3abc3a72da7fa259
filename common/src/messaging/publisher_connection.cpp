#include "publisher_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "amqp_message.hpp"
#include "amqp_status.hpp"
#include "declare.hpp"

namespace cppblog::messaging {
namespace {

// The publish channel after each connect; a renewed one takes the next free number above 2.
constexpr amqp_channel_t kFirstPublishChannel = 1;
constexpr amqp_channel_t kDeclareChannel = 2;
// Channel numbers stay below what RabbitMQ allows by default (channel_max 2047).
constexpr amqp_channel_t kMaxChannel = 2047;

std::exception_ptr Error(MessagingErrorKind kind, const std::string& what) {
  return std::make_exception_ptr(MessagingError(kind, what));
}

std::string Destination(const std::string& exchange, const std::string& routing_key) {
  return exchange.empty() ? "queue '" + routing_key + "'"
                          : "exchange '" + exchange + "' with routing key '" + routing_key + "'";
}

// Gives a publish's result to its callback: nullptr for a confirm, else the MessagingError. A
// callback that throws is logged; its exception never reaches the I/O loop.
void CallDone(const PublishCallback& on_done, const std::exception_ptr& error) noexcept {
  try {
    if (!error) {
      on_done(nullptr);
      return;
    }
    try {
      std::rethrow_exception(error);
    } catch (const MessagingError& e) {
      on_done(&e);
    }
  } catch (const std::exception& e) {
    spdlog::error("amqp publisher: a publish callback threw ({}); callbacks must not throw",
                  e.what());
  } catch (...) {
    spdlog::error("amqp publisher: a publish callback threw; callbacks must not throw");
  }
}

// A classic queue's nack: it is full and its x-overflow refuses more, or (rarely) the queue's
// process failed, e.g. its node went down (ADR 0016).
std::string QueueRefusal(const std::string& queue) {
  return "publish to queue '" + queue +
         "': the queue refused the message (basic.nack): it is full (x-max-length or "
         "x-max-length-bytes reached, with x-overflow reject-publish or reject-publish-dlx), or "
         "it failed (its node went down); consume from it or raise its limit (or bring its node "
         "back), then publish again (not retried: a classic queue elects no new leader)";
}

// The pause before a nacked publish goes out again: 50 ms after its first nack, doubling up to
// 1 s.
std::chrono::milliseconds RetryPause(std::uint32_t nacks, std::chrono::milliseconds min,
                                     std::chrono::milliseconds max) {
  const std::uint32_t doublings = std::min<std::uint32_t>(nacks > 0 ? nacks - 1 : 0, 10);
  return std::min(max, min * (1 << doublings));
}

}  // namespace

PublisherConnection::PublisherConnection(ConnectionSettings settings,
                                         const AmqpClientOptions& options,
                                         std::function<void(ConnectionState)> on_state_change)
    : window_(std::max<std::size_t>(1, options.confirm_window)),
      max_outstanding_(std::max<std::size_t>(1, options.max_outstanding_publishes)),
      timeout_(options.publish_timeout),
      spare_limit_(std::clamp<std::size_t>(window_, 64, 4096)),
      loop_(std::move(settings), "publisher", *this, queue_mutex_, std::move(on_state_change)) {}

std::future<void> PublisherConnection::Publish(const ExchangeSpec& exchange,
                                               std::string routing_key, Message&& message) {
  return Enqueue(&exchange, exchange.name, std::move(routing_key), std::move(message), {});
}

std::future<void> PublisherConnection::Publish(const QueueSpec& queue, Message&& message) {
  return Enqueue(&queue, std::string{}, queue.name, std::move(message), {});
}

void PublisherConnection::Publish(const ExchangeSpec& exchange, std::string routing_key,
                                  Message&& message, PublishCallback&& on_done) {
  (void)Enqueue(&exchange, exchange.name, std::move(routing_key), std::move(message),
                std::move(on_done));
}

void PublisherConnection::Publish(const QueueSpec& queue, Message&& message,
                                  PublishCallback&& on_done) {
  (void)Enqueue(&queue, std::string{}, queue.name, std::move(message), std::move(on_done));
}

std::uint32_t PublisherConnection::TargetIdLocked(TargetRef target) {
  auto& ids = std::holds_alternative<const ExchangeSpec*>(target) ? exchange_ids_ : queue_ids_;
  const std::string& name =
      std::visit([](const auto* t) -> const std::string& { return t->name; }, target);
  if (name.empty()) return 0;  // the default exchange is never declared
  const auto it = ids.find(name);
  const auto same = [&](std::uint32_t id) {
    const Target& known = targets_[id - 1];
    if (const auto* const* e = std::get_if<const ExchangeSpec*>(&target)) {
      const auto& k = std::get<ExchangeSpec>(known);
      return k.type == (*e)->type && k.durable == (*e)->durable &&
             k.auto_delete == (*e)->auto_delete;
    }
    const QueueSpec& q = *std::get<const QueueSpec*>(target);
    const auto& k = std::get<QueueSpec>(known);
    return k.durable == q.durable && k.exclusive == q.exclusive && k.auto_delete == q.auto_delete &&
           k.arguments == q.arguments && k.type == q.type;
  };
  if (it != ids.end() && same(it->second)) return it->second;
  targets_.push_back(std::visit([](const auto* t) { return Target{*t}; }, target));
  target_durations_.push_back(&loop_.Metrics().PublishDuration(name));
  const auto id = static_cast<std::uint32_t>(targets_.size());
  ids.insert_or_assign(name, id);
  return id;
}

std::future<void> PublisherConnection::Enqueue(TargetRef target, std::string exchange,
                                               std::string routing_key, Message&& message,
                                               PublishCallback&& on_done) {
  const bool callback = static_cast<bool>(on_done);
  const auto deadline = Clock::now() + timeout_;
  std::future<void> future;
  std::exception_ptr refused;
  loop_.Post([&] {
    if (closing_) {
      refused =
          Error(MessagingErrorKind::kClosed,
                "publish to " + Destination(exchange, routing_key) + ": the AMQP client is closed");
      return false;
    }
    if (outstanding_.load() >= max_outstanding_) {
      refused = Error(MessagingErrorKind::kBufferFull,
                      "publish to " + Destination(exchange, routing_key) + ": " +
                          std::to_string(max_outstanding_) +
                          " publishes already wait for a confirm (broker " +
                          ToString(loop_.State()) + "); try again later");
      return false;
    }
    ++outstanding_;
    OutgoingPtr out;
    if (spare_.empty()) {
      out = std::make_unique<Outgoing>();
    } else {
      out = std::move(spare_.back());
      spare_.pop_back();
    }
    // Moved in, the reused Outgoing's old buffers go to the arguments: this thread, which
    // allocated them, frees them.
    out->exchange = std::move(exchange);
    out->routing_key = std::move(routing_key);
    out->message = std::move(message);
    out->deadline = deadline;
    out->on_done = std::move(on_done);
    if (callback) {
      out->promise.reset();
    } else {
      future = out->promise.emplace().get_future();
    }
    out->settled = false;
    out->nacks = 0;
    const auto* const* queue = std::get_if<const QueueSpec*>(&target);
    out->refusal_is_final =
        queue != nullptr && !(*queue)->name.empty() && (*queue)->type == QueueType::kClassic;
    out->return_text.clear();
    out->target = TargetIdLocked(target);
    // The default exchange with any routing key: one series (OpenTelemetry's name for it).
    out->confirm_duration = out->target != 0 ? target_durations_[out->target - 1]
                                             : &loop_.Metrics().PublishDuration("amq.default");
    incoming_.push_back(std::move(out));
    return intake_wakes_;
  });
  if (refused) {
    loop_.Metrics().failed_to_publish.Increment();
    if (callback) {  // `on_done` was not taken: its callback is still here
      CallDone(on_done, refused);
      return {};
    }
    std::promise<void> failed;
    failed.set_exception(refused);
    return failed.get_future();
  }
  return future;
}

std::future<QueueInfo> PublisherConnection::InspectQueue(std::string queue) {
  Inspect inspect{std::move(queue), {}};
  auto future = inspect.promise.get_future();
  loop_.Post([&] {
    inspects_.push_back(std::move(inspect));
    return true;
  });
  return future;
}

void PublisherConnection::BeginClose() {
  std::lock_guard lock(queue_mutex_);
  closing_ = true;
}

bool PublisherConnection::WaitSettled(Clock::time_point deadline) {
  draining_ = true;
  std::unique_lock lock(drain_mutex_);
  return drain_cv_.wait_until(lock, deadline, [this] { return outstanding_.load() == 0; });
}

void PublisherConnection::Settle(Outgoing& message, std::exception_ptr error) {
  if (message.settled) return;
  message.settled = true;
  if (error) loop_.Metrics().failed_to_publish.Increment();
  if (message.on_done) {
    CallDone(message.on_done, error);
    message.on_done = nullptr;  // what it captured goes now, not with the message
  } else if (error) {
    message.promise->set_exception(std::move(error));
  } else {
    message.promise->set_value();
  }
  if (outstanding_.fetch_sub(1) == 1 && draining_) {
    std::lock_guard lock(drain_mutex_);
    drain_cv_.notify_all();
  }
}

void PublisherConnection::Confirm(PublishChannel& channel, const BrokerConfirm& confirm) {
  const auto now = Clock::now();
  std::size_t nacked = 0;
  const auto settle = [&](OutgoingPtr& slot, Confirmation how) {
    Outgoing& m = *slot;
    if (how == Confirmation::kNacked) {
      loop_.Metrics().not_acknowledged_published.Increment();
    } else {
      loop_.Metrics().acknowledged_published.Increment();
      m.confirm_duration->Observe(std::chrono::duration<double>(now - m.sent_at).count());
    }
    switch (how) {
      case Confirmation::kNacked:
        if (m.refusal_is_final) {
          // A classic queue has no leader to elect: its nack is a refusal (full), and sending
          // again at once would only be refused again (ADR 0016).
          Settle(m, Error(MessagingErrorKind::kNacked, QueueRefusal(m.routing_key)));
          break;
        }
        if (now < m.deadline) {
          // Sent again after a pause of its own, until its publish timeout: a quorum queue nacks
          // while it has no leader (its node just died, an election is running), and a broker in
          // trouble may nack for a moment; neither is a reason to fail the publish (ADR 0011).
          // Only this publish waits: the others are not held up, nor sent again (ADR 0016).
          ++m.nacks;
          m.retry_at = now + RetryPause(m.nacks, kMinNackBackoff, kMaxNackBackoff);
          nacked_.push_back(std::move(slot));
          ++nacked;
          return;
        }
        Settle(m, Error(MessagingErrorKind::kNacked,
                        "publish to " + Destination(m.exchange, m.routing_key) +
                            ": the broker refused the message (nack) " +
                            std::to_string(m.nacks + 1) + " times within the publish timeout of " +
                            std::to_string(timeout_.count()) + " ms"));
        break;
      case Confirmation::kReturned:
        Settle(m, Error(MessagingErrorKind::kUnroutable,
                        "publish to " + Destination(m.exchange, m.routing_key) +
                            ": no queue is bound for it (" + m.return_text + ")"));
        break;
      case Confirmation::kAcked:
        Settle(m, nullptr);
        break;
    }
    Recycle(std::move(slot));
  };
  channel.in_flight.Confirm(confirm, settle);
  // RabbitMQ 3.10 keeps nacking on a channel that published to a quorum queue during its
  // election (ADR 0011): its retries go on a new channel.
  if (nacked > 0 && &channel == &current_) current_nacked_ = true;
}

void PublisherConnection::OnReturn(amqp_connection_state_t conn, PublishChannel& channel,
                                   const amqp_method_t& method) {
  const auto* ret = static_cast<const amqp_basic_return_t*>(method.decoded);
  const std::string exchange = amqp::ToString(ret->exchange);
  const std::string routing_key = amqp::ToString(ret->routing_key);
  amqp_message_t content{};
  amqp::CheckReply(amqp_read_message(conn, channel.id, &content, 0), "read a returned message");
  const std::string body = amqp::ToString(content.body);
  amqp_destroy_message(&content);
  OutgoingPtr* returned = channel.in_flight.MarkReturned([&](const OutgoingPtr& m) {
    return m->exchange == exchange && m->routing_key == routing_key && m->message.body == body;
  });
  if (returned != nullptr) {
    (*returned)->return_text = amqp::ToString(ret->reply_text);
    loop_.Metrics().unrouted_published.Increment();
  }
}

bool PublisherConnection::EnsureDeclared(amqp_connection_state_t conn, Outgoing& message) {
  if (message.target == 0) return true;
  if (declared_.size() < message.target) declared_.resize(message.target, 0);
  if (declared_[message.target - 1] != 0) return true;
  Target target;
  {
    std::lock_guard lock(queue_mutex_);
    target = targets_[message.target - 1];
  }
  try {
    if (const auto* exchange = std::get_if<ExchangeSpec>(&target)) {
      amqp::DeclareExchange(conn, kDeclareChannel, *exchange);
    } else {
      (void)amqp::DeclareQueue(conn, kDeclareChannel, std::get<QueueSpec>(target));
    }
    declared_[message.target - 1] = 1;
    return true;
  } catch (const MessagingError& e) {
    if (!amqp::IsChannelError(e)) throw;
    loop_.SendChannelCloseOk(conn, kDeclareChannel);
    loop_.OpenChannel(conn, kDeclareChannel);
    spdlog::error("amqp publisher: {}", e.what());
    Settle(message, ErrorFor(e));
    return false;
  }
}

bool PublisherConnection::RoomToSend() const noexcept {
  return connected_ && !loop_.IsBlocked() && InFlight() < window_;
}

std::size_t PublisherConnection::InFlight() const noexcept {
  std::size_t n = current_.in_flight.Size();
  for (const PublishChannel& channel : retiring_) n += channel.in_flight.Size();
  return n;
}

PublisherConnection::PublishChannel* PublisherConnection::FindPublishChannel(
    amqp_channel_t id) noexcept {
  if (id == current_.id) return &current_;
  for (PublishChannel& channel : retiring_) {
    if (channel.id == id) return &channel;
  }
  return nullptr;
}

void PublisherConnection::Recycle(OutgoingPtr message) {
  if (!message) return;
  if (message->message.body.capacity() > kMaxSpareBody) return;  // not kept: freed here
  done_.push_back(std::move(message));
}

namespace {

// TCP_CORK on the connection's socket while a run of publishes is written: rabbitmq-c makes
// three send() calls per message (method, header, body frames); corked, the kernel only copies
// them into the socket buffer and sends full segments when uncorked, instead of pushing (and on
// loopback, delivering) a packet for each. Nothing waits: the run ends with the uncork.
class Cork {
 public:
  explicit Cork(amqp_connection_state_t conn) : fd_(amqp_get_sockfd(conn)) { Set(1); }
  ~Cork() { Set(0); }
  Cork(const Cork&) = delete;
  Cork& operator=(const Cork&) = delete;

 private:
  void Set(int on) const noexcept {
    // A failure only costs the optimisation.
    if (fd_ >= 0) (void)setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  }
  int fd_;
};

void Put8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void Put16(std::string& out, std::uint16_t v) {
  Put8(out, static_cast<std::uint8_t>(v >> 8));
  Put8(out, static_cast<std::uint8_t>(v));
}
void Put32(std::string& out, std::uint32_t v) {
  Put16(out, static_cast<std::uint16_t>(v >> 16));
  Put16(out, static_cast<std::uint16_t>(v));
}
void Put64(std::string& out, std::uint64_t v) {
  Put32(out, static_cast<std::uint32_t>(v >> 32));
  Put32(out, static_cast<std::uint32_t>(v));
}

// AMQP 0-9-1 framing: type, channel, payload size, payload, frame-end octet.
constexpr std::size_t kFrameOverhead = 8;
constexpr std::uint8_t kFrameEnd = 0xCE;
// A write that makes no progress for this long (the broker stopped reading) drops the
// connection; what was in flight is sent again after the reconnect.
constexpr int kWriteTimeoutMs = 30'000;
// A run's frames are written once they reach this size, and at its end.
constexpr std::size_t kMaxRunBytes = 1024 * 1024;

}  // namespace

void PublisherConnection::AppendPublish(amqp_connection_state_t conn, const Outgoing& m,
                                        amqp_basic_properties_t props) {
  // At least AMQP's minimum frame size (4096), whatever the connection reports.
  const auto frame_max =
      std::max<std::size_t>(4096, static_cast<std::size_t>(std::max(0, amqp_get_frame_max(conn))));
  // As rabbitmq-c's amqp_basic_publish: method, content header and body frames, the body split
  // into frames of at most frame_max; encoded by rabbitmq-c's own encoders.
  if (scratch_.size() < frame_max) scratch_.resize(frame_max);
  const amqp_bytes_t scratch{frame_max - kFrameOverhead - 12, scratch_.data()};
  amqp_basic_publish_t publish{};
  publish.exchange = amqp::Bytes(m.exchange);
  publish.routing_key = amqp::Bytes(m.routing_key);
  publish.mandatory = m.message.mandatory ? 1 : 0;
  const int method_size = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &publish, scratch);
  if (method_size < 0) {
    amqp::ThrowStatus(method_size, "publish to " + Destination(m.exchange, m.routing_key));
  }
  Put8(frames_, AMQP_FRAME_METHOD);
  Put16(frames_, current_.id);
  Put32(frames_, static_cast<std::uint32_t>(4 + method_size));
  Put32(frames_, AMQP_BASIC_PUBLISH_METHOD);
  frames_.append(scratch_.data(), static_cast<std::size_t>(method_size));
  Put8(frames_, kFrameEnd);

  const int properties_size = amqp_encode_properties(AMQP_BASIC_CLASS, &props, scratch);
  if (properties_size < 0) {
    amqp::ThrowStatus(properties_size, "publish to " + Destination(m.exchange, m.routing_key));
  }
  const std::string& body = m.message.body;
  Put8(frames_, AMQP_FRAME_HEADER);
  Put16(frames_, current_.id);
  Put32(frames_, static_cast<std::uint32_t>(12 + properties_size));
  Put16(frames_, AMQP_BASIC_CLASS);
  Put16(frames_, 0);  // weight
  Put64(frames_, body.size());
  frames_.append(scratch_.data(), static_cast<std::size_t>(properties_size));
  Put8(frames_, kFrameEnd);

  const std::size_t max_payload = frame_max - kFrameOverhead;
  for (std::size_t offset = 0; offset < body.size(); offset += max_payload) {
    const std::size_t size = std::min(max_payload, body.size() - offset);
    Put8(frames_, AMQP_FRAME_BODY);
    Put16(frames_, current_.id);
    Put32(frames_, static_cast<std::uint32_t>(size));
    frames_.append(body, offset, size);
    Put8(frames_, kFrameEnd);
  }
}

void PublisherConnection::WriteFrames(amqp_connection_state_t conn) {
  const int fd = amqp_get_sockfd(conn);
  std::string_view data = frames_;
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd writable{fd, POLLOUT, 0};
      const int ready = poll(&writable, 1, kWriteTimeoutMs);
      if (ready == 0) {
        throw MessagingError(MessagingErrorKind::kConnectionLost,
                             "write to the broker: the socket took nothing for " +
                                 std::to_string(kWriteTimeoutMs / 1000) + " s");
      }
      continue;
    }
    throw MessagingError(MessagingErrorKind::kConnectionLost,
                         std::string("write to the broker: ") + std::strerror(errno));
  }
  frames_.clear();
}

void PublisherConnection::SendPending(amqp_connection_state_t conn) {
  if (pending_.empty() || !RoomToSend()) return;
  // Plain TCP: a run's frames are encoded into one buffer and written with one send() (where
  // amqp_basic_publish makes three per message). TLS: through rabbitmq-c's TLS socket, one
  // message at a time, the run corked.
  const bool framed = !loop_.CurrentNode().url.tls && amqp_get_sockfd(conn) >= 0;
  std::optional<Cork> cork;
  if (!framed && pending_.size() > 1 && window_ - InFlight() > 1) cork.emplace(conn);
  frames_.clear();
  std::size_t sent = 0;
  while (!pending_.empty() && InFlight() < window_ && !loop_.IsBlocked()) {
    OutgoingPtr& front = pending_.front();
    Outgoing& m = *front;
    if (m.settled || !EnsureDeclared(conn, m)) {
      Recycle(std::move(front));
      pending_.pop_front();
      continue;
    }
    const amqp_basic_properties_t props = amqp::PropertiesOf(m.message, fields_);
    if (framed) {
      AppendPublish(conn, m, props);
    } else {
      const int status =
          amqp_basic_publish(conn, current_.id, amqp::Bytes(m.exchange), amqp::Bytes(m.routing_key),
                             m.message.mandatory ? 1 : 0, 0, &props, amqp::Bytes(m.message.body));
      // The context string only on failure: this is the per-message path.
      if (status < 0)
        amqp::ThrowStatus(status, "publish to " + Destination(m.exchange, m.routing_key));
    }
    m.sent_at = Clock::now();
    ++sent;
    current_.in_flight.Add(std::move(front));
    pending_.pop_front();
    if (frames_.size() >= kMaxRunBytes) WriteFrames(conn);
  }
  if (!frames_.empty()) WriteFrames(conn);
  if (sent > 0) loop_.Metrics().published.Increment(sent);
}

void PublisherConnection::ExpireTimeouts(Clock::time_point now) {
  const auto expire = [&](Outgoing& m) {
    if (m.nacks > 0) {
      Settle(m, Error(MessagingErrorKind::kNacked,
                      "publish to " + Destination(m.exchange, m.routing_key) +
                          ": the broker refused the message (nack) " + std::to_string(m.nacks) +
                          " times within the publish timeout of " +
                          std::to_string(timeout_.count()) + " ms"));
      return;
    }
    Settle(m, Error(MessagingErrorKind::kTimeout,
                    "publish to " + Destination(m.exchange, m.routing_key) +
                        ": no confirm from the broker within " + std::to_string(timeout_.count()) +
                        " ms (broker " + ToString(loop_.State()) + ")"));
  };
  // Expired ones stay until the broker confirms them: their delivery tags are still counted.
  const auto expire_in_flight = [&](PublishChannel& channel) {
    channel.in_flight.ForEachOutstanding([&](OutgoingPtr& m) {
      if (m->deadline > now) return false;
      if (!m->settled) expire(*m);
      return true;
    });
  };
  expire_in_flight(current_);
  for (PublishChannel& channel : retiring_) expire_in_flight(channel);
  while (!pending_.empty() && pending_.front()->deadline <= now) {
    expire(*pending_.front());
    Recycle(std::move(pending_.front()));
    pending_.pop_front();
  }
  // Nacked ones wait in the order of their nacks, not of their deadlines.
  for (auto it = nacked_.begin(); it != nacked_.end();) {
    if ((*it)->deadline > now) {
      ++it;
      continue;
    }
    expire(**it);
    Recycle(std::move(*it));
    it = nacked_.erase(it);
  }
}

void PublisherConnection::RunInspects(amqp_connection_state_t conn,
                                      std::vector<Inspect>& inspects) {
  for (Inspect& inspect : inspects) {
    if (conn == nullptr) {
      inspect.promise.set_exception(
          Error(MessagingErrorKind::kConnectionLost,
                "inspect queue '" + inspect.queue + "': not connected to the broker"));
      continue;
    }
    try {
      const amqp_queue_declare_ok_t* ok = amqp_queue_declare(
          conn, kDeclareChannel, amqp::Bytes(inspect.queue), 1, 0, 0, 0, amqp_empty_table);
      amqp::CheckReply(amqp_get_rpc_reply(conn), "inspect queue '" + inspect.queue + "'");
      inspect.promise.set_value(QueueInfo{ok->message_count, ok->consumer_count});
    } catch (const MessagingError& e) {
      inspect.promise.set_exception(ErrorFor(e));
      if (!amqp::IsChannelError(e)) throw;
      loop_.SendChannelCloseOk(conn, kDeclareChannel);
      loop_.OpenChannel(conn, kDeclareChannel);
    }
  }
  inspects.clear();
}

void PublisherConnection::OpenPublishChannel(amqp_connection_state_t conn, amqp_channel_t id) {
  loop_.OpenChannel(conn, id);
  amqp_confirm_select(conn, id);
  amqp::CheckReply(amqp_get_rpc_reply(conn),
                   "enable publisher confirms on channel " + std::to_string(id));
}

void PublisherConnection::RenewPublishChannel(amqp_connection_state_t conn) {
  const auto now = Clock::now();
  if (now < renewed_at_ + renew_pause_ || retiring_.size() >= kMaxRetiring) return;
  // Renewals that follow each other back off as the retries do; after a quiet spell the next one
  // is at once again.
  renew_pause_ = now - renewed_at_ > 2 * kMaxNackBackoff
                     ? kMinNackBackoff
                     : std::min(kMaxNackBackoff, std::max(kMinNackBackoff, renew_pause_ * 2));
  const amqp_channel_t limit = [&] {
    const int max = amqp_get_channel_max(conn);
    return max > kDeclareChannel && max < kMaxChannel ? static_cast<amqp_channel_t>(max)
                                                      : kMaxChannel;
  }();
  amqp_channel_t id = last_channel_id_;
  do {
    id = id >= limit || id < kDeclareChannel ? static_cast<amqp_channel_t>(kDeclareChannel + 1)
                                             : static_cast<amqp_channel_t>(id + 1);
  } while (FindPublishChannel(id) != nullptr);
  OpenPublishChannel(conn, id);
  spdlog::warn(
      "amqp publisher: the broker refused publishes (nack) on channel {} of node {}; sending "
      "them again on a new channel {} of the same connection",
      current_.id, loop_.CurrentNode().name, id);
  retiring_.push_back(std::move(current_));
  current_ = PublishChannel{.id = id, .in_flight = {}};
  last_channel_id_ = id;
  current_nacked_ = false;
  renewed_at_ = now;
}

void PublisherConnection::CloseDrainedChannels(amqp_connection_state_t conn) {
  for (auto it = retiring_.begin(); it != retiring_.end();) {
    if (!it->in_flight.Empty()) {
      ++it;
      continue;
    }
    const amqp_channel_t id = it->id;
    it = retiring_.erase(it);
    loop_.CloseChannel(conn, id);
  }
}

void PublisherConnection::TakeDueRetries(amqp_connection_state_t conn, Clock::time_point now) {
  const auto due = [now](const OutgoingPtr& m) { return m->retry_at <= now; };
  if (std::none_of(nacked_.begin(), nacked_.end(), due)) return;
  // Not while blocked: the broker reads nothing then, and a channel.open would wait for it.
  if (conn != nullptr && current_nacked_ && !loop_.IsBlocked()) RenewPublishChannel(conn);
  // Due ones first in pending_, in the order of their nacks.
  const auto first_waiting = std::stable_partition(nacked_.begin(), nacked_.end(), due);
  pending_.insert(pending_.begin(), std::make_move_iterator(nacked_.begin()),
                  std::make_move_iterator(first_waiting));
  nacked_.erase(nacked_.begin(), first_waiting);
}

void PublisherConnection::OnConnected(amqp_connection_state_t conn) {
  declared_.assign(declared_.size(), 0);
  current_ = PublishChannel{.id = kFirstPublishChannel, .in_flight = {}};
  last_channel_id_ = kFirstPublishChannel;
  current_nacked_ = false;
  renewed_at_ = Clock::now();
  renew_pause_ = std::chrono::milliseconds{0};
  OpenPublishChannel(conn, current_.id);
  loop_.OpenChannel(conn, kDeclareChannel);
  connected_ = true;
}

void PublisherConnection::OnConnectionLost() {
  connected_ = false;
  // Unconfirmed publishes go out again, first and in their order, after the reconnect.
  std::vector<OutgoingPtr> again;
  const auto take = [&](OutgoingPtr&& m) {
    if (m->settled) {
      Recycle(std::move(m));  // timed out already
    } else {
      again.push_back(std::move(m));
    }
  };
  for (PublishChannel& channel : retiring_) channel.in_flight.Reset(take);
  retiring_.clear();
  current_.in_flight.Reset(take);
  pending_.insert(pending_.begin(), std::make_move_iterator(again.begin()),
                  std::make_move_iterator(again.end()));
  declared_.assign(declared_.size(), 0);
}

void PublisherConnection::OnMethod(amqp_connection_state_t conn, amqp_channel_t channel,
                                   const amqp_method_t& method) {
  PublishChannel* publish = FindPublishChannel(channel);
  if (publish == nullptr) return;
  switch (method.id) {
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_NACK_METHOD:
      Confirm(*publish, ConfirmOf(method));
      break;
    case AMQP_BASIC_RETURN_METHOD:
      OnReturn(conn, *publish, method);
      break;
    default:
      break;
  }
}

void PublisherConnection::OnChannelClosed(amqp_connection_state_t conn, amqp_channel_t channel,
                                          const MessagingError& error) {
  spdlog::error("amqp publisher: {}", error.what());
  if (PublishChannel* publish = FindPublishChannel(channel)) {
    // The broker dropped whatever was in flight on the channel; the caller decides.
    publish->in_flight.Reset([&](OutgoingPtr&& m) {
      Settle(*m, ErrorFor(error));
      Recycle(std::move(m));
    });
    declared_.assign(declared_.size(), 0);
    if (publish == &current_) {
      OpenPublishChannel(conn, current_.id);
    } else {
      retiring_.erase(retiring_.begin() + (publish - retiring_.data()));
    }
  } else {
    loop_.OpenChannel(conn, channel);
  }
}

void PublisherConnection::Work(amqp_connection_state_t conn, Clock::time_point now) {
  std::vector<Inspect> inspects;
  {
    std::lock_guard lock(queue_mutex_);
    batch_.swap(incoming_);
    inspects.swap(inspects_);
    while (!done_.empty() && spare_.size() < spare_limit_) {
      spare_.push_back(std::move(done_.back()));
      done_.pop_back();
    }
  }
  done_.clear();  // beyond spare_limit_: freed
  for (OutgoingPtr& m : batch_) pending_.push_back(std::move(m));
  batch_.clear();
  RunInspects(conn, inspects);
  ExpireTimeouts(now);
  TakeDueRetries(conn, now);
  if (conn != nullptr) {
    if (!retiring_.empty() && !loop_.IsBlocked()) CloseDrainedChannels(conn);
    SendPending(conn);
  }
}

Clock::time_point PublisherConnection::NextTimer() {
  Clock::time_point next = Clock::time_point::max();
  const auto first_deadline = [&](PublishChannel& channel) {
    channel.in_flight.ForEachOutstanding([&](const OutgoingPtr& m) {
      if (m->settled) return true;
      next = std::min(next, m->deadline);
      return false;
    });
  };
  first_deadline(current_);
  for (PublishChannel& channel : retiring_) first_deadline(channel);
  if (!pending_.empty()) next = std::min(next, pending_.front()->deadline);
  for (const OutgoingPtr& m : nacked_) next = std::min({next, m->retry_at, m->deadline});
  return next;
}

bool PublisherConnection::HasWorkLocked() {
  // Settled Outgoings back to the callers now: while this thread sleeps they would otherwise
  // allocate new ones.
  while (!done_.empty() && spare_.size() < spare_limit_) {
    spare_.push_back(std::move(done_.back()));
    done_.pop_back();
  }
  const bool room = RoomToSend();
  // With no room, a new publish waits in incoming_ until a confirm (or a timer of an older
  // one, whose deadline is earlier) wakes the thread: callers need not wake it for each.
  intake_wakes_ = room || (pending_.empty() && nacked_.empty());
  return !inspects_.empty() || (!incoming_.empty() && intake_wakes_) || (room && !pending_.empty());
}

void PublisherConnection::OnStopping(amqp_connection_state_t /*conn*/) {
  {
    std::lock_guard lock(queue_mutex_);
    closing_ = true;
    batch_.swap(incoming_);
  }
  const auto closed = [](Outgoing& m) {
    return Error(MessagingErrorKind::kClosed,
                 "publish to " + Destination(m.exchange, m.routing_key) +
                     ": the AMQP client closed before the broker confirmed it");
  };
  for (PublishChannel& channel : retiring_) {
    channel.in_flight.Reset([&](OutgoingPtr&& m) { Settle(*m, closed(*m)); });
  }
  retiring_.clear();
  current_.in_flight.Reset([&](OutgoingPtr&& m) { Settle(*m, closed(*m)); });
  for (auto* queue : {&pending_, &nacked_}) {
    for (OutgoingPtr& m : *queue) Settle(*m, closed(*m));
    queue->clear();
  }
  for (OutgoingPtr& m : batch_) Settle(*m, closed(*m));
  batch_.clear();
  std::vector<Inspect> inspects;
  {
    std::lock_guard lock(queue_mutex_);
    inspects.swap(inspects_);
  }
  RunInspects(nullptr, inspects);
}

}  // namespace cppblog::messaging
