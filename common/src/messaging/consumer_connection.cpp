#include "consumer_connection.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/message_trace.hpp"
#include "cppblog/text/one_line.hpp"
#include "cppblog/trace/trace_context.hpp"

#include "amqp_message.hpp"
#include "amqp_status.hpp"
#include "declare.hpp"

namespace cppblog::messaging {
namespace {

constexpr amqp_channel_t kRepublishChannel = 2;
constexpr amqp_channel_t kFirstSubscriptionChannel = 3;
// A subscription the broker refused after it had worked once is tried again this often.
constexpr auto kSetupRetry = std::chrono::seconds{5};

constexpr std::uint8_t kUnsettled = 0;
constexpr std::uint8_t kAckDue = 1;
constexpr std::uint8_t kSettled = 2;

// The log fields of the client's own lines about `message` (its retry, requeue or dead letter,
// written on the I/O thread): its id, its queue, and the trace and span ids of its valid
// traceparent header (the publisher's span), so that `grep trace_id=…` finds them too.
class MessageLogFields {
 public:
  MessageLogFields(const Message& message, std::string_view queue) {
    if (const auto context = TraceContextOf(message)) {
      trace_id_ = trace::TraceIdHex(*context);
      span_id_ = trace::SpanIdHex(*context);
    }
    fields_.emplace(logging::Fields{.trace_id = trace_id_,
                                    .span_id = span_id_,
                                    .message_id = message.message_id,
                                    .queue = queue});
  }

 private:
  std::string trace_id_;
  std::string span_id_;
  std::optional<logging::ScopedFields> fields_;
};

constexpr const char* kRetryCountHeader = "x-retry-count";
constexpr const char* kOriginalExchangeHeader = "x-original-exchange";
constexpr const char* kOriginalRoutingKeyHeader = "x-original-routing-key";
constexpr const char* kOriginalQueueHeader = "x-original-queue";
constexpr const char* kLastErrorHeader = "x-last-error";
constexpr const char* kDeathReasonHeader = "x-death-reason";
// A handler's error text travels in headers and log lines: one line, bounded.
constexpr std::size_t kMaxReasonBytes = 512;

std::string Truncated(const std::string& body) {
  constexpr std::size_t kMax = 200;
  return body.size() <= kMax ? body : body.substr(0, kMax) + "...";
}

const std::string* StringHeader(const Headers& headers, std::string_view key) {
  const auto it = headers.find(key);
  return it == headers.end() ? nullptr : std::get_if<std::string>(&it->second);
}

// A retried message carries its first routing in headers; handlers see that one.
void ApplyRetryHeaders(Message& message) {
  if (const auto it = message.headers.find(kRetryCountHeader); it != message.headers.end()) {
    if (const auto* count = std::get_if<std::int64_t>(&it->second); count && *count > 0) {
      message.retry_count = static_cast<std::uint32_t>(*count);
    }
  }
  if (const auto* exchange = StringHeader(message.headers, kOriginalExchangeHeader)) {
    message.exchange = *exchange;
  }
  if (const auto* key = StringHeader(message.headers, kOriginalRoutingKeyHeader)) {
    message.routing_key = *key;
  }
}

}  // namespace

ConsumerConnection::ConsumerConnection(ConnectionSettings settings, WorkerPool& pool,
                                       std::function<void(ConnectionState)> on_state_change)
    : pool_(pool),
      loop_(std::move(settings), "consumer", *this, queue_mutex_, std::move(on_state_change)) {
  link_->connection = this;
}

ConsumerConnection::~ConsumerConnection() {
  // Handles fail with kClosed from now on; loop_ (the last member) then stops the I/O thread.
  const std::lock_guard lock{link_->mutex};
  link_->connection = nullptr;
}

namespace {

MessagingError SubscriptionClosed() {
  return MessagingError(MessagingErrorKind::kClosed,
                        "subscription: the AMQP client is closed, or the subscription failed");
}

class SubscriptionControl final : public Subscription::Control {
 public:
  SubscriptionControl(std::shared_ptr<ConsumerLink> link, std::uint32_t id)
      : link_(std::move(link)), id_(id) {}

  std::future<void> Pause() override { return Request(SubscriptionOp::kPause); }
  std::future<void> Resume() override { return Request(SubscriptionOp::kResume); }
  std::future<void> Cancel() override { return Request(SubscriptionOp::kCancel); }

