#pragma once

#include <chrono>
#include <functional>
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

/// A name no other test (or earlier run) uses: `<prefix>-<pid>-<counter>-<time>`.
[[nodiscard]] std::string UniqueName(std::string_view prefix);

/// Polls `condition` until it holds or `timeout` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// Reads an environment variable that ./dev test sets; throws with instructions when unset.
[[nodiscard]] std::string RequiredEnv(const char* name);

}  // namespace cppblog::messaging
