#pragma once

// The libpq loader moved to cppblog/storage/pq_library.hpp (target cppblog::pq), shared by the
// PostgreSQL inbox and outbox; these names keep code written against the inbox's compiling.
#include "cppblog/storage/pq_library.hpp"

namespace cppblog::inbox {

using storage::LibPq;
using storage::OneLineMessage;
using storage::Pq;

}  // namespace cppblog::inbox
