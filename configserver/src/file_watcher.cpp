#include "file_watcher.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <set>
#include <system_error>

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace cppblog::configserver {
namespace {

constexpr std::uint32_t kMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE;

bool IsHidden(const std::string& name) { return name.empty() || name.front() == '.'; }

}  // namespace

bool IsWatchedFileName(const std::string& name) {
  if (IsHidden(name) || name.front() == '#' || name.back() == '#' || name.back() == '~')
    return false;
  return name.ends_with(".yml") || name.ends_with(".yaml") || name.ends_with(".properties");
}

FileWatcher::FileWatcher(FileWatcherOptions options) : options_(std::move(options)) {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    const int error = errno;
    close(inotify_fd_);
    throw std::system_error(error, std::generic_category(), "eventfd");
  }
  try {
    AddWatches({}, nullptr);
  } catch (...) {
    close(inotify_fd_);
    close(stop_fd_);
    throw;
  }
  thread_ = std::thread([this] { Run(); });
}

FileWatcher::~FileWatcher() {
  const std::uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) {
    spdlog::error("file watcher: cannot signal stop: {}", std::generic_category().message(errno));
  }
  thread_.join();
  close(inotify_fd_);
  close(stop_fd_);
}

void FileWatcher::AddWatches(const std::filesystem::path& relative,
                             std::vector<std::string>* found) {
  const std::filesystem::path absolute = options_.directory / relative;
  const int wd = inotify_add_watch(inotify_fd_, absolute.c_str(), kMask);
  if (wd < 0) {
    if (relative.empty()) {
      throw std::system_error(errno, std::generic_category(), "cannot watch " + absolute.string());
    }
    spdlog::warn("file watcher: cannot watch {}: {}", absolute.string(),
                 std::generic_category().message(errno));
    return;
  }
  watches_.emplace_back(wd, relative);
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(absolute, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(error) && !IsHidden(name)) {
      AddWatches(relative / name, found);
    } else if (found != nullptr && IsWatchedFileName(name)) {
      // Files that appeared with a new directory, before its watch existed.
      found->push_back((relative / name).generic_string());
    }
  }
}

void FileWatcher::Run() {
  using Clock = std::chrono::steady_clock;
  std::set<std::string> pending;
  Clock::time_point first_change{};
  Clock::time_point last_change{};
  alignas(inotify_event) std::array<char, 16 * 1024> buffer{};
  for (;;) {
    int timeout_ms = -1;
    if (!pending.empty()) {
      const auto deadline =
          std::min(last_change + options_.debounce, first_change + 10 * options_.debounce);
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    std::array<pollfd, 2> fds{{{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    const int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("file watcher: poll failed: {}; watching stops",
                    std::generic_category().message(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      for (;;) {
        const ssize_t length = read(inotify_fd_, buffer.data(), buffer.size());
        if (length <= 0) break;
        for (ssize_t offset = 0; offset < length;) {
          const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
          offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
          if ((event->mask & IN_Q_OVERFLOW) != 0) {
            spdlog::warn("file watcher: event queue overflowed; some changes may be missed");
            continue;
          }
          if (event->len == 0) continue;
          const auto watch = std::find_if(watches_.begin(), watches_.end(),
                                          [&](const auto& w) { return w.first == event->wd; });
          if (watch == watches_.end()) continue;
          const std::string name = event->name;
          std::vector<std::string> found;
          if ((event->mask & IN_ISDIR) != 0) {
            if ((event->mask & (IN_CREATE | IN_MOVED_TO)) != 0 && !IsHidden(name)) {
              AddWatches(watch->second / name, &found);
            }
          } else if (IsWatchedFileName(name)) {
            found.push_back((watch->second / name).generic_string());
          }
          if (found.empty()) continue;
          const auto now = Clock::now();
          if (pending.empty()) first_change = now;
          last_change = now;
          pending.insert(found.begin(), found.end());
        }
      }
    }
    if (pending.empty()) continue;
    const auto now = Clock::now();
    if (now < last_change + options_.debounce && now < first_change + 10 * options_.debounce)
      continue;
    std::vector<std::string> changed(pending.begin(), pending.end());
    pending.clear();
    try {
      options_.on_change(std::move(changed));
    } catch (const std::exception& e) {
      spdlog::error("file watcher: change handler failed: {}", e.what());
    }
  }
}

}  // namespace cppblog::configserver
