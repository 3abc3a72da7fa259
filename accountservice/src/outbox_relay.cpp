#include "outbox_relay.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/vip/vip_notification.hpp"

namespace cppblog::account {
namespace {

using namespace std::chrono_literals;

// How long the relay waits for a confirm or a new entry before looking again: bounds how
// late it notices the other one (and a stop).
constexpr auto kPollInterval = 20ms;
// While publishes await confirms and the window has room: how long to wait for a new entry
// before checking the confirms again.
constexpr auto kNewEntryWait = 1ms;
constexpr auto kIdleWait = 100ms;

struct InFlight {
  std::uint64_t sequence;
  std::future<void> confirm;
};

}  // namespace

std::optional<std::string> OutboxRelay::NoteRefusal(const std::exception& error) {
  const auto* messaging_error = dynamic_cast<const messaging::MessagingError*>(&error);
  if (messaging_error == nullptr ||
      messaging_error->kind() != messaging::MessagingErrorKind::kPreconditionFailed) {
    return std::nullopt;
  }
  const std::string hint = vip::VipQueueMismatchHint(error.what());
  const std::lock_guard lock{refusal_mutex_};
  refusal_ = "the broker refuses the declaration of " + options_.queue.name + ": " + error.what() +
             " (" + hint + ")";
  return hint;
}

void OutboxRelay::ClearRefusal() {
  const std::lock_guard lock{refusal_mutex_};
  refusal_.reset();
}

std::optional<std::string> OutboxRelay::QueueRefusal() const {
  const std::lock_guard lock{refusal_mutex_};
  return refusal_;
}

OutboxRelay::OutboxRelay(Outbox& outbox, messaging::MessagePublisher& publisher,
                         OutboxRelayOptions options)
    : outbox_(outbox), publisher_(publisher), options_(std::move(options)) {
  if (options_.window == 0) options_.window = 1;
  thread_ = std::thread{[this] { Run(); }};
}

OutboxRelay::~OutboxRelay() {
  {
    const std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  stop_flag_.store(true);
  stop_cv_.notify_all();
  thread_.join();
}

bool OutboxRelay::SleepUnlessStopping(std::chrono::milliseconds timeout) {
  std::unique_lock lock{mutex_};
  return stop_cv_.wait_for(lock, timeout, [&] { return stopping_; });
}

void OutboxRelay::Run() {
  std::deque<InFlight> in_flight;
  std::vector<std::uint64_t> done;
  std::uint64_t cursor = 0;  // the last sequence published in this round
  auto backoff = options_.retry_min;
  bool round_failed = false;

  // Collects settled publishes; deletes the confirmed ones. `wait` bounds the wait for the
  // oldest one.
  auto harvest = [&](std::chrono::milliseconds wait) {
    if (!in_flight.empty()) static_cast<void>(in_flight.front().confirm.wait_for(wait));
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      if (it->confirm.wait_for(0s) != std::future_status::ready) {
        ++it;
        continue;
      }
      try {
        it->confirm.get();
        done.push_back(it->sequence);
      } catch (const std::exception& e) {
        const std::optional<std::string> refusal = NoteRefusal(e);
        if (!round_failed)
          spdlog::warn("VIP notification not published, kept for retry: {}{}", e.what(),
                       refusal ? " (" + *refusal + ")" : std::string{});
        round_failed = true;
        failed_.fetch_add(1);
      }
      it = in_flight.erase(it);
    }
    if (!done.empty()) {
      ClearRefusal();
      try {
        // Not waiting for the deletion's commit: the next entries go out meanwhile. A failed
        // deletion is logged by the outbox; those entries stay, for one more delivery later.
        outbox_.RemoveLater(done);
        confirmed_.fetch_add(done.size());
      } catch (const std::exception& e) {  // closed: they stay
        spdlog::error("cannot delete relayed VIP notifications from the outbox: {}", e.what());
      }
      done.clear();
    }
  };

  while (!stop_flag_.load()) {
    try {
      if (!round_failed && in_flight.size() < options_.window) {
        const std::uint64_t committed = outbox_.LastSequence();
        const std::size_t room = options_.window - in_flight.size();
        auto entries = outbox_.Read(cursor, room);
        // The read saw every entry up to `committed`: the next wait starts after it.
        if (entries.size() < room) cursor = std::max(cursor, committed);
        for (auto& entry : entries) {
          cursor = std::max(cursor, entry.sequence);
          messaging::Message message;
          message.body = std::move(entry.body);
          message.content_type = "application/json";
          message.message_id = std::move(entry.message_id);
          message.persistent = true;
          in_flight.push_back(
              {.sequence = entry.sequence,
               .confirm = publisher_.PublishToQueue(options_.queue, std::move(message))});
        }
      }
    } catch (const std::exception& e) {  // store or publisher refused: try again later
      spdlog::error("VIP outbox relay: {}", e.what());
      round_failed = true;
      failed_.fetch_add(1);
    }

    if (!in_flight.empty()) {
      if (!round_failed && in_flight.size() < options_.window) {
        // A new entry goes out at once instead of after the oldest confirm: the confirm of a
        // persistent message waits for the broker's disk, which must not delay the next one.
        static_cast<void>(outbox_.WaitForEntriesAfter(cursor, kNewEntryWait));
        harvest(0ms);
      } else {
        harvest(kPollInterval);
      }
    } else if (round_failed) {
      // Every publish of the round settled; relay what is left from the start, later.
      if (SleepUnlessStopping(backoff)) break;
      backoff = std::min(backoff * 2, options_.retry_max);
      round_failed = false;
      // The next round reads from the start: what was confirmed must be gone by then, or it
      // would go out twice.
      try {
        outbox_.FlushRemovals();
      } catch (const std::exception&) {  // logged by the outbox; those go out once more
      }
      cursor = 0;
    } else {
      backoff = options_.retry_min;
      static_cast<void>(outbox_.WaitForEntriesAfter(cursor, kIdleWait));
    }
  }

  // Stopping: give outstanding confirms a moment; the rest stay in the outbox.
  const auto deadline = std::chrono::steady_clock::now() + options_.stop_wait;
  while (!in_flight.empty() && std::chrono::steady_clock::now() < deadline) {
    harvest(kPollInterval);
  }
  if (!in_flight.empty()) {
    spdlog::info(
        "VIP outbox relay stopped with {} notifications unconfirmed; they stay in the "
        "outbox for the next start",
        in_flight.size());
  }
}

}  // namespace cppblog::account
