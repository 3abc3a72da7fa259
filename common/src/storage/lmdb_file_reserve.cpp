#include "cppblog/storage/lmdb_file_reserve.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <lmdb.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cppblog::storage {
namespace {

// One page per write. The page cache sizes a folio by the write that creates it (large folios,
// ext4 on recent kernels): zeros written 256 kB at a time made 128-256 kB folios, and every
// later 4 kB commit into one dirtied and wrote back all of it, 140 kB per commit instead of 27.
constexpr std::size_t kZeroChunk = 4096;
constexpr std::array<char, kZeroChunk> kZeros{};

}  // namespace

FileReserveResult ReserveFileSpace(MDB_env* env, MDB_txn* txn,
                                   const FileReserveOptions& options) noexcept {
  FileReserveResult result;
  if (env == nullptr || txn == nullptr) return result;
  MDB_envinfo info{};
  MDB_stat stat{};
  int fd = -1;
  if (mdb_env_info(env, &info) != MDB_SUCCESS || mdb_env_stat(env, &stat) != MDB_SUCCESS ||
      mdb_env_get_fd(env, &fd) != MDB_SUCCESS) {
    return result;
  }
  const std::uint64_t used =
      (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * std::uint64_t{stat.ms_psize};
  struct stat file {};
  if (::fstat(fd, &file) != 0) {
    result.error = errno;
    return result;
  }
  const auto size = static_cast<std::uint64_t>(file.st_size);
  if (size >= used + options.low_water_bytes) return result;
  // Whole pages from the current end; the file may end mid-page only if something else wrote it.
  const std::uint64_t target = std::max(size, used + options.reserve_bytes);
  std::uint64_t offset = size;
  while (offset < target) {
    const auto length =
        static_cast<std::size_t>(std::min<std::uint64_t>(kZeroChunk, target - offset));
    const ssize_t written = ::pwrite(fd, kZeros.data(), length, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      break;
    }
    offset += static_cast<std::uint64_t>(written);
  }
  result.added_bytes = offset - size;
  return result;
}

LmdbFileReserve::LmdbFileReserve(std::string store, FileReserveOptions options)
    : store_(std::move(store)), options_(options) {}

void LmdbFileReserve::Ensure(MDB_env* env, MDB_txn* txn) noexcept {
  const FileReserveResult reserved = ReserveFileSpace(env, txn, options_);
  try {
    if (reserved.error != 0 && reserved.error != last_error_) {
      spdlog::warn(
          "{}: cannot write file space ahead of the commits ({}); commits still work, each one "
          "growing the file (slower to sync); is the disk full?",
          store_, std::strerror(reserved.error));
    }
    if (reserved.added_bytes > 0) {
      spdlog::debug("{}: wrote {} kB of file space ahead of the commits", store_,
                    reserved.added_bytes / 1024);
    }
  } catch (...) {  // logging must not fail a commit
  }
  last_error_ = reserved.error;
}

}  // namespace cppblog::storage
