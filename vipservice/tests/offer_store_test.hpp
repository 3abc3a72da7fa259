#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

#include "offer_store.hpp"

// What every OfferStore does (offer_store.hpp), tested once: offer_store_test.cpp holds the
// value-parameterised suite OfferStoreTest, and each store's test file instantiates it with a
// place of its kind (INSTANTIATE_TEST_SUITE_P): lmdb_offer_store_test.cpp in vipservice_tests,
// pg_offer_store_test.cpp in vipservice_pg_tests (against the PostgreSQL server of ./dev test).
// What only one store has (its value format, its schema and migrations, its connections) stays
// in that store's file.
namespace cppblog::vipservice {

/// A time far from the epoch and from now, that tests count from.
inline const std::chrono::system_clock::time_point kT0 =
    std::chrono::system_clock::time_point{} + std::chrono::hours{480'000};

/// A W3C trace id (IsTraceId), for offers that record one.
inline constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

[[nodiscard]] inline vip::VipNotification Notification(
    std::string account, std::chrono::system_clock::time_point read_at) {
  return {.account_id = std::move(account), .read_at = read_at};
}

/// Where a test's offer stores live (a temporary directory, a database schema of its own), for
/// the test's lifetime.
class OfferStorePlace {
 public:
  OfferStorePlace() = default;
  virtual ~OfferStorePlace() = default;
  OfferStorePlace(const OfferStorePlace&) = delete;
  OfferStorePlace& operator=(const OfferStorePlace&) = delete;

  /// A store on this place; called again once that one is destroyed, it reopens it.
  [[nodiscard]] virtual std::unique_ptr<OfferStore> Open() = 0;
  /// What `store` (opened here) holds, read directly: its offers, its processed message ids.
  [[nodiscard]] virtual std::size_t CountOffers(const OfferStore& store) const = 0;
  [[nodiscard]] virtual std::size_t CountProcessed(const OfferStore& store) const = 0;
};

/// The suite's parameter: a kind of store, which makes a new place for each test.
struct OfferStoreKind {
  const char* name;  // ends the tests' names: a printable, stable value (not an address)
  std::unique_ptr<OfferStorePlace> (*make_place)();

  friend void PrintTo(const OfferStoreKind& kind, std::ostream* out) { *out << kind.name; }
};

class OfferStoreTest : public ::testing::TestWithParam<OfferStoreKind> {
 protected:
  OfferStoreTest() : place_(GetParam().make_place()) {}

  [[nodiscard]] std::unique_ptr<OfferStore> Open() { return place_->Open(); }
  [[nodiscard]] std::size_t CountOffers(const OfferStore& store) const {
    return place_->CountOffers(store);
  }
  [[nodiscard]] std::size_t CountProcessed(const OfferStore& store) const {
    return place_->CountProcessed(store);
  }

 private:
  std::unique_ptr<OfferStorePlace> place_;
};

}  // namespace cppblog::vipservice
