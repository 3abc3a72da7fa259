#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace cppblog::e2e {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first header of that name, compared case-insensitively.
  [[nodiscard]] std::optional<std::string> Header(std::string_view name) const;
};

/// A blocking HTTP/1.1 client over one TCP connection to 127.0.0.1, for tests:
/// send raw bytes or whole requests, read responses one at a time (keep-alive).
/// Every operation fails with std::runtime_error after `timeout`. Not thread-safe.
class HttpConnection {
 public:
  /// Connects; throws std::runtime_error when nobody listens.
  explicit HttpConnection(std::uint16_t port,
                          std::chrono::milliseconds timeout = std::chrono::seconds{5});
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// Writes the bytes as they are.
  void Send(std::string_view raw);
  /// Reads one response (Content-Length, chunked, or up to EOF). Throws on a
  /// timeout or when the peer closes before a whole response arrived.
  [[nodiscard]] HttpResponse ReadResponse();
  /// Sends a request with Host and Content-Length set, and reads its response.
  [[nodiscard]] HttpResponse Request(
      std::string_view method, std::string_view target, std::string_view body = {},
      const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  [[nodiscard]] HttpResponse Get(std::string_view target) { return Request("GET", target); }
  /// True when the peer closed the connection (a read returns end of file) within `timeout`.
  [[nodiscard]] bool WaitClosedByPeer(std::chrono::milliseconds timeout);

 private:
  bool Fill();  // reads more into buffer_; false on EOF

  std::uint16_t port_;
  int fd_ = -1;
  std::string buffer_;
};

/// One GET on a fresh connection.
[[nodiscard]] HttpResponse HttpGet(std::uint16_t port, std::string_view target);

struct GetLoadOptions {
  std::uint16_t port = 0;
  std::string target;
  /// Requests sent at most.
  int total = 0;
  /// Keep-alive connections, i.e. requests in flight at once.
  int connections = 50;
  /// Threads driving them; each owns connections / threads of them.
  int threads = 5;
  /// For each connect and each response.
  std::chrono::milliseconds timeout{10'000};
  /// A thread starts a round (one request on each of its connections) at most this often:
  /// a steady stream of threads × connections / round_interval requests a second instead of
  /// as many as are answered. 0: no pacing.
  std::chrono::milliseconds round_interval{0};
};

/// What a GetLoad did so far.
struct GetLoadTally {
  int sent = 0;        // requests written (or tried to)
  int ok = 0;          // answered 200
  int other = 0;       // answered with another status
  int unanswered = 0;  // sent, but the connection failed before the response: outcome unknown
  int refused = 0;     // connects that failed
};

/// "sent N, 200: N, other status: N, unanswered: N, refused connects: N", for a failure message.
[[nodiscard]] std::string Describe(const GetLoadTally& tally);

/// GETs one target `total` times at a concurrency of `connections`, from a small pool of
/// threads: each sends one request on each of its keep-alive connections, then reads their
/// responses. A failed connection is replaced on the next round; a thread whose connections
/// can no longer be opened (the service is gone) ends early. Starts in the constructor.
class GetLoad {
 public:
  explicit GetLoad(GetLoadOptions options);
  /// Stop() and join.
  ~GetLoad();
  GetLoad(const GetLoad&) = delete;
  GetLoad& operator=(const GetLoad&) = delete;

  /// No new requests; those in flight are still read.
  void Stop() { stop_.store(true); }
  /// True when every thread ended within `timeout`.
  [[nodiscard]] bool WaitDone(std::chrono::milliseconds timeout) const;
  [[nodiscard]] GetLoadTally Tally() const;

 private:
  void Drive(int connections);

  GetLoadOptions options_;
  std::string request_;
  std::atomic<bool> stop_{false};
  std::atomic<int> budget_;
  std::atomic<int> running_;
  std::atomic<int> sent_{0};
  std::atomic<int> ok_{0};
  std::atomic<int> other_{0};
  std::atomic<int> unanswered_{0};
  std::atomic<int> refused_{0};
  std::vector<std::jthread> threads_;
};

}  // namespace cppblog::e2e
