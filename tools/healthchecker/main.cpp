// healthchecker: GET http://HOST:PORT/PATH and exit 0 on a 200 within the deadline, else 1.
// Made for container health checks (Docker HEALTHCHECK, Kubernetes exec probes), so it is
// a tiny program on POSIX sockets: no library beyond libc, one line on stderr on failure.

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cppblog::healthchecker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHealthy = 0;
constexpr int kUnhealthy = 1;
constexpr int kUsageError = 2;
constexpr std::size_t kMaxResponse = 4096;  // enough for a status line and a short body

constexpr std::string_view kUsage =
    "usage: healthchecker --port N [--path /health] [--host 127.0.0.1] [--timeout-ms 2000]\n"
    "\n"
    "GETs http://HOST:PORT/PATH and exits 0 when the answer is 200 within the timeout\n"
    "(connecting, sending and receiving together). Meant for container health checks.\n"
    "\n"
    "  --port N          the service's HTTP port (required)\n"
    "  --path P          the path to ask (default /health)\n"
    "  --host H          the address or name to connect to (default 127.0.0.1)\n"
    "  --timeout-ms T    the whole check's deadline in milliseconds (default 2000)\n"
    "  --help            this text\n"
    "\n"
    "exit status: 0 healthy (200); 1 not healthy (another status, no answer in time,\n"
    "connection refused, ...), with one line on stderr saying what happened;\n"
    "2 wrong arguments.\n";

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string path = "/health";
  std::chrono::milliseconds timeout{2000};
};

std::optional<unsigned long> ParseNumber(std::string_view text, unsigned long max) {
  unsigned long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value == 0 || value > max) {
    return std::nullopt;
  }
  return value;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "healthchecker: %s\n%.*s", message.c_str(), static_cast<int>(kUsage.size()),
               kUsage.data());
  return kUsageError;
}

/// Parses the arguments; returns an exit status when the program should end right away.
std::optional<int> ParseArguments(int argc, char* argv[], Options& options) {
  bool port_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return kHealthy;
    }
    std::string_view value;
    if (const auto equals = argument.find('='); equals != std::string_view::npos) {
      value = argument.substr(equals + 1);
      argument = argument.substr(0, equals);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return UsageError("missing value for " + std::string(argument));
    }
    if (argument == "--port") {
      if (!ParseNumber(value, 65535)) {
        return UsageError("--port must be a number from 1 to 65535, not '" + std::string(value) +
                          "'");
      }
      options.port = value;
      port_given = true;
    } else if (argument == "--path") {
      if (value.empty() || value.front() != '/' ||
          value.find_first_of(" \r\n") != std::string_view::npos) {
        return UsageError("--path must start with '/' and contain no spaces, not '" +
                          std::string(value) + "'");
      }
      options.path = value;
    } else if (argument == "--host") {
      if (value.empty()) return UsageError("--host must not be empty");
      options.host = value;
    } else if (argument == "--timeout-ms") {
      const auto milliseconds = ParseNumber(value, 600'000);
      if (!milliseconds) {
        return UsageError("--timeout-ms must be a number from 1 to 600000, not '" +
                          std::string(value) + "'");
      }
      options.timeout = std::chrono::milliseconds(*milliseconds);
    } else {
      return UsageError("unknown argument '" + std::string(argument) + "'");
    }
  }
  if (!port_given) return UsageError("--port is required");
  return std::nullopt;
}

class Check {
 public:
  explicit Check(const Options& options)
      : options_(options),
        deadline_(Clock::now() + options.timeout),
        url_("http://" + options.host + ":" + options.port + options.path) {}
  ~Check() {
    if (fd_ >= 0) ::close(fd_);
  }
  Check(const Check&) = delete;
  Check& operator=(const Check&) = delete;

  int Run() {
    if (!Connect() || !SendRequest()) return kUnhealthy;
    return ReadStatus();
  }

 private:
  int Fail(const std::string& message) {
    std::fprintf(stderr, "healthchecker: %s: %s\n", url_.c_str(), message.c_str());
    return kUnhealthy;
  }

