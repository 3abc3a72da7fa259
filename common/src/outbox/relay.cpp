#include "cppblog/outbox/relay.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/trace/trace_context.hpp"

namespace cppblog::outbox {

const std::string& NameOf(const Destination& destination) {
  if (const auto* queue = std::get_if<messaging::QueueSpec>(&destination)) return queue->name;
  return std::get<ExchangeDestination>(destination).exchange.name;
}

struct Relay::Shared {
  std::mutex mutex;
  std::condition_variable wake;  // the relay thread waits here for all of the below
  bool stopping = false;
  bool appended = false;  // the outbox committed entries since the relay last read
  std::size_t in_flight = 0;
  std::vector<std::uint64_t> confirmed;  // settled by a confirm, not yet deleted
  std::uint64_t failures = 0;            // settled with an error, not yet counted
  std::string first_error;               // the first of those, for the log
  // The first of those that was a PRECONDITION_FAILED refusal of the destination's declaration.
  std::optional<messaging::MessagingError> refusal;

  void Settled(std::uint64_t sequence, const messaging::MessagingError* error) {
    {
      const std::lock_guard lock{mutex};
      --in_flight;
      if (error == nullptr) {
        confirmed.push_back(sequence);
      } else {
        if (failures++ == 0) first_error = error->what();
        if (!refusal && error->kind() == messaging::MessagingErrorKind::kPreconditionFailed) {
          refusal.emplace(error->kind(), error->what());
        }
      }
    }
    wake.notify_one();
  }
};

std::string Relay::NoteRefusal(const messaging::MessagingError& error) {
  const std::string hint = options_.refusal_hint ? options_.refusal_hint(error) : std::string{};
  const std::lock_guard lock{refusal_mutex_};
  refusal_ = "the broker refuses the declaration of " + NameOf(options_.destination) + ": " +
             error.what() + (hint.empty() ? std::string{} : " (" + hint + ")");
  return hint;
}

void Relay::ClearRefusal() {
  const std::lock_guard lock{refusal_mutex_};
  refusal_.reset();
}

std::optional<std::string> Relay::Refusal() const {
  const std::lock_guard lock{refusal_mutex_};
  return refusal_;
}

Relay::Relay(OutboxStore& outbox, messaging::MessagePublisher& publisher, RelayOptions options)
    : outbox_(outbox),
      publisher_(publisher),
      options_(std::move(options)),
      shared_(std::make_shared<Shared>()) {
  if (options_.window == 0) options_.window = 1;
  outbox_.SetAppendListener([shared = shared_](std::uint64_t) {
    {
      const std::lock_guard lock{shared->mutex};
      shared->appended = true;
    }
    shared->wake.notify_one();
  });
  thread_ = std::thread{[this] { Run(); }};
}

Relay::~Relay() {
  outbox_.SetAppendListener(nullptr);
  {
    const std::lock_guard lock{shared_->mutex};
    shared_->stopping = true;
  }
  shared_->wake.notify_one();
  thread_.join();
}

void Relay::Delete(std::vector<std::uint64_t>& sequences) {
  try {
    // Not waiting for the deletion's commit: the next entries go out meanwhile. A failed
    // deletion is logged by the outbox; those entries stay, for one more delivery later.
    outbox_.RemoveLater(sequences);
    confirmed_.fetch_add(sequences.size());
  } catch (const std::exception& e) {  // closed: they stay
    spdlog::error("outbox relay: cannot delete relayed entries from the outbox: {}", e.what());
  }
  sequences.clear();
}

bool Relay::PublishNext(std::uint64_t& cursor, std::size_t room, bool& round_failed) {
  const std::uint64_t committed = outbox_.LastSequence();
  auto entries = outbox_.Read(cursor, room);
  const bool filled = entries.size() == room;
  // The read saw every entry up to `committed`: the next read starts after it.
  if (!filled) cursor = std::max(cursor, committed);
  for (auto& entry : entries) {
    cursor = std::max(cursor, entry.sequence);
    messaging::Message message;
    message.body = std::move(entry.body);
    message.content_type = options_.content_type;
    message.message_id = std::move(entry.message_id);
    message.persistent = true;
    // The publish is a span of the read's trace: same trace id, a span id of its own, the
    // read's tracestate passed on (ParseTraceparent drops one over kMaxTraceStateBytes).
    if (const auto read_span = trace::ParseTraceparent(entry.traceparent, entry.tracestate)) {
      trace::TraceContext publish_span = trace::ChildOf(*read_span);
      message.headers.insert_or_assign(std::string(trace::kTraceparentHeader),
                                       trace::FormatTraceparent(publish_span));
      if (!publish_span.trace_state.empty()) {
        message.headers.insert_or_assign(std::string(trace::kTracestateHeader),
                                         std::move(publish_span.trace_state));
      }
    }
    {
      const std::lock_guard lock{shared_->mutex};
      ++shared_->in_flight;
    }
    // What is logged for this publish (here and by the client) names the message and its span.
    const auto header = message.headers.find(trace::kTraceparentHeader);
    const auto* published =
        header != message.headers.end() ? std::get_if<std::string>(&header->second) : nullptr;
    const trace::TraceparentIds ids =
        published != nullptr ? trace::IdsOf(*published) : trace::TraceparentIds{};
    const logging::ScopedFields log_fields(
        {.trace_id = ids.trace_id, .span_id = ids.span_id, .message_id = message.message_id});
    try {
      auto on_done = [shared = shared_,
                      sequence = entry.sequence](const messaging::MessagingError* error) {
        shared->Settled(sequence, error);
      };
      if (const auto* queue = std::get_if<messaging::QueueSpec>(&options_.destination)) {
        publisher_.PublishToQueue(*queue, std::move(message), std::move(on_done));
      } else {
        const auto& exchange = std::get<ExchangeDestination>(options_.destination);
        publisher_.Publish(exchange.exchange, exchange.routing_key, std::move(message),
                           std::move(on_done));
      }
    } catch (const std::exception& e) {  // not accepted: no callback will come
      {
        const std::lock_guard lock{shared_->mutex};
        --shared_->in_flight;
      }
      spdlog::error("outbox relay: {}", e.what());
      failed_.fetch_add(1);
      round_failed = true;
      return false;
    }
  }
  return filled;
}

void Relay::Run() {
  // Every line of the relay's thread names the queue (or exchange) it publishes to.
  const logging::ScopedFields log_fields({.queue = NameOf(options_.destination)});
  Shared& shared = *shared_;
  std::vector<std::uint64_t> done;
  std::uint64_t cursor = 0;  // the last sequence published in this round
  bool read_more = true;     // entries may wait after the cursor (at start: an earlier run's)
  bool round_failed = false;
  auto backoff = options_.retry_min;

  std::unique_lock lock{shared.mutex};
  while (true) {
    if (!shared.confirmed.empty()) {
      done.swap(shared.confirmed);
      lock.unlock();
      ClearRefusal();  // the broker takes the destination as declared
      Delete(done);
      lock.lock();
      continue;
    }
    if (shared.failures != 0) {
      std::string hint;
      if (shared.refusal) hint = NoteRefusal(*std::exchange(shared.refusal, std::nullopt));
      if (!round_failed) {
        spdlog::warn("outbox entry not published, kept for retry: {}{}", shared.first_error,
                     hint.empty() ? std::string{} : " (" + hint + ")");
      }
      failed_.fetch_add(shared.failures);
      shared.failures = 0;
      shared.first_error.clear();
      round_failed = true;
    }
    if (shared.stopping) break;

    if (round_failed) {
      if (shared.in_flight != 0) {  // the round ends when all its publishes have settled
        shared.wake.wait(lock);
        continue;
      }
      // Relay what is left from the start, after the backoff.
      if (shared.wake.wait_for(lock, backoff, [&] { return shared.stopping; })) break;
      backoff = std::min(backoff * 2, options_.retry_max);
      round_failed = false;
      lock.unlock();
      // The next round reads from the start: what was confirmed must be gone by then, or it
      // would go out twice.
      try {
        outbox_.FlushRemovals();
      } catch (const std::exception&) {  // logged by the outbox; those go out once more
      }
      lock.lock();
      cursor = 0;
      read_more = true;
      continue;
    }

    if (shared.in_flight < options_.window && (read_more || shared.appended)) {
      // A new entry goes out at once instead of after the oldest confirm: the confirm of a
      // persistent message waits for the broker's disk, which must not delay the next one.
      shared.appended = false;
      const std::size_t room = options_.window - shared.in_flight;
      lock.unlock();
      try {
        read_more = PublishNext(cursor, room, round_failed);
      } catch (const std::exception& e) {  // the store refused: try again later
        spdlog::error("outbox relay: {}", e.what());
        failed_.fetch_add(1);
        round_failed = true;
      }
      lock.lock();
      continue;
    }

    if (shared.in_flight == 0) backoff = options_.retry_min;
    shared.wake.wait(lock, [&] {
      return shared.stopping || !shared.confirmed.empty() || shared.failures != 0 ||
             (shared.appended && shared.in_flight < options_.window);
    });
  }

  // Stopping: give outstanding confirms until stop_wait; the rest stay in the outbox.
  const auto deadline = std::chrono::steady_clock::now() + options_.stop_wait;
  while (true) {
    if (!shared.confirmed.empty()) {
      done.swap(shared.confirmed);
      lock.unlock();
      Delete(done);
      lock.lock();
      continue;
    }
    failed_.fetch_add(std::exchange(shared.failures, 0));
    if (shared.in_flight == 0 || !shared.wake.wait_until(lock, deadline, [&] {
          return shared.in_flight == 0 || !shared.confirmed.empty() || shared.failures != 0;
        })) {
      break;
    }
  }
  if (shared.in_flight != 0) {
    spdlog::info(
        "outbox relay stopped with {} entries unconfirmed; they stay in the outbox for the next "
        "start",
        shared.in_flight);
  }
}

}  // namespace cppblog::outbox
