#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

}  // namespace cppblog::e2e