  [[nodiscard]] int RemainingMs() const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
  }

  /// Waits for `events` until the deadline; false when time ran out (with a message
  /// unless `quiet`).
  bool Wait(short events, const char* what, bool quiet = false) {
    pollfd entry{.fd = fd_, .events = events, .revents = 0};
    for (;;) {
      const int ready = ::poll(&entry, 1, RemainingMs());
      if (ready > 0) return true;
      if (ready == 0) {
        if (quiet) return false;
        Fail(std::string("no answer within ") + std::to_string(options_.timeout.count()) + " ms (" +
             what + ")");
        return false;
      }
      if (errno != EINTR) {
        Fail(std::string("poll failed: ") + std::strerror(errno));
        return false;
      }
    }
  }

  bool Connect() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    if (const int error =
            ::getaddrinfo(options_.host.c_str(), options_.port.c_str(), &hints, &addresses);
        error != 0) {
      Fail(std::string("cannot resolve host: ") + ::gai_strerror(error));
      return false;
    }
    std::string last_error = "no address";
    bool connected = false;
    for (const addrinfo* address = addresses; address != nullptr && !connected;
         address = address->ai_next) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     address->ai_protocol);
      if (fd_ < 0) {
        last_error = std::strerror(errno);
        continue;
      }
      if (::connect(fd_, address->ai_addr, address->ai_addrlen) == 0) {
        connected = true;
        break;
      }
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      if (!Wait(POLLOUT, "connecting")) {
        ::freeaddrinfo(addresses);
        return false;
      }
      int error = 0;
      socklen_t length = sizeof(error);
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error == 0) {
        connected = true;
      } else {
        last_error = std::strerror(error);
      }
    }
    ::freeaddrinfo(addresses);
    if (!connected) Fail("cannot connect: " + last_error);
    return connected;
  }

  bool SendRequest() {
    const std::string request = "GET " + options_.path + " HTTP/1.1\r\nHost: " + options_.host +
                                ":" + options_.port +
                                "\r\nUser-Agent: cppblog-healthchecker\r\nAccept: */*\r\n"
                                "Connection: close\r\n\r\n";
    std::string_view rest = request;
    while (!rest.empty()) {
      const ssize_t sent = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        rest.remove_prefix(static_cast<std::size_t>(sent));
      } else if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!Wait(POLLOUT, "sending")) return false;
      } else {
        Fail(std::string("cannot send the request: ") + std::strerror(errno));
        return false;
      }
    }
    return true;
  }

  /// Reads the answer: healthy as soon as a 200 status line is in; for any other status,
  /// reads on until the server closes (as asked), the buffer is full or time runs out,
  /// so that the message can show the body.
  int ReadStatus() {
    std::string response;
    char chunk[1024];
    bool closed = false;
    while (!closed && response.size() < kMaxResponse) {
      const auto status = StatusOf(response);
      if (status == 200) return kHealthy;
      const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (got > 0) {
        response.append(chunk, static_cast<std::size_t>(got));
      } else if (got == 0) {
        closed = true;
      } else if (errno == EAGAIN || errno == EINTR) {
        if (StatusOf(response)) {
          if (!Wait(POLLIN, "reading the body", /*quiet=*/true)) break;
        } else if (!Wait(POLLIN, "waiting for the status")) {
          return kUnhealthy;
        }
      } else {
        if (StatusOf(response)) break;
        return Fail(std::string("connection failed: ") + std::strerror(errno));
      }
    }
    if (const auto status = StatusOf(response); status == 200) return kHealthy;
    if (!StatusOf(response)) {
      if (response.empty()) return Fail("the server closed the connection without answering");
      return Fail("not an HTTP response: '" + Printable(response.substr(0, 80)) + "'");
    }
    return Describe(response);
  }

  int Describe(const std::string& response) {
    const std::string status_line = response.substr(0, response.find("\r\n"));
    std::string message = "answered '" + Printable(status_line) + "'";
    if (const auto body_start = response.find("\r\n\r\n"); body_start != std::string::npos) {
      const std::string body = response.substr(body_start + 4, 200);
      if (!body.empty()) message += ": " + Printable(body);
    }
    return Fail(message);
  }

  /// The status code once the status line is complete.
  static std::optional<int> StatusOf(const std::string& response) {
    const auto line_end = response.find("\r\n");
    if (line_end == std::string::npos) return std::nullopt;
    // "HTTP/1.1 200 OK"
    if (line_end < 12 || response.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    const auto space = response.find(' ');
    if (space == std::string::npos || space + 4 > line_end) return std::nullopt;
    int status = 0;
    const char* first = response.data() + space + 1;
    const auto [end, error] = std::from_chars(first, first + 3, status);
    if (error != std::errc{} || end != first + 3) return std::nullopt;
    return status;
  }

  static std::string Printable(std::string text) {
    for (char& c : text) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    return text;
  }

  const Options& options_;
  const Clock::time_point deadline_;
  const std::string url_;
  int fd_ = -1;
};

}  // namespace

int Run(int argc, char* argv[]) {
  Options options;
  if (const auto exit_status = ParseArguments(argc, argv, options)) return *exit_status;
  Check check(options);
  return check.Run();
}

}  // namespace cppblog::healthchecker

int main(int argc, char* argv[]) { return cppblog::healthchecker::Run(argc, argv); }
