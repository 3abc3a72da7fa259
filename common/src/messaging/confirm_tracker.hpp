#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace cppblog::messaging {

/// What the broker said about one publish on a channel in confirm mode.
enum class Confirmation {
  kAcked,     // basic.ack: the broker took it
  kNacked,    // basic.nack: the broker refused it
  kReturned,  // basic.ack after a basic.return: no queue took it (mandatory, unroutable)
};

/// A basic.ack or basic.nack as the broker sent it.
struct BrokerConfirm {
  std::uint64_t delivery_tag = 0;
  bool multiple = false;  // every outstanding tag up to delivery_tag
  bool ack = true;        // false: basic.nack
};

/// The publisher-confirm bookkeeping of one channel in confirm mode (`confirm.select`): the
/// publisher's channel 1 and the consumer's republish channel 2.
///
/// Each publish takes the next delivery tag (1, 2, ... from the last Reset, as the broker counts
/// them). A basic.ack or basic.nack settles one tag, or with `multiple` every outstanding tag up to
/// it; single confirms may come out of order (messages routed to different queues). A
/// basic.return carries no tag: it precedes the ack of its message and returns come in publish
/// order, so it marks the oldest outstanding match, whose ack then settles it as kReturned. A
/// settled tag is forgotten once every earlier one is settled too.
///
/// A class template rather than a class over type-erased items: the publisher tracks a pointer
/// to its reusable Outgoing, the consumer its Republish by value, and the publish path (ADR 0014)
/// gets no extra allocation or indirection for it.
///
/// Not thread-safe: it belongs to the connection's I/O thread.
template <typename Item>
class ConfirmTracker {
 public:
  /// `item` was just published on the channel: it takes the next delivery tag, returned.
  std::uint64_t Add(Item item) {
    if (count_ == ring_.size()) Grow();
    At(count_) = Slot{std::move(item)};
    ++count_;
    return first_tag_ + count_ - 1;
  }

  /// Tags held: the outstanding ones, and settled ones behind an outstanding one. What a confirm
  /// window counts.
  [[nodiscard]] std::size_t Size() const noexcept { return count_; }
  [[nodiscard]] bool Empty() const noexcept { return count_ == 0; }

  /// A basic.ack or basic.nack: calls settle(Item&, Confirmation) once for each outstanding item
  /// it covers, in tag order, and returns how many. `settle` may move the item out, and must
  /// not call this tracker. A tag that is settled already, or was never handed out, settles
  /// nothing.
  template <typename Settle>
  std::size_t Confirm(const BrokerConfirm& confirm, Settle&& settle) {
    if (confirm.delivery_tag < first_tag_) return 0;
    const auto settle_slot = [&](Slot& slot) {
      slot.confirmed = true;
      settle(slot.item, !confirm.ack    ? Confirmation::kNacked
                        : slot.returned ? Confirmation::kReturned
                                        : Confirmation::kAcked);
    };
    std::size_t settled = 0;
    const std::uint64_t index = confirm.delivery_tag - first_tag_;
    if (confirm.multiple) {
      for (std::size_t i = 0; i <= index && i < count_; ++i) {
        if (At(i).confirmed) continue;
        settle_slot(At(i));
        ++settled;
      }
    } else if (index < count_ && !At(index).confirmed) {
      settle_slot(At(index));
      ++settled;
    }
    while (count_ > 0 && At(0).confirmed) {
      At(0) = Slot{};  // what the item still holds goes now
      head_ = (head_ + 1) & (ring_.size() - 1);
      --count_;
      ++first_tag_;
    }
    return settled;
  }

  /// basic.return: marks the oldest outstanding item not returned yet for which matches(const
  /// Item&) is true, and returns it (null when none matches).
  template <typename Match>
  Item* MarkReturned(Match&& matches) {
    for (std::size_t i = 0; i < count_; ++i) {
      Slot& slot = At(i);
      if (slot.confirmed || slot.returned || !matches(std::as_const(slot.item))) continue;
      slot.returned = true;
      return &slot.item;
    }
    return nullptr;
  }

  /// Calls visit(Item&) for the outstanding items in tag order while it returns true.
  template <typename Visit>
  void ForEachOutstanding(Visit&& visit) {
    for (std::size_t i = 0; i < count_; ++i) {
      if (!At(i).confirmed && !visit(At(i).item)) return;
    }
  }

  /// Whether matches(const Item&) is true for an outstanding item.
  template <typename Match>
  [[nodiscard]] bool AnyOutstanding(Match&& matches) const {
    for (std::size_t i = 0; i < count_; ++i) {
      if (!At(i).confirmed && matches(At(i).item)) return true;
    }
    return false;
  }

  /// The channel (or its connection) is gone and its tags with it: hands each outstanding item to
  /// take(Item&&), in tag order, forgets the settled ones, and starts again at tag 1 (the next
  /// confirm.select's first). Should `take` throw, the items after that one are forgotten too.
  template <typename Take>
  void Reset(Take&& take) {
    const std::size_t head = head_;
    const std::size_t count = count_;
    head_ = 0;
    count_ = 0;
    first_tag_ = 1;
    for (std::size_t i = 0; i < count; ++i) {
      Slot slot = std::exchange(ring_[(head + i) & (ring_.size() - 1)], Slot{});
      if (!slot.confirmed) take(std::move(slot.item));
    }
  }

 private:
  struct Slot {
    Item item{};
    bool confirmed = false;  // acked or nacked
    bool returned = false;   // a basic.return came first
  };

  Slot& At(std::size_t i) noexcept { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  const Slot& At(std::size_t i) const noexcept { return ring_[(head_ + i) & (ring_.size() - 1)]; }

  void Grow() {
    std::vector<Slot> bigger(ring_.empty() ? 16 : 2 * ring_.size());
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = std::move(At(i));
    ring_.swap(bigger);
    head_ = 0;
  }

  // A ring of a power-of-two size, grown to the most tags held at once and then reused: no
  // allocation per publish.
  std::vector<Slot> ring_;
  std::size_t head_ = 0;   // the slot of first_tag_
  std::size_t count_ = 0;  // tags held: first_tag_ .. first_tag_ + count_ - 1
  std::uint64_t first_tag_ = 1;
};

}  // namespace cppblog::messaging
