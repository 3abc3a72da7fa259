#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

// Helpers for tests against the real broker that `./dev test` starts.
namespace cppblog::messaging {

/// $CPPBLOG_TEST_AMQP_URL; throws (failing the test) with instructions when unset.
[[nodiscard]] std::string TestAmqpUrl();

/// Runs `$CPPBLOG_DEV rabbit ctl <args>` against the test broker; throws unless it succeeds.
void RabbitCtl(const std::string& args);

/// Runs a shell command; returns its exit status.
int Shell(const std::string& command);

/// Runs a shell command and returns what it wrote to stdout; throws unless it exits 0.
[[nodiscard]] std::string ShellOutput(const std::string& command);

/// The KEY=value lines of `<dir>/cluster.env` that `./dev rabbit cluster start` writes
/// (CLUSTER_URLS, NODEi_DIR, NODEi_NAME, NODEi_PORT, NODEi_PID); empty when there is none.
[[nodiscard]] std::map<std::string, std::string> ReadClusterEnv(const std::string& dir);

/// A name no other test (or earlier run) uses: `<prefix>-<pid>-<counter>-<time>`.
[[nodiscard]] std::string UniqueName(std::string_view prefix);

/// Polls `condition` until it holds or `timeout` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// Reads an environment variable that ./dev test sets; throws with instructions when unset.
[[nodiscard]] std::string RequiredEnv(const char* name);

}  // namespace cppblog::messaging
