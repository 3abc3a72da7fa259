#include "offer_store_test.hpp"

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// The suite every offer store passes (offer_store_test.hpp): compiled into each store's test
// binary, which instantiates it.
namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;

// `threads` threads process `each` distinct messages each at once (ids <prefix><thread>-<i>, no
// cooldown), spread over `accounts` accounts from 10000 on; returns how many were offered.
int ProcessConcurrently(OfferStore& store, const std::string& prefix, int threads, int each,
                        int accounts) {
  std::vector<std::future<int>> workers;
  for (int t = 0; t < threads; ++t) {
    workers.push_back(std::async(std::launch::async, [&store, &prefix, t, each, accounts] {
      int offered = 0;
      for (int i = 0; i < each; ++i) {
        const std::string id = prefix + std::to_string(t) + "-" + std::to_string(i);
        const std::string account = std::to_string(10000 + (t * each + i) % accounts);
        offered +=
            store.Process(id, Notification(account, kT0), kT0, 0ms) == ProcessResult::kOffered ? 1
                                                                                               : 0;
      }
      return offered;
    }));
  }
  int offered = 0;
  for (auto& worker : workers) offered += worker.get();
  return offered;
}

TEST_P(OfferStoreTest, FirstNotificationYieldsAnOffer) {
  const auto store = Open();

  const ProcessResult result = store->Process("m1", Notification("10000", kT0), kT0 + 1ms, 24h);

  EXPECT_EQ(result, ProcessResult::kOffered);
  const std::vector<Offer> offers = store->OffersFor("10000");
  ASSERT_EQ(offers.size(), 1U);
  EXPECT_EQ(
      offers[0],
      (Offer{.account_id = "10000", .message_id = "m1", .read_at = kT0, .offered_at = kT0 + 1ms}));
}

TEST_P(OfferStoreTest, KeepsTimesToTheNanosecondAndIdsAsBytes) {
  const auto store = Open();
  const auto read_at = kT0 + 123456789ns;
  const std::string id("m\0\xff\xfe", 4);  // not UTF-8, with a NUL: AMQP ids are bytes

  ASSERT_EQ(store->Process(id, Notification("10000", read_at), read_at + 1ns, 0ms),
            ProcessResult::kOffered);

  const std::vector<Offer> offers = store->OffersFor("10000");
  ASSERT_EQ(offers.size(), 1U);
  EXPECT_EQ(offers[0].message_id, id);
  EXPECT_EQ(offers[0].read_at, read_at);
  EXPECT_EQ(offers[0].offered_at, read_at + 1ns);
  EXPECT_EQ(store->Process(id, Notification("10000", read_at), read_at, 0ms),
            ProcessResult::kDuplicate);
}

TEST_P(OfferStoreTest, SameMessageIdTwiceChangesNothing) {
  const auto store = Open();
  ASSERT_EQ(store->Process("m1", Notification("10000", kT0), kT0, 0ms), ProcessResult::kOffered);

  const ProcessResult again = store->Process("m1", Notification("10000", kT0 + 1h), kT0 + 1h, 0ms);

  EXPECT_EQ(again, ProcessResult::kDuplicate);
  EXPECT_EQ(CountOffers(*store), 1U);
  EXPECT_EQ(CountProcessed(*store), 1U);
  EXPECT_EQ(store->OffersFor("10000").at(0).offered_at, kT0);
}

TEST_P(OfferStoreTest, NotificationWithinCooldownIsProcessedWithoutOffer) {
  const auto store = Open();
  ASSERT_EQ(store->Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);

  const ProcessResult later = store->Process("m2", Notification("10000", kT0 + 23h), kT0, 24h);
  const ProcessResult earlier = store->Process("m3", Notification("10000", kT0 - 23h), kT0, 24h);

  EXPECT_EQ(later, ProcessResult::kCooldown);
  EXPECT_EQ(earlier, ProcessResult::kCooldown);
  EXPECT_EQ(CountOffers(*store), 1U);
  EXPECT_EQ(CountProcessed(*store), 3U);
  EXPECT_EQ(store->Process("m2", Notification("10000", kT0 + 23h), kT0, 24h),
            ProcessResult::kDuplicate);
}

