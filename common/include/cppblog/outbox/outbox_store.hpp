#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace cppblog::outbox {

/// What an application hands the outbox: the message to publish later.
struct OutboxMessage {
  /// The message's id, kept with it and published as its message_id (consumers drop duplicates
  /// by it: the relay delivers at least once).
  std::string message_id;
  std::string body;
  /// The W3C traceparent of the span that appended it; empty for none. One holding US (0x1f) or
  /// NUL (no valid one does) is not kept.
  std::string traceparent{};
  /// The W3C tracestate that came with it, passed on unchanged; empty for none. Not kept without
  /// a traceparent, over trace::kMaxTraceStateBytes, or holding US or NUL.
  std::string tracestate{};
};

/// One message waiting in the outbox to be published.
struct OutboxEntry {
  std::uint64_t sequence = 0;  // position in the outbox; increases with every append
  std::string message_id;
  std::string body;
  std::string traceparent{};
  std::string tracestate{};

  friend bool operator==(const OutboxEntry&, const OutboxEntry&) = default;
};

/// What a Relay needs of an outbox, whatever keeps it: entries in sequence order (which is the
/// order their transactions committed), their deletion once relayed, and a wake-up after every
/// commit that appended. Implemented by Outbox (LMDB) and PgOutboxStore (PostgreSQL). Every
/// member is thread-safe.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  /// Up to `max` entries with a sequence greater than `after`, in order. An entry committed after
  /// one this returned has a greater sequence. Throws storage::StoreError.
  [[nodiscard]] virtual std::vector<OutboxEntry> Read(std::uint64_t after,
                                                      std::size_t max) const = 0;

  /// Queues the deletion of the entries (missing ones are ignored) and returns without waiting
  /// for it to commit. A deletion that fails (logged) leaves its entries: they are relayed once
  /// more. Throws storage::StoreError when the store is closed.
  virtual void RemoveLater(std::span<const std::uint64_t> sequences) = 0;

  /// Commits every deletion queued so far and returns once they are committed; throws the
  /// storage::StoreError of one that failed (its entries stay).
  virtual void FlushRemovals() = 0;

  /// Number of entries stored. Throws storage::StoreError.
  [[nodiscard]] virtual std::size_t Size() const = 0;

  /// A sequence up to which every committed entry is readable (Read after it finds only later
  /// ones); 0 when the store does not know one.
  [[nodiscard]] virtual std::uint64_t LastSequence() const = 0;

  /// `listener` is called after every commit that appended entries (and whenever entries may
  /// wait that an earlier Read could not return), with the last sequence committed when known
  /// (else 0); it replaces the listener set before, and null removes it. Returns only after a
  /// call of the previous listener in progress has returned. The listener must not throw, block
  /// or call SetAppendListener.
  virtual void SetAppendListener(std::function<void(std::uint64_t last_sequence)> listener) = 0;

  /// What the store's errors begin with ("<database> in <path>", "outbox <table> in <URL>").
  [[nodiscard]] virtual std::string Describe() const = 0;

 protected:
  OutboxStore() = default;
  OutboxStore(const OutboxStore&) = default;
  OutboxStore& operator=(const OutboxStore&) = default;
  OutboxStore(OutboxStore&&) = default;
  OutboxStore& operator=(OutboxStore&&) = default;
};

}  // namespace cppblog::outbox
