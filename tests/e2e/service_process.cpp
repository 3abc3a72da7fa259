#include "service_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_client.hpp"

extern char** environ;

namespace cppblog::e2e {
namespace {

constexpr auto kPollInterval = 2ms;

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::vector<std::string> MergedEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text{*entry};
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    merged[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
  }
  for (const auto& [name, value] : extra) merged[name] = value;
  std::vector<std::string> result;
  result.reserve(merged.size());
  for (const auto& [name, value] : merged) result.push_back(name + "=" + value);
  return result;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    ThrowErrno("bind to an ephemeral port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::filesystem::path BinaryPath(const char* env_name, std::string_view built_in) {
  const char* from_env = std::getenv(env_name);
  std::filesystem::path path =
      from_env != nullptr && *from_env != '\0' ? std::filesystem::path(from_env) : built_in;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("service binary " + path.string() + " not found; build it or set " +
                             env_name);
  }
  return path;
}

ServiceOptions ServiceOptionsFor(std::filesystem::path binary,
                                 const std::filesystem::path& data_dir, std::uint16_t port,
                                 const std::vector<std::pair<std::string, std::string>>& settings) {
  // An empty config dir: no local files (a missing one is refused as a typo).
  std::filesystem::create_directories(data_dir / "no-config");
  ServiceOptions options{.binary = std::move(binary),
                         .args = {"--config-dir", (data_dir / "no-config").string(), "--set",
                                  "server_port=" + std::to_string(port), "--set",
                                  "data_dir=" + (data_dir / "store").string()},
                         .env = {}};
  for (const auto& [key, value] : settings) {
    options.args.emplace_back("--set");
    options.args.push_back(key + "=" + value);
  }
  return options;
}

int MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count());
}

std::size_t CountOccurrences(std::string_view text, std::string_view needle) {
  if (needle.empty()) return 0;
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

ServiceProcess::ServiceProcess(ServiceOptions options) : log_path_(log_dir_.path() / "output.log") {
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls are allowed.
  std::vector<std::string> args;
  args.push_back(options.binary.string());
  args.insert(args.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = MergedEnvironment(options.env);
  std::vector<char*> envp;
  for (auto& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);

  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) ThrowErrno("open " + log_path_.string());
  const int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);

  const pid_t test_pid = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    const int saved = errno;
    close(log_fd);
    close(dev_null);
    errno = saved;
    ThrowErrno("fork");
  }
  if (pid_ == 0) {
    // A test that crashes or is killed leaves no service behind (holding ports, using CPU):
    // the child gets SIGKILL when the thread that forked it ends.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != test_pid) _exit(126);
    dup2(dev_null, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    const char message[] = "exec failed\n";
    [[maybe_unused]] const auto written = write(STDERR_FILENO, message, sizeof message - 1);
    _exit(127);
  }
  close(log_fd);
  close(dev_null);
}

ServiceProcess::~ServiceProcess() {
  if (exit_status_) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void ServiceProcess::Signal(int signal) {
  if (IsRunning()) kill(pid_, signal);
}

std::optional<int> ServiceProcess::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (!IsRunning()) return exit_status_;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

bool ServiceProcess::IsRunning() {
  if (exit_status_) return false;
  int status = 0;
  const pid_t result = waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    exit_status_ = DecodeStatus(status);
    return false;
  }
  return true;
}

std::string ServiceProcess::Output() const {
  std::ifstream in{log_path_};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ServiceProcess::WaitForOutput(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (Output().find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

bool ServiceProcess::WaitHealthy(std::uint16_t port, std::chrono::milliseconds timeout,
                                 std::string_view path) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (!IsRunning()) return false;
    try {
      HttpConnection connection{port, 1s};
      if (connection.Get(path).status == 200) return true;
    } catch (const std::exception&) {  // not listening yet: poll again
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace cppblog::e2e
