#include "broker_test_env.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace cppblog::messaging {

std::string RequiredEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: run the integration tests through `./dev test`, "
                             "which starts a RabbitMQ node and sets it");
  }
  return value;
}

std::string TestAmqpUrl() { return RequiredEnv("CPPBLOG_TEST_AMQP_URL"); }

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ShellOutput(const std::string& command) {
  struct PipeCloser {
    void operator()(std::FILE* pipe) const { static_cast<void>(pclose(pipe)); }
  };
  std::unique_ptr<std::FILE, PipeCloser> pipe{popen(command.c_str(), "r")};
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string output;
  std::array<char, 4096> buffer{};
  while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) {
    output.append(buffer.data(), n);
  }
  const int status = pclose(pipe.release());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("failed (status " + std::to_string(status) + "): " + command + "\n" +
                             output);
  }
  return output;
}

std::map<std::string, std::string> ReadClusterEnv(const std::string& dir) {
  std::map<std::string, std::string> env;
  std::ifstream in(dir + "/cluster.env");
  for (std::string line; std::getline(in, line);) {
    if (const auto eq = line.find('='); eq != std::string::npos) {
      env[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return env;
}

void RabbitCtl(const std::string& args) {
  const std::string command = "RABBIT_DIR='" + RequiredEnv("CPPBLOG_TEST_RABBIT_DIR") + "' '" +
                              RequiredEnv("CPPBLOG_DEV") + "' rabbit ctl " + args + " >/dev/null";
  if (Shell(command) != 0) throw std::runtime_error("failed: rabbit ctl " + args);
}

std::string UniqueName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  return std::string(prefix) + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) +
         "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1'000'000);
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds{10});  // a poll interval, not a wait
  }
  return true;
}

}  // namespace cppblog::messaging

// ThreadSanitizer cannot see the reference count of std::exception_ptr, which lives in the
// uninstrumented libstdc++: a failed future whose exception is read on the test thread and
// released on an I/O thread looks like a race. Exactly that frame is suppressed.
extern "C" const char* __tsan_default_suppressions() {
  return "race:std::__exception_ptr::exception_ptr::_M_release\n";
}
