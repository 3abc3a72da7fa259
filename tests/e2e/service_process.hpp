#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::e2e {

using namespace std::chrono_literals;

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
[[nodiscard]] std::uint16_t FreePort();

/// The path of a service binary: the environment variable `env_name` when set,
/// else `built_in` (the path CMake compiled in). Throws when the file is missing.
[[nodiscard]] std::filesystem::path BinaryPath(const char* env_name, std::string_view built_in);

struct ServiceOptions {
  std::filesystem::path binary;
  std::vector<std::string> args;
  /// Added to (or replacing in) the test's own environment.
  std::vector<std::pair<std::string, std::string>> env;
};

/// Options for a cppblog service on `port` with its store in `data_dir`/store, an empty config
/// dir (no local YAML files) and `settings` as `--set key=value` flags.
[[nodiscard]] ServiceOptions ServiceOptionsFor(
    std::filesystem::path binary, const std::filesystem::path& data_dir, std::uint16_t port,
    const std::vector<std::pair<std::string, std::string>>& settings);

/// Milliseconds from `start` until now, for RecordProperty and progress lines.
[[nodiscard]] int MillisecondsSince(std::chrono::steady_clock::time_point start);

/// How often `needle` occurs in `text`, e.g. a log line's prefix in ServiceProcess::Output().
[[nodiscard]] std::size_t CountOccurrences(std::string_view text, std::string_view needle);

/// A service started as a child process, its stdout and stderr captured in a file.
/// The destructor kills (SIGKILL) and reaps it when it still runs. Not thread-safe.
/// The child also gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so a
/// test that crashes leaves no service running: start services from the test's own thread.
class ServiceProcess {
 public:
  /// Starts the process. Throws std::runtime_error when fork or exec fails.
  explicit ServiceProcess(ServiceOptions options);
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  [[nodiscard]] pid_t Pid() const { return pid_; }

  /// Sends a signal (SIGTERM, SIGINT, SIGKILL …) if the process still runs.
  void Signal(int signal);

  /// Waits up to `timeout` for the process to end. Returns its exit status, or
  /// 128 + signal number when a signal ended it; nullopt when still running.
  [[nodiscard]] std::optional<int> WaitExit(std::chrono::milliseconds timeout);

  /// True while the process has not exited.
  [[nodiscard]] bool IsRunning();

  /// Everything the process wrote to stdout and stderr so far.
  [[nodiscard]] std::string Output() const;

  /// Polls Output() until it contains `text` or `timeout` passes.
  [[nodiscard]] bool WaitForOutput(std::string_view text, std::chrono::milliseconds timeout);

  /// Polls GET http://127.0.0.1:port/health until it answers 200. Returns false when
  /// the deadline passes or the process exits first.
  [[nodiscard]] bool WaitHealthy(std::uint16_t port, std::chrono::milliseconds timeout = 10s,
                                 std::string_view path = "/health");

 private:
  TempDir log_dir_{"cppblog-e2e-log"};
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

}  // namespace cppblog::e2e
