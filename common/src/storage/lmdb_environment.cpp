#include "cppblog/storage/lmdb_environment.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace cppblog::storage {
namespace {

// The data file's first pages, allocated past its (zero) length while the environment is new:
// the two meta pages LMDB writes at creation and the first commits' pages.
constexpr std::uint64_t kFirstDataBytes = std::uint64_t{64} << 10;

// Below this much free space a failed write is taken for a full disk.
constexpr std::uint64_t kNearlyFullBytes = std::uint64_t{1} << 20;

constexpr std::uint64_t kLockHeaderBytes = 192;
constexpr std::uint64_t kReaderSlotBytes = 64;

std::string Kb(std::uint64_t bytes) { return std::to_string((bytes + 1023) / 1024) + " kB"; }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int Get() const { return fd_; }

 private:
  int fd_;
};

class Opener {
 public:
  Opener(const std::filesystem::path& dir, const LmdbOpenOptions& options)
      : dir_(dir), options_(options) {}

  [[noreturn]] void Fail(std::string_view what) const {
    throw StoreError(options_.store + " in " + dir_.string() + ": " + std::string(what));
  }

  // One line naming the directory and the space needed, and what to do.
  [[noreturn]] void FailFull(std::uint64_t available) const {
    Fail("the file system has " + Kb(available) + " free; opening the store needs at least " +
         Kb(options_.min_free_bytes) +
         " (lock file, first pages and commits): free space there or point data_dir at "
         "another file system");
  }

  [[nodiscard]] std::uint64_t Available() const {
    struct statvfs fs {};
    if (::statvfs(dir_.c_str(), &fs) != 0) {
      Fail(std::string("cannot read the file system's free space: ") + std::strerror(errno));
    }
    // Root may also use the blocks ext4 reserves for it.
    const auto blocks = ::geteuid() == 0 ? fs.f_bfree : fs.f_bavail;
    return static_cast<std::uint64_t>(blocks) * static_cast<std::uint64_t>(fs.f_frsize);
  }

  [[nodiscard]] int OpenFile(const char* name) const {
    const std::filesystem::path path = dir_ / name;
    const int fd =
        ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, static_cast<mode_t>(options_.mode));
    if (fd < 0) {
      Fail("cannot open " + path.string() + ": " + std::strerror(errno) +
           "; check the directory's permissions");
    }
    return fd;
  }

  void Allocate(int fd, const char* name, int mode, std::uint64_t bytes) const {
    if (bytes == 0) return;
    int rc = 0;
    if (mode == 0) {
      rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    } else if (::fallocate(fd, mode, 0, static_cast<off_t>(bytes)) != 0) {
      rc = errno;
      // A file system without fallocate: LMDB's own writes report a full disk there.
      if (rc == EOPNOTSUPP) rc = 0;
    }
    if (rc == ENOSPC || rc == EDQUOT) FailFull(Available());
    if (rc != 0) {
      Fail("cannot allocate " + Kb(bytes) + " for " + (dir_ / name).string() + ": " +
           std::strerror(rc));
    }
  }

 private:
  const std::filesystem::path& dir_;
  const LmdbOpenOptions& options_;
};

// True when another process holds a lock on the lock file, i.e. has the environment open.
bool LockFileInUse(int fd) {
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 1;
  return ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
}

}  // namespace

std::string LmdbErrorText(int rc, const std::filesystem::path& dir) {
  std::string text = mdb_strerror(rc);
  if (rc != EIO && rc != ENOSPC && rc != EDQUOT && rc != EFBIG) return text;
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return text;
  const auto blocks = ::geteuid() == 0 ? fs.f_bfree : fs.f_bavail;
  const std::uint64_t available =
      static_cast<std::uint64_t>(blocks) * static_cast<std::uint64_t>(fs.f_frsize);
  if (available >= kNearlyFullBytes) return text;
  const std::string free = "the file system has " + Kb(available) + " free";
  // LMDB's EIO is a write cut short: by the full disk, here.
  if (rc == EIO) return "No space left on device (LMDB: " + text + ", a short write; " + free + ")";
  return text + " (" + free + ")";
}

std::uint64_t LmdbLockFileBytes(unsigned max_readers) noexcept {
  return kLockHeaderBytes + kReaderSlotBytes * (std::max(max_readers, 1U) - 1);
}

void OpenLmdbEnvironment(MDB_env* env, const std::filesystem::path& dir,
                         const LmdbOpenOptions& options) {
  const Opener opener{dir, options};
  if ((options.flags & MDB_WRITEMAP) != 0) {
    opener.Fail("MDB_WRITEMAP would turn a full disk into SIGBUS; open without it");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) opener.Fail("cannot create the directory: " + ec.message());

  if (const std::uint64_t available = opener.Available(); available < options.min_free_bytes) {
    opener.FailFull(available);
  }

  unsigned max_readers = 0;
  if (const int rc = mdb_env_get_maxreaders(env, &max_readers); rc != MDB_SUCCESS) {
    opener.Fail(std::string("read max readers: ") + mdb_strerror(rc));
  }
  {
    const Fd lock{opener.OpenFile("lock.mdb")};
    struct stat file {};
    if (::fstat(lock.Get(), &file) != 0) {
      opener.Fail(std::string("cannot stat lock.mdb: ") + std::strerror(errno));
    }
    const auto size = static_cast<std::uint64_t>(file.st_size);
    const std::uint64_t wanted = LmdbLockFileBytes(max_readers);
    // A lock file in use keeps its size: a process that mapped it reads its reader slots up to
    // that size. Unused (or new), it gets the size LMDB would give it.
    const std::uint64_t bytes = size >= wanted || LockFileInUse(lock.Get()) ? size : wanted;
    opener.Allocate(lock.Get(), "lock.mdb", 0, bytes);
  }
  {
    const Fd data{opener.OpenFile("data.mdb")};
    struct stat file {};
    if (::fstat(data.Get(), &file) != 0) {
      opener.Fail(std::string("cannot stat data.mdb: ") + std::strerror(errno));
    }
    // LMDB takes an empty data file for a new environment: allocate past its end, keep it empty.
    if (file.st_size == 0) {
      opener.Allocate(data.Get(), "data.mdb", FALLOC_FL_KEEP_SIZE, kFirstDataBytes);
    }
  }

  if (const int rc =
          mdb_env_open(env, dir.c_str(), options.flags, static_cast<mode_t>(options.mode));
      rc != MDB_SUCCESS) {
    if (rc == ENOSPC || rc == EDQUOT) opener.FailFull(opener.Available());
    opener.Fail(std::string("open: ") + mdb_strerror(rc));
  }
}

}  // namespace cppblog::storage
