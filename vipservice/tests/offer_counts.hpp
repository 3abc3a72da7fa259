#pragma once

#include <cstddef>
#include <string>

#include "cppblog/storage/lmdb.hpp"

#include "lmdb_offer_store.hpp"

// Counts of what a store holds, read directly (the stores have no counting members: only tests
// count).
namespace cppblog::vipservice {

[[nodiscard]] inline std::size_t CountOffers(const LmdbOfferStore& store) {
  return storage::LmdbTransaction::Read(store.Environment()).Count(store.OffersDatabase());
}

[[nodiscard]] inline std::size_t CountProcessed(const LmdbOfferStore& store) {
  return store.Inbox().Count();
}

}  // namespace cppblog::vipservice
