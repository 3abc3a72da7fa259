#pragma once

#include <stdexcept>

namespace cppblog::storage {

/// A store failed (open, read or write) or cannot be reached now. The one error type of every
/// store in the tree, embedded (LMDB) or not (PostgreSQL): what() is one line naming the store
/// (its path, or its URL with the password masked), the operation and the engine's error, and
/// what to do where there is something to do. Never a password.
///
/// Transient unless what() says otherwise: the same call may succeed later (a full disk freed,
/// a database back up).
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cppblog::storage
