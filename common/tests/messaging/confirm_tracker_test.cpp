// Publisher-confirm bookkeeping without a broker: delivery tags, basic.ack / basic.nack with and
// without `multiple`, out-of-order confirms, basic.return, and a lost channel.
#include "messaging/confirm_tracker.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cppblog::messaging {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

using Settled = std::vector<std::pair<std::string, Confirmation>>;

// Records what a confirm settled, in the order it was settled.
auto Recorder(Settled& settled) {
  return [&settled](std::string& item, Confirmation how) { settled.emplace_back(item, how); };
}

ConfirmTracker<std::string> TrackerWith(const std::vector<std::string>& items) {
  ConfirmTracker<std::string> tracker;
  for (const std::string& item : items) tracker.Add(item);
  return tracker;
}

TEST(ConfirmTracker, DeliveryTagsCountFromOneInPublishOrder) {
  ConfirmTracker<std::string> tracker;

  EXPECT_EQ(tracker.Add("a"), 1u);
  EXPECT_EQ(tracker.Add("b"), 2u);
  EXPECT_EQ(tracker.Add("c"), 3u);
  EXPECT_EQ(tracker.Size(), 3u);
}

TEST(ConfirmTracker, AnAckWithoutMultipleSettlesOnlyItsTag) {
  auto tracker = TrackerWith({"a", "b", "c"});
  Settled settled;

  EXPECT_EQ(tracker.Confirm({.delivery_tag = 2}, Recorder(settled)), 1u);

  EXPECT_THAT(settled, ElementsAre(Pair("b", Confirmation::kAcked)));
  EXPECT_EQ(tracker.Size(), 3u);  // tag 1 is still outstanding: tags 2 and 3 stay held
}

TEST(ConfirmTracker, AMultipleAckSettlesEveryOutstandingTagUpToItInOrder) {
  auto tracker = TrackerWith({"a", "b", "c", "d"});
  Settled settled;

  EXPECT_EQ(tracker.Confirm({.delivery_tag = 3, .multiple = true}, Recorder(settled)), 3u);

  EXPECT_THAT(settled, ElementsAre(Pair("a", Confirmation::kAcked), Pair("b", Confirmation::kAcked),
                                   Pair("c", Confirmation::kAcked)));
  EXPECT_EQ(tracker.Size(), 1u);
}

TEST(ConfirmTracker, AMultipleAckSkipsTagsSettledOutOfOrderBefore) {
  auto tracker = TrackerWith({"a", "b", "c"});
  Settled settled;
  tracker.Confirm({.delivery_tag = 2}, Recorder(settled));

  EXPECT_EQ(tracker.Confirm({.delivery_tag = 3, .multiple = true}, Recorder(settled)), 2u);

  EXPECT_THAT(settled, ElementsAre(Pair("b", Confirmation::kAcked), Pair("a", Confirmation::kAcked),
                                   Pair("c", Confirmation::kAcked)));
  EXPECT_TRUE(tracker.Empty());
}

TEST(ConfirmTracker, OutOfOrderAcksReleaseTheirTagsOnceEveryEarlierOneIsSettled) {
  auto tracker = TrackerWith({"a", "b", "c"});
  Settled settled;

  tracker.Confirm({.delivery_tag = 3}, Recorder(settled));
  tracker.Confirm({.delivery_tag = 2}, Recorder(settled));
  EXPECT_EQ(tracker.Size(), 3u);
  tracker.Confirm({.delivery_tag = 1}, Recorder(settled));

  EXPECT_THAT(settled, ElementsAre(Pair("c", Confirmation::kAcked), Pair("b", Confirmation::kAcked),
                                   Pair("a", Confirmation::kAcked)));
  EXPECT_TRUE(tracker.Empty());
  EXPECT_EQ(tracker.Add("d"), 4u);  // the broker's count goes on
}

TEST(ConfirmTracker, ANackSettlesItsTagAsNacked) {
  auto tracker = TrackerWith({"a", "b"});
  Settled settled;

  tracker.Confirm({.delivery_tag = 2, .ack = false}, Recorder(settled));

  EXPECT_THAT(settled, ElementsAre(Pair("b", Confirmation::kNacked)));
}

