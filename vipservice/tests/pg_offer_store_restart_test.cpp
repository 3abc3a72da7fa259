#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pg_offer_store.hpp"
#include "pg_test_env.hpp"

// The PostgreSQL server of ./dev test stopped and started under a store: RUN_SERIAL, since every
// other test on that server would fail meanwhile.
namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

const system_clock::time_point kT0 = system_clock::time_point{} + std::chrono::hours{480'000};

std::size_t CountOffers(const TestPgSchema& schema) {
  return std::stoul(schema.Query("SELECT count(*) FROM vip_offers"));
}

vip::VipNotification Notification(std::string account) {
  return {.account_id = std::move(account), .read_at = kT0};
}

TEST(PgOfferStoreRestart, ServerDownFailsWithStoreErrorOnlyAndServerBackResumes) {
  const TestPgSchema schema;
  PgOfferStore store{{.url = schema.Url()}};
  ASSERT_EQ(store.Process("before", Notification("1"), kT0, 0ms), ProcessResult::kOffered);

  TestPostgres("stop");
  int store_errors = 0;
  for (int i = 0; i < 5; ++i) {
    try {
      static_cast<void>(store.Process("during", Notification("1"), kT0, 0ms));
    } catch (const StoreError&) {
      ++store_errors;
    }
    try {
      store.Ping();
    } catch (const StoreError&) {
      ++store_errors;
    }
  }
  TestPostgres("start");
  // The store reconnects by itself, after its backoff (at most 5 s).
  std::string last_error;
  ProcessResult result = ProcessResult::kDuplicate;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (bool done = false; !done && std::chrono::steady_clock::now() < deadline;) {
    try {
      result = store.Process("during", Notification("1"), kT0, 0ms);
      done = true;
    } catch (const StoreError& e) {
      last_error = e.what();
      std::this_thread::sleep_for(50ms);  // a poll interval, not a wait
    }
  }

  EXPECT_EQ(store_errors, 10);
  EXPECT_EQ(result, ProcessResult::kOffered) << last_error;
  EXPECT_EQ(CountOffers(schema), 2U);
  EXPECT_EQ(store.Process("before", Notification("1"), kT0, 0ms), ProcessResult::kDuplicate);
}

}  // namespace
}  // namespace cppblog::vipservice
