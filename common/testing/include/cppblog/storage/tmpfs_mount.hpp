#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog {

/// For tests of a full disk: a small tmpfs mounted on a fresh temp dir, unmounted (lazily) and
/// removed by the destructor. Mounting needs root (CAP_SYS_ADMIN): call Unavailable() first and
/// skip with its reason. Not thread-safe.
class TmpfsMount {
 public:
  /// Why a tmpfs cannot be mounted here, or nullopt when it can (the test runs as root).
  [[nodiscard]] static std::optional<std::string> Unavailable() {
    if (::geteuid() != 0) {
      return "mounting a tmpfs needs root; the full-disk tests run where the test run is root "
             "(as ./dev test in CI)";
    }
    return std::nullopt;
  }

  explicit TmpfsMount(std::uint64_t size_bytes) : dir_("cppblog-tmpfs") {
    const std::string data = "size=" + std::to_string(size_bytes) + ",mode=0755";
    if (::mount("tmpfs", path().c_str(), "tmpfs", 0, data.c_str()) != 0) {
      const int error = errno;
      throw std::runtime_error("mount -t tmpfs -o " + data + " on " + path().string() + ": " +
                               std::strerror(error));
    }
  }
  ~TmpfsMount() { ::umount2(path().c_str(), MNT_DETACH); }  // then dir_ is removed
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return dir_.path(); }

  /// Writes a file until the file system is full (ENOSPC), then gives back `leave_bytes` of it
  /// (rounded up to whole pages): a nearly full disk. Returns the bytes the file keeps.
  std::uint64_t Fill(std::uint64_t leave_bytes = 0) {
    const std::filesystem::path file = path() / ("fill-" + std::to_string(fills_++));
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == ENOSPC) return 0;
      throw std::runtime_error("open " + file.string() + ": " + std::strerror(errno));
    }
    std::array<char, 4096> zeros{};
    std::uint64_t written = 0;
    for (;;) {
      const ssize_t n = ::write(fd, zeros.data(), zeros.size());
      if (n > 0) {
        written += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;  // ENOSPC (or 0): full
    }
    const std::uint64_t leave = (leave_bytes + 4095) / 4096 * 4096;
    const std::uint64_t kept = written > leave ? written - leave : 0;
    if (::ftruncate(fd, static_cast<off_t>(kept)) != 0) {
      const int error = errno;
      ::close(fd);
      throw std::runtime_error("ftruncate " + file.string() + ": " + std::strerror(error));
    }
    ::close(fd);
    return kept;
  }

  /// Removes what Fill wrote: the space is back.
  void Unfill() {
    for (int i = 0; i < fills_; ++i) {
      std::error_code ignored;
      std::filesystem::remove(path() / ("fill-" + std::to_string(i)), ignored);
    }
    fills_ = 0;
  }

 private:
  TempDir dir_;
  int fills_ = 0;
};

}  // namespace cppblog
