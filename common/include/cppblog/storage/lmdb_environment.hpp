#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "cppblog/storage/store_error.hpp"

// LMDB's handle, declared here so that lmdb.h stays out of this header.
struct MDB_env;

namespace cppblog::storage {

struct LmdbOpenOptions {
  /// Names the store in errors: "offer store", "account store".
  std::string store = "store";
  /// Passed to mdb_env_open (MDB_NOTLS, ...). MDB_WRITEMAP is refused: it writes through the
  /// map, so a full disk becomes SIGBUS instead of an error.
  unsigned flags = 0;
  unsigned mode = 0644;
  /// The file system must have this much free space, or the open fails with a StoreError:
  /// room for the lock file, the first pages and the first commits.
  std::uint64_t min_free_bytes = std::uint64_t{1} << 20;
};

/// The size LMDB gives a new lock file for `max_readers` reader slots (LMDB 0.9: a 192-byte
/// header, then 64 bytes per slot beyond the first).
[[nodiscard]] std::uint64_t LmdbLockFileBytes(unsigned max_readers) noexcept;

/// The one way to open an LMDB environment in this tree: `env` is created (mdb_env_create) and
/// configured (map size, max dbs, max readers) by the caller, not yet opened.
///
/// Creates `dir` when missing, checks that its file system has `min_free_bytes` free, then
/// allocates the blocks LMDB is about to use through its maps before it maps them: the lock
/// file (LMDB maps it shared and writes into it; on a full disk that write was a SIGBUS, exit
/// 135 and nothing printed) and the data file's first pages (kept at length 0 while new, as
/// LMDB expects of a new environment). Only then calls mdb_env_open. A lock file that exists
/// keeps its size (another process may have it mapped); only its holes are allocated.
///
/// Later growth cannot fault either: without MDB_WRITEMAP LMDB writes its pages with pwrite,
/// which answers a full disk with ENOSPC (the commit fails), and ReserveFileSpace writes zeros
/// the same way.
///
/// Throws StoreError; on it `env` is still open-able or closable as mdb_env_open leaves it
/// (the caller closes it).
void OpenLmdbEnvironment(MDB_env* env, const std::filesystem::path& dir,
                         const LmdbOpenOptions& options);

/// LMDB's text for error `rc` of an environment in `dir`, made plain when the disk is full:
/// LMDB reports a write cut short as EIO, which reads "No space left on device (LMDB:
/// Input/output error, a short write; the file system has N kB free)" while the file system has
/// less than 1 MB free; ENOSPC, EDQUOT and EFBIG then get "(the file system has N kB free)"
/// appended. Any other error is LMDB's text alone. Never throws but std::bad_alloc.
[[nodiscard]] std::string LmdbErrorText(int rc, const std::filesystem::path& dir);

}  // namespace cppblog::storage