TEST(ConfirmTracker, AMultipleNackSettlesEveryOutstandingTagUpToItAsNacked) {
  auto tracker = TrackerWith({"a", "b", "c"});
  Settled settled;

  tracker.Confirm({.delivery_tag = 2, .multiple = true, .ack = false}, Recorder(settled));

  EXPECT_THAT(settled,
              ElementsAre(Pair("a", Confirmation::kNacked), Pair("b", Confirmation::kNacked)));
  EXPECT_EQ(tracker.Size(), 1u);
}

TEST(ConfirmTracker, AConfirmOfASettledOrUnknownTagSettlesNothing) {
  auto tracker = TrackerWith({"a", "b"});
  Settled settled;
  tracker.Confirm({.delivery_tag = 1}, Recorder(settled));
  settled.clear();

  EXPECT_EQ(tracker.Confirm({.delivery_tag = 1, .ack = false}, Recorder(settled)), 0u);
  EXPECT_EQ(tracker.Confirm({.delivery_tag = 0, .multiple = true}, Recorder(settled)), 0u);
  EXPECT_EQ(tracker.Confirm({.delivery_tag = 7}, Recorder(settled)), 0u);

  EXPECT_THAT(settled, IsEmpty());
  EXPECT_EQ(tracker.Size(), 1u);
}

TEST(ConfirmTracker, AMultipleAckBeyondTheLastTagSettlesEverythingOutstanding) {
  auto tracker = TrackerWith({"a", "b"});
  Settled settled;

  EXPECT_EQ(tracker.Confirm({.delivery_tag = 9, .multiple = true}, Recorder(settled)), 2u);

  EXPECT_TRUE(tracker.Empty());
}

TEST(ConfirmTracker, AnAckAfterAReturnSettlesTheReturnedItemAsReturned) {
  auto tracker = TrackerWith({"a", "b", "c"});
  Settled settled;

  const std::string* returned = tracker.MarkReturned([](const std::string& s) { return s == "b"; });
  ASSERT_NE(returned, nullptr);
  EXPECT_EQ(*returned, "b");
  tracker.Confirm({.delivery_tag = 3, .multiple = true}, Recorder(settled));

  EXPECT_THAT(settled,
              ElementsAre(Pair("a", Confirmation::kAcked), Pair("b", Confirmation::kReturned),
                          Pair("c", Confirmation::kAcked)));
}

TEST(ConfirmTracker, ANackAfterAReturnIsANack) {
  auto tracker = TrackerWith({"a"});
  Settled settled;
  tracker.MarkReturned([](const std::string&) { return true; });

  tracker.Confirm({.delivery_tag = 1, .ack = false}, Recorder(settled));

  EXPECT_THAT(settled, ElementsAre(Pair("a", Confirmation::kNacked)));
}

TEST(ConfirmTracker, ReturnsMarkTheOldestUnreturnedMatchInPublishOrder) {
  auto tracker = TrackerWith({"x", "y", "x", "x"});
  Settled settled;
  const auto is_x = [](const std::string& s) { return s == "x"; };

  ASSERT_NE(tracker.MarkReturned(is_x), nullptr);
  ASSERT_NE(tracker.MarkReturned(is_x), nullptr);
  tracker.Confirm({.delivery_tag = 4, .multiple = true}, Recorder(settled));

  EXPECT_THAT(settled,
              ElementsAre(Pair("x", Confirmation::kReturned), Pair("y", Confirmation::kAcked),
                          Pair("x", Confirmation::kReturned), Pair("x", Confirmation::kAcked)));
}

TEST(ConfirmTracker, AReturnSkipsSettledItemsAndFindsNothingWithoutAMatch) {
  auto tracker = TrackerWith({"x", "y"});
  Settled settled;
  tracker.Confirm({.delivery_tag = 1}, Recorder(settled));

  EXPECT_EQ(tracker.MarkReturned([](const std::string& s) { return s == "x"; }), nullptr);
  EXPECT_EQ(tracker.MarkReturned([](const std::string& s) { return s == "z"; }), nullptr);
}

