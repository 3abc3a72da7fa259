#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>

#include <lmdb.h>

#include "account_store.hpp"

namespace cppblog::account {

/// Makes every later outbox append fail: plants an entry under the highest possible key
/// behind the outbox's back, so its next in-order append (MDB_APPEND) is refused with
/// MDB_KEYEXIST. For tests of the error paths; the outbox must already be open.
inline void BreakOutboxAppends(const AccountStore& store) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(store.Environment().Get(), nullptr, 0, &txn) != MDB_SUCCESS) {
    throw std::runtime_error("BreakOutboxAppends: begin transaction");
  }
  MDB_dbi dbi = 0;
  std::array<unsigned char, 8> key_bytes{};
  key_bytes.fill(0xFF);
  MDB_val key{key_bytes.size(), key_bytes.data()};
  char planted[] = "planted";
  MDB_val value{sizeof(planted), planted};
  if (mdb_dbi_open(txn, "outbox", 0, &dbi) != MDB_SUCCESS ||
      mdb_put(txn, dbi, &key, &value, 0) != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    throw std::runtime_error("BreakOutboxAppends: plant the entry");
  }
  if (mdb_txn_commit(txn) != MDB_SUCCESS) {
    throw std::runtime_error("BreakOutboxAppends: commit the planted entry");
  }
}

}  // namespace cppblog::account
