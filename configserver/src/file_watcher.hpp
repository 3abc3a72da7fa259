#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace cppblog::configserver {

struct FileWatcherOptions {
  std::filesystem::path directory;
  /// Changes are collected until the directory has been quiet this long (editors write
  /// a file in several steps); a steady stream of changes is reported after 10 × debounce.
  std::chrono::milliseconds debounce{300};
  /// Called on the watcher's own thread with the changed files' paths relative to
  /// `directory` ("accountservice-test.yml", "team/x.yml"), sorted, without duplicates.
  /// Exceptions it throws are logged and ignored.
  std::function<void(std::vector<std::string>)> on_change;
};

/// Watches a configuration directory tree with inotify and reports written, created,
/// moved and deleted .yml/.yaml/.properties files. Hidden files and directories ('.git',
/// '.x.swp'), '#…#' and '…~' editor files are ignored. Starts watching in the
/// constructor (throws std::system_error when inotify cannot be set up) and stops in
/// the destructor (joins its thread; no callback runs after it returns).
class FileWatcher {
 public:
  explicit FileWatcher(FileWatcherOptions options);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

 private:
  void Run();
  void AddWatches(const std::filesystem::path& relative, std::vector<std::string>* found);

  FileWatcherOptions options_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::vector<std::pair<int, std::filesystem::path>> watches_;  // descriptor → relative dir
  std::thread thread_;
};

/// True for names the watcher reports: .yml, .yaml or .properties, not hidden, not an
/// editor's backup or lock file.
[[nodiscard]] bool IsWatchedFileName(const std::string& name);

}  // namespace cppblog::configserver