TEST_P(OfferStoreTest, NotificationAfterCooldownYieldsAnotherOffer) {
  const auto store = Open();
  ASSERT_EQ(store->Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);

  EXPECT_EQ(store->Process("m2", Notification("10000", kT0 + 24h), kT0, 24h),
            ProcessResult::kOffered);
  EXPECT_EQ(store->OffersFor("10000").size(), 2U);
  // The cooldown reaches as far back as forward.
  EXPECT_EQ(store->Process("m3", Notification("10000", kT0 - 24h), kT0, 24h),
            ProcessResult::kOffered);
  EXPECT_EQ(store->OffersFor("10000").size(), 3U);
}

TEST_P(OfferStoreTest, CooldownIsPerAccount) {
  const auto store = Open();
  ASSERT_EQ(store->Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);

  EXPECT_EQ(store->Process("m2", Notification("1000", kT0), kT0, 24h), ProcessResult::kOffered);
  EXPECT_EQ(store->Process("m3", Notification("100000", kT0), kT0, 24h), ProcessResult::kOffered);
  EXPECT_EQ(store->OffersFor("10000").size(), 1U);
  EXPECT_EQ(store->OffersFor("1000").size(), 1U);
}

TEST_P(OfferStoreTest, ZeroCooldownMakesEveryDistinctMessageAnOffer) {
  const auto store = Open();

  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(store->Process("m" + std::to_string(i), Notification("10000", kT0), kT0, 0ms),
              ProcessResult::kOffered);
  }
  ASSERT_EQ(store->Process("m7", Notification("10000", kT0), kT0, 0ms), ProcessResult::kDuplicate);

  EXPECT_EQ(CountOffers(*store), 50U);
  EXPECT_EQ(store->OffersFor("10000").size(), 50U);
}

TEST_P(OfferStoreTest, OffersAreListedByReadAt) {
  const auto store = Open();
  ASSERT_EQ(store->Process("late", Notification("10000", kT0 + 2h), kT0, 0ms),
            ProcessResult::kOffered);
  ASSERT_EQ(store->Process("early", Notification("10000", kT0 - 2h), kT0, 0ms),
            ProcessResult::kOffered);

  const std::vector<Offer> offers = store->OffersFor("10000");

  ASSERT_EQ(offers.size(), 2U);
  EXPECT_EQ(offers[0].message_id, "early");
  EXPECT_EQ(offers[1].message_id, "late");
  EXPECT_TRUE(store->OffersFor("10001").empty());
}

TEST_P(OfferStoreTest, UnknownAccountHasNoOffers) {
  const std::unique_ptr<const OfferStore> store = Open();

  EXPECT_TRUE(store->OffersFor("10001").empty());
}

TEST_P(OfferStoreTest, ReopenKeepsOffersAndProcessedIds) {
  {
    const auto store = Open();
    ASSERT_EQ(store->Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);
  }
  const auto reopened = Open();

  EXPECT_EQ(reopened->OffersFor("10000").size(), 1U);
  EXPECT_EQ(reopened->Process("m1", Notification("10000", kT0), kT0, 24h),
            ProcessResult::kDuplicate);
  EXPECT_EQ(reopened->Process("m2", Notification("10000", kT0 + 1h), kT0, 24h),
            ProcessResult::kCooldown);
}