 private:
  std::future<void> Request(SubscriptionOp op) {
    const std::lock_guard lock{link_->mutex};
    if (link_->connection != nullptr) return link_->connection->Control(id_, op);
    std::promise<void> failed;
    failed.set_exception(std::make_exception_ptr(SubscriptionClosed()));
    return failed.get_future();
  }

  std::shared_ptr<ConsumerLink> link_;
  std::uint32_t id_;
};

}  // namespace

std::future<void> ConsumerConnection::Control(std::uint32_t id, SubscriptionOp op) {
  std::promise<void> done;
  auto future = done.get_future();
  bool refused = false;
  loop_.Post([&] {
    if (stopped_) {
      refused = true;
    } else {
      control_requests_.push_back({id, op, std::move(done)});
    }
  });
  if (refused) done.set_exception(std::make_exception_ptr(SubscriptionClosed()));
  return future;
}

std::shared_ptr<Subscription::Control> ConsumerConnection::MakeControl(std::uint32_t id) {
  return std::make_shared<SubscriptionControl>(link_, id);
}

std::shared_ptr<Subscription::Control> ConsumerConnection::MakeDetachedControl(
    std::shared_ptr<ConsumerLink> link) {
  return std::make_shared<SubscriptionControl>(std::move(link), 0);
}

std::future<void> ConsumerConnection::Subscribe(std::shared_ptr<const SubscriptionConfig> config) {
  std::promise<void> ready;
  auto future = ready.get_future();
  loop_.Post([&] { new_.emplace_back(std::move(config), std::move(ready)); });
  return future;
}

bool ConsumerConnection::StopConsuming(Clock::time_point deadline) {
  std::promise<void> done;
  auto future = done.get_future();
  loop_.Post([&] { cancel_requests_.push_back(std::move(done)); });
  return future.wait_until(deadline) == std::future_status::ready;
}

bool ConsumerConnection::WaitFlushed(Clock::time_point deadline) {
  std::promise<void> done;
  auto future = done.get_future();
  loop_.Post([&] { flush_requests_.push_back(std::move(done)); });
  return future.wait_until(deadline) == std::future_status::ready;
}

ConsumerConnection::Consumer* ConsumerConnection::FindByChannel(amqp_channel_t channel) {
  if (channel < kFirstSubscriptionChannel) return nullptr;
  const auto it = subscriptions_.find(channel - kFirstSubscriptionChannel + 1);
  return it == subscriptions_.end() ? nullptr : &it->second;
}

void ConsumerConnection::Setup(amqp_connection_state_t conn, Consumer& sub) {
  const SubscriptionConfig& config = *sub.config;
  sub.setup_at = Clock::time_point::max();
  try {
    if (!sub.channel_open) {
      loop_.OpenChannel(conn, sub.channel);
      sub.channel_open = true;
      // A new channel numbers its deliveries from 1: late acks of the old one are void.
      sub.generation = next_generation_++;
      sub.unacked.clear();
      sub.first_unacked = 1;
      sub.acks_due = false;
    }
    if (config.exchange) amqp::DeclareExchange(conn, sub.channel, *config.exchange);
    const std::string queue = amqp::DeclareQueue(conn, sub.channel, config.queue);
    if (!config.queue.name.empty()) {
      (void)amqp::DeclareQueue(conn, sub.channel,
                               QueueSpec{.name = queue + ".dlq",
                                         .arguments = {},
                                         .type = config.queue.type,
                                         .type_setting = config.queue.type_setting});
    }
    if (config.exchange) {
      const std::vector<std::string> empty_key{std::string{}};
      const auto& keys = config.binding_keys.empty() ? empty_key : config.binding_keys;
      for (const std::string& key : keys) {
        amqp::BindQueue(conn, sub.channel, queue, config.exchange->name, key,
                        config.options.binding_arguments);
      }
    }
    amqp_basic_qos(conn, sub.channel, 0, config.options.prefetch, 0);
    amqp::CheckReply(amqp_get_rpc_reply(conn), "set prefetch on queue '" + queue + "'");
    sub.queue_name = queue;
    sub.active = true;
    if (!sub.paused) Consume(conn, sub);
  } catch (const MessagingError& e) {
    if (!amqp::IsChannelError(e)) throw;
    OnSetupChannelError(conn, sub, e);
  }
}

void ConsumerConnection::Consume(amqp_connection_state_t conn, Consumer& sub) {
  const SubscriptionConfig& config = *sub.config;
  Headers arguments = config.options.consumer_arguments;
  if (config.options.priority) {
    arguments.insert_or_assign("x-priority", std::int64_t{*config.options.priority});
  }
  const amqp_basic_consume_ok_t* ok = amqp_basic_consume(
      conn, sub.channel, amqp::Bytes(sub.queue_name), amqp::Bytes(config.options.consumer_tag), 0,
      0, 0, amqp::TableOf(arguments, fields_));
  amqp::CheckReply(amqp_get_rpc_reply(conn), "consume from queue '" + sub.queue_name + "'");
  sub.consumer_tag = amqp::ToString(ok->consumer_tag);
  sub.consuming = true;
  spdlog::info("amqp consumer: consuming queue={} prefetch={}", sub.queue_name,
               config.options.prefetch);
  if (sub.ready) {
    sub.ready->set_value();
    sub.ready.reset();
  }
}

void ConsumerConnection::StopConsumer(amqp_connection_state_t conn, Consumer& sub) {
  if (!sub.consuming) return;
  sub.consuming = false;
  try {
    amqp_basic_cancel(conn, sub.channel, amqp::Bytes(sub.consumer_tag));
    amqp::CheckReply(amqp_get_rpc_reply(conn), "cancel consumer on '" + sub.queue_name + "'");
  } catch (const MessagingError& e) {
    if (!amqp::IsChannelError(e)) throw;
    OnSetupChannelError(conn, sub, e);
  }
}

void ConsumerConnection::OnSetupChannelError(amqp_connection_state_t conn, Consumer& sub,
                                             const MessagingError& e) {
  loop_.SendChannelCloseOk(conn, sub.channel);
  sub.channel_open = false;
  sub.active = false;
  sub.consuming = false;
  if (sub.ready) {
    sub.ready->set_exception(ErrorFor(e));
    sub.ready.reset();
    sub.config = nullptr;  // dropped; erased by Work
    for (auto& waiter : sub.cancel_waiters) waiter.set_value();
    sub.cancel_waiters.clear();
  } else if (!sub.cancelling) {
    spdlog::error("amqp consumer: {}; trying again in {} s", e.what(), kSetupRetry.count());
    sub.setup_at = Clock::now() + kSetupRetry;
  }
}

void ConsumerConnection::ApplyControl(amqp_connection_state_t conn, ControlRequest& request,
                                      Clock::time_point now) {
  const auto it = subscriptions_.find(request.id);
  if (it == subscriptions_.end() || it->second.config == nullptr || it->second.cancelling) {
    if (request.op == SubscriptionOp::kCancel && it != subscriptions_.end() &&
        it->second.cancelling) {
      it->second.cancel_waiters.push_back(std::move(request.done));
    } else if (request.op == SubscriptionOp::kCancel) {
      request.done.set_value();  // cancelled already, or failed
    } else {
      request.done.set_exception(std::make_exception_ptr(MessagingError(
          MessagingErrorKind::kClosed, "subscription: it was cancelled, or it failed")));
    }
    return;
  }
  Consumer& sub = it->second;
  if (!consuming_ && request.op != SubscriptionOp::kCancel) {
    request.done.set_exception(std::make_exception_ptr(
        MessagingError(MessagingErrorKind::kClosed, "subscription: the AMQP client is closing")));
    return;
  }
  switch (request.op) {
    case SubscriptionOp::kPause:
      sub.paused = true;
      if (conn != nullptr && sub.active) StopConsumer(conn, sub);
      spdlog::info("amqp consumer: paused queue={}", sub.queue_name);
      request.done.set_value();
      return;
    case SubscriptionOp::kResume:
      sub.paused = false;
      if (conn != nullptr && sub.active && !sub.consuming) {
        try {
          Consume(conn, sub);
        } catch (const MessagingError& e) {
          if (!amqp::IsChannelError(e)) {
            request.done.set_exception(std::current_exception());
            throw;
          }
          OnSetupChannelError(conn, sub, e);  // consumes again once set up
        }
      }
      request.done.set_value();
      return;
    case SubscriptionOp::kCancel:
      sub.cancelling = true;
      sub.paused = true;
      sub.setup_at = Clock::time_point::max();
      if (conn != nullptr && sub.active) StopConsumer(conn, sub);
      // Retries still waiting for their backoff are left to the broker (the channel's close
      // returns them to the queue with the retry count they came with).
      std::erase_if(delayed_, [&](const Republish& r) {
        if (r.subscription != request.id || r.due <= now) return false;
        Mark(sub, r.delivery_tag, kSettled);
        return true;
      });
      if (sub.ready) {
        sub.ready->set_exception(std::make_exception_ptr(
            MessagingError(MessagingErrorKind::kClosed,
                           "subscribe: cancelled before the broker registered the consumer")));
        sub.ready.reset();
      }
      sub.cancel_waiters.push_back(std::move(request.done));
      return;
  }
}

bool ConsumerConnection::AllSettled(std::uint32_t id, const Consumer& sub) const {
  if (std::any_of(sub.unacked.begin(), sub.unacked.end(),
                  [](std::uint8_t state) { return state != kSettled; })) {
    return false;
  }
  const auto mine = [&](const Republish& r) {
    return r.subscription == id && r.generation == sub.generation;
  };
  return std::none_of(delayed_.begin(), delayed_.end(), mine) && !republishes_.AnyOutstanding(mine);
}

void ConsumerConnection::FinishCancels(amqp_connection_state_t conn) {
  for (auto& [id, sub] : subscriptions_) {
    if (!sub.cancelling || sub.config == nullptr) continue;
    const bool live = conn != nullptr && sub.active && sub.channel_open;
    if (live && !AllSettled(id, sub)) continue;
    sub.config = nullptr;  // erased by Work
    sub.active = false;
    std::exception_ptr connection_error;
    if (live) {
      try {
        amqp_channel_close(conn, sub.channel, AMQP_REPLY_SUCCESS);
        amqp::CheckReply(amqp_get_rpc_reply(conn),
                         "close the channel of queue '" + sub.queue_name + "'");
      } catch (const MessagingError& e) {
        if (!amqp::IsChannelError(e)) connection_error = std::current_exception();
      }
    }
    sub.channel_open = false;
    spdlog::info("amqp consumer: cancelled the subscription to queue={}", sub.queue_name);
    for (auto& waiter : sub.cancel_waiters) waiter.set_value();
    sub.cancel_waiters.clear();
    if (connection_error) std::rethrow_exception(connection_error);
  }
}

void ConsumerConnection::OnDeliver(amqp_connection_state_t conn, amqp_channel_t channel,
                                   const amqp_method_t& method) {
  const auto* deliver = static_cast<const amqp_basic_deliver_t*>(method.decoded);
  const std::uint64_t tag = deliver->delivery_tag;
  Message message;
  message.exchange = amqp::ToString(deliver->exchange);
  message.routing_key = amqp::ToString(deliver->routing_key);
  message.redelivered = deliver->redelivered != 0;
  amqp_message_t content{};
  amqp::CheckReply(amqp_read_message(conn, channel, &content, 0), "read a delivery");
  amqp::ReadMessage(content, message);
  amqp_destroy_message(&content);

  Consumer* sub = FindByChannel(channel);
  // Not dispatched (closing, or a consumer we gave up): unacked, so the broker requeues it.
  if (sub == nullptr || !sub->active || sub->config == nullptr) return;
  Track(*sub, tag);
  if (!consuming_) return;
  ApplyRetryHeaders(message);
  loop_.Metrics().consumed.Increment();
  tasks_.push_back([this, config = sub->config, generation = sub->generation, tag,
                    message = std::move(message)]() mutable {
    RunHandler(*config, generation, tag, std::move(message));
  });
}

void ConsumerConnection::RunHandler(const SubscriptionConfig& config, std::uint64_t generation,
                                    std::uint64_t delivery_tag, Message message) {
  Result result{config.id, generation, delivery_tag, Outcome::kRetry, false, {}, {}};
  const auto started = Clock::now();
  // What the handler logs names the message and its queue (no allocation: ids are short).
  const logging::ScopedFields log_fields(
      {.message_id = message.message_id, .queue = config.queue.name});
  try {
    result.outcome = config.handler(message);
    if (result.outcome == Outcome::kRetry) {
      result.reason = "the handler asked for a retry without saying why";
    }
    if (result.outcome == Outcome::kDeadLetter) result.reason = "the handler rejected the message";
  } catch (const PoisonMessage& e) {
    result.outcome = Outcome::kDeadLetter;
    result.poison = true;
    result.reason = text::OneLine(e.what(), kMaxReasonBytes);
  } catch (const std::exception& e) {
    result.outcome = Outcome::kRetry;
    result.reason = text::OneLine(e.what(), kMaxReasonBytes);
  } catch (...) {
    result.outcome = Outcome::kRetry;
    result.reason = "the handler threw a non-standard exception";
  }
  if (config.process_duration != nullptr) {
    config.process_duration->Observe(std::chrono::duration<double>(Clock::now() - started).count());
  }
  if (result.outcome != Outcome::kAck) result.message = std::move(message);
  loop_.Post([&] { results_.push_back(std::move(result)); });
}

void ConsumerConnection::HandleResult(amqp_connection_state_t conn, Result& result,
                                      Clock::time_point now) {
  const auto it = subscriptions_.find(result.subscription);
  // A delivery of a channel or connection that is gone: the broker redelivers it.
  if (conn == nullptr || it == subscriptions_.end() || !it->second.active ||
      it->second.generation != result.generation) {
    return;
  }
  Consumer& sub = it->second;
  switch (result.outcome) {
    case Outcome::kAck:
      Mark(sub, result.delivery_tag, kAckDue);  // sent by SendDueAcks, coalesced
      return;
    case Outcome::kRetry: {
      const ConsumerOptions& options = sub.config->options;
      const std::uint32_t attempt = result.message.retry_count;
      if (attempt >= options.max_retries) {
        loop_.Metrics().dead_lettered_retries_exhausted.Increment();
        DeadLetter(sub, result,
                   "gave up after " + std::to_string(attempt + 1) + " attempts: " + result.reason,
                   now);
        return;
      }
      const auto delay = std::min<std::chrono::milliseconds>(
          options.retry_backoff * (std::int64_t{1} << std::min<std::uint32_t>(attempt, 30)),
          options.max_retry_backoff);
      {
        const MessageLogFields fields(result.message, sub.queue_name);
        spdlog::warn("amqp consumer: retry {} of {} in {} ms, reason: {}", attempt + 1,
                     options.max_retries, delay.count(), result.reason);
      }
      Message& m = result.message;
      m.headers.insert_or_assign(kRetryCountHeader, std::int64_t{attempt + 1});
      m.headers.insert_or_assign(kLastErrorHeader, result.reason);
      m.headers.try_emplace(kOriginalExchangeHeader, m.exchange);
      m.headers.try_emplace(kOriginalRoutingKeyHeader, m.routing_key);
      delayed_.push_back(Republish{result.subscription, result.generation, result.delivery_tag,
                                   sub.queue_name, std::move(m), now + delay});
      return;
    }
    case Outcome::kDeadLetter:
      (result.poison ? loop_.Metrics().dead_lettered_poison
                     : loop_.Metrics().dead_lettered_rejected)
          .Increment();
      DeadLetter(sub, result, result.reason, now);
      return;
    case Outcome::kRequeue: {
      // To the end of the queue, headers unchanged (no retry counted), and the original acked
      // once that is confirmed: unlike basic.reject with requeue, this puts it behind the
      // others and adds nothing to a quorum queue's delivery count (x-delivery-limit).
      {
        const MessageLogFields fields(result.message, sub.queue_name);
        spdlog::debug("amqp consumer: requeue");
      }
      Message& m = result.message;
      m.headers.try_emplace(kOriginalExchangeHeader, m.exchange);
      m.headers.try_emplace(kOriginalRoutingKeyHeader, m.routing_key);
      delayed_.push_back(Republish{result.subscription, result.generation, result.delivery_tag,
                                   sub.queue_name, std::move(m), now});
      return;
    }
  }
}

void ConsumerConnection::DeadLetter(Consumer& sub, Result& result, const std::string& reason,
                                    Clock::time_point now) {
  Message& m = result.message;
  {
    const MessageLogFields fields(m, sub.queue_name);
    spdlog::warn("amqp consumer: dead-lettering, reason: {}; body: {}", reason, Truncated(m.body));
  }
  if (sub.config->queue.name.empty()) {
    // A server-named queue has no dead-letter queue: the message is dropped (logged above).
    delayed_.push_back(
        Republish{result.subscription, result.generation, result.delivery_tag, {}, {}, now});
    return;
  }
  m.headers.insert_or_assign(kDeathReasonHeader, reason);
  m.headers.insert_or_assign(kRetryCountHeader, std::int64_t{m.retry_count});
  m.headers.try_emplace(kOriginalExchangeHeader, m.exchange);
  m.headers.try_emplace(kOriginalRoutingKeyHeader, m.routing_key);
  m.headers.insert_or_assign(kOriginalQueueHeader, sub.queue_name);
  delayed_.push_back(Republish{result.subscription, result.generation, result.delivery_tag,
                               sub.queue_name + ".dlq", std::move(m), now});
}

void ConsumerConnection::SendRepublish(amqp_connection_state_t conn, Republish republish) {
  if (republish.routing_key.empty()) {  // nothing to publish, just ack (see DeadLetter)
    SettleOriginal(conn, republish, true);
    return;
  }
  republish.message.persistent = true;
  const amqp_basic_properties_t props = amqp::PropertiesOf(republish.message, fields_);
  amqp::CheckStatus(amqp_basic_publish(conn, kRepublishChannel, amqp::Bytes(""),
                                       amqp::Bytes(republish.routing_key), 1, 0, &props,
                                       amqp::Bytes(republish.message.body)),
                    "republish to queue '" + republish.routing_key + "'");
  republishes_.Add(std::move(republish));
}

void ConsumerConnection::SettleOriginal(amqp_connection_state_t conn, const Republish& republish,
                                        bool ok) {
  const auto it = subscriptions_.find(republish.subscription);
  if (it == subscriptions_.end() || !it->second.active ||
      it->second.generation != republish.generation) {
    return;
  }
  Mark(it->second, republish.delivery_tag, kSettled);
  if (ok) {
    amqp::CheckStatus(amqp_basic_ack(conn, it->second.channel, republish.delivery_tag, 0), "ack");
    loop_.Metrics().acknowledged.Increment();
  } else {
    loop_.Metrics().rejected.Increment();
    spdlog::error(
        "amqp consumer: could not republish to queue '{}'; the message goes back to "
        "queue '{}'",
        republish.routing_key, it->second.queue_name);
    amqp::CheckStatus(amqp_basic_reject(conn, it->second.channel, republish.delivery_tag, 1),
                      "requeue");
  }
}

void ConsumerConnection::ConfirmRepublish(amqp_connection_state_t conn,
                                          const BrokerConfirm& confirm) {
  republishes_.Confirm(confirm, [&](const Republish& r, Confirmation how) {
    SettleOriginal(conn, r, how == Confirmation::kAcked);
  });
}

void ConsumerConnection::Track(Consumer& sub, std::uint64_t tag) {
  if (sub.unacked.empty()) sub.first_unacked = tag;
  while (sub.first_unacked + sub.unacked.size() < tag) sub.unacked.push_back(kSettled);
  if (tag >= sub.first_unacked) sub.unacked.push_back(kUnsettled);
}

void ConsumerConnection::Mark(Consumer& sub, std::uint64_t tag, std::uint8_t state) {
  if (tag < sub.first_unacked || tag - sub.first_unacked >= sub.unacked.size()) return;
  sub.unacked[tag - sub.first_unacked] = state;
  if (state == kAckDue) sub.acks_due = true;
}

void ConsumerConnection::SendDueAcks(amqp_connection_state_t conn) {
  for (auto& [id, sub] : subscriptions_) {
    if (!sub.acks_due || !sub.active) continue;
    sub.acks_due = false;
    // The settled prefix: one multiple-ack up to its last due tag.
    std::uint64_t last = 0;
    std::size_t due = 0;
    while (!sub.unacked.empty() && sub.unacked.front() != kUnsettled) {
      if (sub.unacked.front() == kAckDue) {
        last = sub.first_unacked;
        ++due;
      }
      sub.unacked.pop_front();
      ++sub.first_unacked;
    }
    if (due > 0) {
      amqp::CheckStatus(amqp_basic_ack(conn, sub.channel, last, due > 1 ? 1 : 0), "ack");
      loop_.Metrics().acknowledged.Increment(due);
    }
    // Behind a message still in its handler or in retry backoff: one by one, now.
    for (std::size_t i = 0; i < sub.unacked.size(); ++i) {
      if (sub.unacked[i] != kAckDue) continue;
      amqp::CheckStatus(amqp_basic_ack(conn, sub.channel, sub.first_unacked + i, 0), "ack");
      loop_.Metrics().acknowledged.Increment();
      sub.unacked[i] = kSettled;
    }
  }
}

void ConsumerConnection::ResetRepublishChannel(amqp_connection_state_t conn) {
  loop_.OpenChannel(conn, kRepublishChannel);
  amqp_confirm_select(conn, kRepublishChannel);
  amqp::CheckReply(amqp_get_rpc_reply(conn), "enable publisher confirms");
}

void ConsumerConnection::CancelConsumers(amqp_connection_state_t conn) {
  consuming_ = false;
  if (conn == nullptr) return;
  for (auto& [id, sub] : subscriptions_) {
    if (sub.active) StopConsumer(conn, sub);
  }
}

void ConsumerConnection::OnConnected(amqp_connection_state_t conn) {
  connected_ = true;
  ResetRepublishChannel(conn);
  // Replay, in subscription order: exchange, queue, dead-letter queue, bindings, consumer.
  for (auto& [id, sub] : subscriptions_) {
    sub.channel_open = false;
    // A cancelled subscription is not replayed (FinishCancels completes it).
    if (sub.config != nullptr && consuming_ && !sub.cancelling) Setup(conn, sub);
  }
}

void ConsumerConnection::OnConnectionLost() {
  connected_ = false;
  for (auto& [id, sub] : subscriptions_) {
    sub.active = false;
    sub.consuming = false;
    sub.channel_open = false;
  }
  // Deliveries of the dead connection come again; their acks and republishes are void.
  delayed_.clear();
  republishes_.Reset([](Republish&&) {});
}

void ConsumerConnection::OnMethod(amqp_connection_state_t conn, amqp_channel_t channel,
                                  const amqp_method_t& method) {
  switch (method.id) {
    case AMQP_BASIC_DELIVER_METHOD:
      OnDeliver(conn, channel, method);
      return;
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_NACK_METHOD:
      if (channel == kRepublishChannel) ConfirmRepublish(conn, ConfirmOf(method));
      return;
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* ret = static_cast<const amqp_basic_return_t*>(method.decoded);
      const std::string key = amqp::ToString(ret->routing_key);
      amqp_message_t content{};
      amqp::CheckReply(amqp_read_message(conn, channel, &content, 0), "read a returned message");
      amqp_destroy_message(&content);
      republishes_.MarkReturned([&](const Republish& r) { return r.routing_key == key; });
      return;
    }
    case AMQP_BASIC_CANCEL_METHOD:
      // The broker cancelled a consumer (its queue was deleted): set it up again.
      if (Consumer* sub = FindByChannel(channel)) {
        spdlog::warn("amqp consumer: the broker cancelled the consumer of queue '{}'",
                     sub->queue_name);
        // The channel stays, and with it the acks of deliveries still running.
        sub->consuming = false;
        if (!sub->paused) sub->setup_at = Clock::now();
      }
      return;
    default:
      return;
  }
}

