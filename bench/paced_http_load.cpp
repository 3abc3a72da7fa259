// A paced HTTP/1.1 load driver: GET one path at a fixed rate, whatever the server's latency.
//
//   paced_http_load --port 6767 --path /accounts/10000 --rate 1000 --duration 15
//                   [--host 127.0.0.1] [--connections 64]
//
// Request k is due at start + k / rate; connection k % connections sends it (keep-alive, one
// request in flight per connection) as soon as it is due and its previous response has been
// read. A request's latency runs from when it was DUE to when its whole response was read, so
// a slow server is charged for the requests it delayed (no coordinated omission), as wrk2
// does. Every request sent is answered before the driver exits: none is abandoned in flight,
// so the 2xx count is exactly the number of requests the server answered with success.
//
// Prints one line of key=value pairs on stdout:
//   sent=15000 ok=15000 non2xx=0 errors=0 seconds=15.00 rate=1000.0 p50_ms=… p90_ms=…
//   p99_ms=… p999_ms=… max_ms=… late_ms=…
// (late_ms: the largest delay between a request's due time and its send; > 0 means the
// connections could not keep up with the rate). Exits 1 when a request failed at the socket
// level (connect, send, receive, malformed response), after printing the line.
//
// --rate 0 is a closed loop instead: each connection sends its next request as soon as it has
// read the previous response, until --duration has passed (latency then counts from the send);
// bench/vip_sustained.sh drives the VIP flow's sustained rate with it. Here too every request
// sent is answered before the driver exits, so ok= is exact.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/";
  double rate = 1000;
  double duration_s = 10;
  int connections = 64;
};

struct Tally {
  std::vector<std::int64_t> latencies_us;  // one per answered request
  std::int64_t sent = 0;
  std::int64_t ok = 0;
  std::int64_t non2xx = 0;
  std::int64_t errors = 0;
  std::int64_t max_late_us = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "paced_http_load: %s\nusage: paced_http_load --port PORT [--host 127.0.0.1] "
               "[--path /] [--rate 1000 (0: closed loop)] [--duration 10] [--connections 64]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) Usage("every flag takes a value");
    const char* value = argv[++i];
    if (flag == "--host") {
      options.host = value;
    } else if (flag == "--port") {
      options.port = static_cast<std::uint16_t>(std::atoi(value));
    } else if (flag == "--path") {
      options.path = value;
    } else if (flag == "--rate") {
      options.rate = std::atof(value);
    } else if (flag == "--duration") {
      options.duration_s = std::atof(value);
    } else if (flag == "--connections") {
      options.connections = std::atoi(value);
    } else {
      Usage("unknown flag");
    }
  }
  if (options.port == 0) Usage("--port is required");
  if (options.rate < 0 || options.duration_s <= 0 || options.connections < 1) {
    Usage("--duration and --connections must be positive, --rate 0 (closed loop) or more");
  }
  return options;
}

int Connect(const Options& options) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads one response (status line, headers, Content-Length body); returns its status, or -1.
// `buffer` keeps bytes read past the response (none with one request in flight, but cheap).
int ReadResponse(int fd, std::string& buffer) {
  std::size_t header_end = std::string::npos;
  char chunk[4096];
  while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return -1;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  if (buffer.size() < 12 || buffer.compare(0, 5, "HTTP/") != 0) return -1;
  int status = 0;
  if (std::from_chars(buffer.data() + 9, buffer.data() + 12, status).ec != std::errc{}) return -1;
  std::size_t length = 0;
  const std::string_view headers{buffer.data(), header_end};
  for (std::size_t at = headers.find("\r\n"); at != std::string_view::npos;
       at = headers.find("\r\n", at + 2)) {
    const std::string_view line = headers.substr(at + 2, headers.find("\r\n", at + 2) - at - 2);
    constexpr std::string_view kName = "content-length:";
    if (line.size() > kName.size() &&
        std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) {
          return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
        })) {
      std::string_view digits = line.substr(kName.size());
      while (!digits.empty() && digits.front() == ' ') digits.remove_prefix(1);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), length).ec != std::errc{})
        return -1;
    }
  }
  const std::size_t total = header_end + 4 + length;
  while (buffer.size() < total) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return -1;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  buffer.erase(0, total);
  return status;
}

// One connection's share of the schedule: requests first, first + step, first + 2 step, …
// (closed loop, rate 0: one request after another until start + duration).
void Drive(const Options& options, Clock::time_point start, std::int64_t first, std::int64_t step,
           std::int64_t count, Tally& tally) {
  const std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host +
                              "\r\nUser-Agent: paced_http_load\r\n\r\n";
  const bool closed_loop = options.rate == 0;
  const auto period = std::chrono::duration<double>(closed_loop ? 0.0 : 1.0 / options.rate);
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.duration_s));
  std::string buffer;
  int fd = -1;
  if (closed_loop) std::this_thread::sleep_until(start);
  for (std::int64_t k = first; closed_loop ? Clock::now() < end : k < count; k += step) {
    const auto due =
        closed_loop
            ? Clock::now()
            : start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(k));
    std::this_thread::sleep_until(due);
    if (fd < 0) fd = Connect(options);
    const auto sent_at = Clock::now();
    tally.max_late_us =
        std::max(tally.max_late_us,
                 std::chrono::duration_cast<std::chrono::microseconds>(sent_at - due).count());
    ++tally.sent;
    int status = -1;
    if (fd >= 0 && SendAll(fd, request)) status = ReadResponse(fd, buffer);
    if (status < 0) {
      ++tally.errors;
      if (fd >= 0) close(fd);
      fd = -1;
      buffer.clear();
      continue;
    }
    tally.latencies_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - due).count());
    if (status >= 200 && status < 300) {
      ++tally.ok;
    } else {
      ++tally.non2xx;
    }
  }
  if (fd >= 0) close(fd);
}

double Percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return static_cast<double>(sorted[index]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  const auto count = static_cast<std::int64_t>(options.rate * options.duration_s);
  std::vector<Tally> tallies(static_cast<std::size_t>(options.connections));
  const auto start = Clock::now() + std::chrono::milliseconds{20};  // every thread started
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < options.connections; ++c) {
      threads.emplace_back(Drive, std::cref(options), start, c, options.connections, count,
                           std::ref(tallies[static_cast<std::size_t>(c)]));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  Tally all;
  for (Tally& t : tallies) {
    all.latencies_us.insert(all.latencies_us.end(), t.latencies_us.begin(), t.latencies_us.end());
    all.sent += t.sent;
    all.ok += t.ok;
    all.non2xx += t.non2xx;
    all.errors += t.errors;
    all.max_late_us = std::max(all.max_late_us, t.max_late_us);
  }
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  std::printf(
      "sent=%lld ok=%lld non2xx=%lld errors=%lld seconds=%.2f rate=%.1f p50_ms=%.3f p90_ms=%.3f "
      "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f late_ms=%.3f\n",
      static_cast<long long>(all.sent), static_cast<long long>(all.ok),
      static_cast<long long>(all.non2xx), static_cast<long long>(all.errors), seconds,
      static_cast<double>(all.sent) / seconds, Percentile(all.latencies_us, 50),
      Percentile(all.latencies_us, 90), Percentile(all.latencies_us, 99),
      Percentile(all.latencies_us, 99.9), Percentile(all.latencies_us, 100),
      static_cast<double>(all.max_late_us) / 1000.0);
  return all.errors == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