TEST(ConfirmTracker, ALostChannelHandsOverEveryOutstandingItemInTagOrderAndStartsAgainAtOne) {
  auto tracker = TrackerWith({"a", "b", "c", "d"});
  Settled settled;
  tracker.Confirm({.delivery_tag = 2}, Recorder(settled));
  std::vector<std::string> failed;

  tracker.Reset([&](std::string&& item) { failed.push_back(std::move(item)); });

  EXPECT_THAT(failed, ElementsAre("a", "c", "d"));  // "b" was settled: not handed over again
  EXPECT_TRUE(tracker.Empty());
  EXPECT_EQ(tracker.Add("e"), 1u);
  // The old tags mean nothing on the new channel.
  settled.clear();
  tracker.Confirm({.delivery_tag = 1}, Recorder(settled));
  EXPECT_THAT(settled, ElementsAre(Pair("e", Confirmation::kAcked)));
}

TEST(ConfirmTracker, ALostChannelStartsAgainAtOneEvenWhenTakingAnItemThrows) {
  auto tracker = TrackerWith({"a", "b"});

  EXPECT_THROW(tracker.Reset([](std::string&&) { throw std::runtime_error("broker gone"); }),
               std::runtime_error);

  EXPECT_TRUE(tracker.Empty());
  EXPECT_EQ(tracker.Add("c"), 1u);
}

TEST(ConfirmTracker, ForEachOutstandingVisitsOutstandingItemsInTagOrderUntilToldToStop) {
  auto tracker = TrackerWith({"a", "b", "c", "d"});
  Settled settled;
  tracker.Confirm({.delivery_tag = 2}, Recorder(settled));
  std::vector<std::string> visited;

  tracker.ForEachOutstanding([&](std::string& item) {
    visited.push_back(item);
    return item != "c";
  });

  EXPECT_THAT(visited, ElementsAre("a", "c"));
}

TEST(ConfirmTracker, AnyOutstandingLooksOnlyAtOutstandingItems) {
  auto tracker = TrackerWith({"a", "b"});
  Settled settled;
  tracker.Confirm({.delivery_tag = 2}, Recorder(settled));

  EXPECT_TRUE(tracker.AnyOutstanding([](const std::string& s) { return s == "a"; }));
  EXPECT_FALSE(tracker.AnyOutstanding([](const std::string& s) { return s == "b"; }));
}

TEST(ConfirmTracker, SettleMayTakeTheItem) {
  ConfirmTracker<std::unique_ptr<int>> tracker;
  tracker.Add(std::make_unique<int>(1));
  tracker.Add(std::make_unique<int>(2));
  std::vector<std::unique_ptr<int>> taken;

  tracker.Confirm(
      {.delivery_tag = 2, .multiple = true},
      [&](std::unique_ptr<int>& item, Confirmation) { taken.push_back(std::move(item)); });

  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(*taken[0], 1);
  EXPECT_EQ(*taken[1], 2);
  EXPECT_TRUE(tracker.Empty());
}

// Many more tags than the first ring holds, confirmed out of order while the ring wraps and
// grows: every item is settled exactly once, with the tag it was given.
TEST(ConfirmTracker, KeepsTagsAndItemsAcrossAWrappingAndGrowingRing) {
  ConfirmTracker<std::uint64_t> tracker;
  std::vector<std::uint64_t> settled_tags;
  const auto record = [&](std::uint64_t& item, Confirmation how) {
    EXPECT_EQ(how, Confirmation::kAcked);
    settled_tags.push_back(item);
  };
  std::uint64_t next = 1;
  for (int round = 0; round < 50; ++round) {
    const std::uint64_t first = next;
    for (int i = 0; i < 3 + round; ++i) {
      const std::uint64_t tag = tracker.Add(next);
      ASSERT_EQ(tag, next);
      ++next;
    }
    // The newest first, one by one, then a multiple ack up to the oldest of this round.
    tracker.Confirm({.delivery_tag = next - 1}, record);
    tracker.Confirm({.delivery_tag = first, .multiple = true}, record);
  }
  tracker.Confirm({.delivery_tag = next - 1, .multiple = true}, record);

  EXPECT_TRUE(tracker.Empty());
  ASSERT_EQ(settled_tags.size(), next - 1);
  std::sort(settled_tags.begin(), settled_tags.end());
  for (std::uint64_t tag = 1; tag < next; ++tag) EXPECT_EQ(settled_tags[tag - 1], tag);
}

}  // namespace
}  // namespace cppblog::messaging