void ConsumerConnection::OnChannelClosed(amqp_connection_state_t conn, amqp_channel_t channel,
                                         const MessagingError& error) {
  spdlog::error("amqp consumer: {}", error.what());
  if (channel == kRepublishChannel) {
    // Republishes in flight are lost with the channel: their originals go back to the queue.
    republishes_.Reset([&](Republish&& r) { SettleOriginal(conn, r, false); });
    ResetRepublishChannel(conn);
  } else if (Consumer* sub = FindByChannel(channel)) {
    sub->channel_open = false;
    sub->active = false;
    sub->consuming = false;
    if (!sub->cancelling) sub->setup_at = Clock::now() + kSetupRetry;
  }
}

void ConsumerConnection::Work(amqp_connection_state_t conn, Clock::time_point now) {
  std::vector<std::pair<std::shared_ptr<const SubscriptionConfig>, std::promise<void>>> added;
  std::vector<std::promise<void>> cancels;
  std::vector<ControlRequest> controls;
  {
    std::lock_guard lock(queue_mutex_);
    controls.swap(control_requests_);
    added.swap(new_);
    results_batch_.swap(results_);
    cancels.swap(cancel_requests_);
    for (auto& f : flush_requests_) flush_waiters_.push_back(std::move(f));
    flush_requests_.clear();
  }
  for (auto& [config, ready] : added) {
    if (!consuming_) {
      ready.set_exception(std::make_exception_ptr(
          MessagingError(MessagingErrorKind::kClosed, "subscribe: the AMQP client is closing")));
      continue;
    }
    Consumer& sub = subscriptions_[config->id];
    sub.config = config;
    sub.channel = static_cast<amqp_channel_t>(kFirstSubscriptionChannel + config->id - 1);
    sub.ready = std::move(ready);
    if (conn != nullptr) Setup(conn, sub);
  }

  for (Result& result : results_batch_) HandleResult(conn, result, now);
  results_batch_.clear();
  for (ControlRequest& request : controls) ApplyControl(conn, request, now);
  if (conn != nullptr) SendDueAcks(conn);

  if (!cancels.empty()) {
    if (consuming_) CancelConsumers(conn);
    for (auto& done : cancels) done.set_value();
  }

  if (conn != nullptr) {
    for (auto& [id, sub] : subscriptions_) {
      if (consuming_ && sub.config != nullptr && sub.setup_at <= now) Setup(conn, sub);
    }
    if (!loop_.IsBlocked()) {
      // Due retries and dead letters, oldest first.
      std::vector<Republish> due;
      std::erase_if(delayed_, [&](Republish& r) {
        if (r.due > now) return false;
        due.push_back(std::move(r));
        return true;
      });
      for (Republish& r : due) SendRepublish(conn, std::move(r));
    }
  }
  FinishCancels(conn);
  std::erase_if(subscriptions_, [](const auto& entry) { return entry.second.config == nullptr; });
  ResolveFlushWaiters(now);
}