TEST_P(OfferStoreTest, AnOfferRecordsTheTraceIdOfItsMessage) {
  const auto store = Open();

  ASSERT_EQ(store->Process("m1", Notification("10000", kT0), kT0 + 1ms, 0ms, kTraceId),
            ProcessResult::kOffered);
  ASSERT_EQ(store->Process("m2", Notification("10000", kT0 + 1h), kT0 + 1h, 0ms),
            ProcessResult::kOffered);

  const std::vector<Offer> offers = store->OffersFor("10000");
  ASSERT_EQ(offers.size(), 2U);
  EXPECT_EQ(offers[0], (Offer{.account_id = "10000",
                              .message_id = "m1",
                              .read_at = kT0,
                              .offered_at = kT0 + 1ms,
                              .trace_id = std::string(kTraceId)}));
  EXPECT_EQ(offers[1].trace_id, "");  // its message carried none
}

TEST_P(OfferStoreTest, RejectsMalformedTraceIds) {
  const auto store = Open();

  for (const std::string_view bad :
       {"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e473",
        "00000000000000000000000000000000", "4bf92f3577b34da6a3ce929d0e0e4736ff"}) {
    EXPECT_THROW(static_cast<void>(store->Process("m1", Notification("10000", kT0), kT0, 0ms, bad)),
                 std::invalid_argument)
        << bad;
  }
  EXPECT_EQ(CountProcessed(*store), 0U);
}

TEST_P(OfferStoreTest, RejectsEmptyAndOverlongMessageIds) {
  const auto store = Open();

  EXPECT_THROW(static_cast<void>(store->Process("", Notification("10000", kT0), kT0, 0ms)),
               std::invalid_argument);
  EXPECT_THROW(static_cast<void>(
                   store->Process(std::string(256, 'x'), Notification("10000", kT0), kT0, 0ms)),
               std::invalid_argument);
  EXPECT_EQ(CountProcessed(*store), 0U);
}

TEST_P(OfferStoreTest, ConcurrentRedeliveriesYieldOneOffer) {
  const auto store = Open();
  std::vector<std::future<ProcessResult>> results;

  for (int i = 0; i < 8; ++i) {
    results.push_back(std::async(std::launch::async, [&store] {
      return store->Process("same", Notification("10000", kT0), kT0, 0ms);
    }));
  }

  int offered = 0;
  for (auto& result : results) offered += result.get() == ProcessResult::kOffered ? 1 : 0;
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(CountOffers(*store), 1U);
}

TEST_P(OfferStoreTest, ConcurrentDistinctMessagesAreAllRecorded) {
  const auto store = Open();

  // On one account, then on seven: the group commit's batches mix accounts.
  EXPECT_EQ(ProcessConcurrently(*store, "a", 8, 20, 1), 160);
  EXPECT_EQ(CountOffers(*store), 160U);
  EXPECT_EQ(CountProcessed(*store), 160U);
  EXPECT_EQ(ProcessConcurrently(*store, "b", 16, 25, 7), 400);
  EXPECT_EQ(CountOffers(*store), 560U);
  EXPECT_EQ(CountProcessed(*store), 560U);
}

TEST_P(OfferStoreTest, DeleteProcessedBeforeDeletesOnlyOlderIds) {
  const auto store = Open();
  ASSERT_EQ(store->Process("old", Notification("10000", kT0 - 8 * 24h), kT0 - 8 * 24h, 0ms),
            ProcessResult::kOffered);
  ASSERT_EQ(store->Process("new", Notification("10000", kT0), kT0, 0ms), ProcessResult::kOffered);

  const std::size_t deleted = store->DeleteProcessedBefore(kT0 - 7 * 24h);

  EXPECT_EQ(deleted, 1U);
  EXPECT_EQ(CountProcessed(*store), 1U);
  EXPECT_EQ(CountOffers(*store), 2U);  // offers are kept
  EXPECT_EQ(store->Process("new", Notification("10000", kT0), kT0, 0ms), ProcessResult::kDuplicate);
  // A redelivery older than the retention is new again; its offer (same account, readAt and
  // id) is there already, so it makes no second one.
  EXPECT_EQ(store->Process("old", Notification("10000", kT0 - 8 * 24h), kT0, 0ms),
            ProcessResult::kOffered);
  EXPECT_EQ(CountOffers(*store), 2U);
}

}  // namespace
}  // namespace cppblog::vipservice
