#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cppblog/messaging/message_publisher.hpp"
#include "cppblog/messaging/topology.hpp"

#include "outbox.hpp"

namespace cppblog::account {

struct OutboxRelayOptions {
  /// Where every entry goes (vip::VipQueue(compat_goblog_p9, vip_queue)).
  messaging::QueueSpec queue;
  /// Publishes awaiting their confirm at most.
  std::size_t window = 1000;
  /// After a failed publish: wait this long before relaying again, doubling up to max.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5'000};
  /// On destruction: how long to wait for confirms still outstanding.
  std::chrono::milliseconds stop_wait{2'000};
};

/// Publishes the outbox's entries, in order, each as a persistent application/json message
/// with its message id, and deletes each entry once the broker confirmed it. A failed
/// publish (nack, timeout, closed) leaves the entry in the outbox; the relay backs off and
/// relays everything left again. On start it relays whatever an earlier run left, so each
/// entry is delivered at least once, across crashes.
///
/// One thread, which sleeps until a confirm (or failure) arrives or the outbox commits new
/// entries: it publishes with MessagePublisher's callback form and never polls. The outbox and
/// the publisher must outlive the relay; a publish's callback may come after the relay is gone
/// (it then touches only state the callback shares). Not copyable or movable.
class OutboxRelay {
 public:
  OutboxRelay(Outbox& outbox, messaging::MessagePublisher& publisher, OutboxRelayOptions options);
  /// Stops: waits up to stop_wait for outstanding confirms; entries not confirmed stay.
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  /// Entries confirmed so far; their deletion is queued (Outbox::RemoveLater) by then, and
  /// Outbox::FlushRemovals waits for it.
  [[nodiscard]] std::uint64_t Confirmed() const noexcept { return confirmed_.load(); }
  /// Publishes that failed so far.
  [[nodiscard]] std::uint64_t Failed() const noexcept { return failed_.load(); }
  /// While the broker refuses the queue's declaration (PRECONDITION_FAILED: it holds the queue
  /// declared otherwise), what it said and the setting that would match (for /health);
  /// std::nullopt otherwise. Cleared by the next confirmed publish.
  [[nodiscard]] std::optional<std::string> QueueRefusal() const;

 private:
  struct Shared;  // what the relay thread, the publish callbacks and the outbox listener share

  void Run();
  // Reads up to `room` entries after `cursor` and publishes them; advances `cursor`. True when
  // the read filled `room` (more may wait). Throws what the outbox throws.
  bool PublishNext(std::uint64_t& cursor, std::size_t room, bool& round_failed);
  // Queues the deletion of confirmed entries and counts them.
  void Delete(std::vector<std::uint64_t>& sequences);

  Outbox& outbox_;
  messaging::MessagePublisher& publisher_;
  OutboxRelayOptions options_;
  std::atomic<std::uint64_t> confirmed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::shared_ptr<Shared> shared_;
  /// Records a PRECONDITION_FAILED refusal; returns its hint, nullopt for other errors.
  std::optional<std::string> NoteRefusal(const std::exception& error);
  void ClearRefusal();

  mutable std::mutex refusal_mutex_;
  std::optional<std::string> refusal_;
  std::thread thread_;
};

}  // namespace cppblog::account