void ConsumerConnection::ResolveFlushWaiters(Clock::time_point now) {
  if (!flush_waiters_.empty() && republishes_.Empty() &&
      std::none_of(delayed_.begin(), delayed_.end(),
                   [now](const Republish& r) { return r.due <= now; })) {
    for (auto& waiter : flush_waiters_) waiter.set_value();
    flush_waiters_.clear();
  }
}

Clock::time_point ConsumerConnection::NextTimer() {
  auto next = Clock::time_point::max();
  for (const Republish& r : delayed_) next = std::min(next, r.due);
  for (const auto& [id, sub] : subscriptions_) next = std::min(next, sub.setup_at);
  return next;
}

bool ConsumerConnection::HasWorkLocked() {
  return !new_.empty() || !results_.empty() || !cancel_requests_.empty() ||
         !flush_requests_.empty() || !control_requests_.empty() || !tasks_.empty();
}

void ConsumerConnection::AfterRead() {
  pool_.Submit(tasks_);
  // The last confirm of a republish (a requeue at shutdown) may just have come in: a drain
  // waiting for it must not wait for the next wake-up (up to half a heartbeat).
  ResolveFlushWaiters(Clock::now());
}

void ConsumerConnection::OnStopping(amqp_connection_state_t /*conn*/) {
  tasks_.clear();
  std::lock_guard lock(queue_mutex_);
  const MessagingError closed(MessagingErrorKind::kClosed, "subscribe: the AMQP client closed");
  for (auto& [config, ready] : new_) ready.set_exception(ErrorFor(closed));
  new_.clear();
  for (auto& [id, sub] : subscriptions_) {
    if (sub.ready) sub.ready->set_exception(ErrorFor(closed));
    sub.ready.reset();
    for (auto& waiter : sub.cancel_waiters) waiter.set_value();
    sub.cancel_waiters.clear();
  }
  stopped_ = true;
  for (auto& request : control_requests_) {
    if (request.op == SubscriptionOp::kCancel) {
      request.done.set_value();
    } else {
      request.done.set_exception(ErrorFor(closed));
    }
  }
  control_requests_.clear();
  for (auto& p : cancel_requests_) p.set_value();
  for (auto& p : flush_requests_) p.set_value();
  for (auto& p : flush_waiters_) p.set_value();
  cancel_requests_.clear();
  flush_requests_.clear();
  flush_waiters_.clear();
}

}  // namespace cppblog::messaging
