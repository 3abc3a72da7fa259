#include "http_client.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cppblog::e2e {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : port_(port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket: " + ErrnoText());
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const std::string error = ErrnoText();
    close(fd_);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + error);
  }
}

HttpConnection::~HttpConnection() { close(fd_); }

void HttpConnection::Send(std::string_view raw) {
  while (!raw.empty()) {
    const ssize_t n = send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("send to port " + std::to_string(port_) + ": " + ErrnoText());
    }
    raw.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool HttpConnection::Fill() {
  char chunk[16 * 1024];
  while (true) {
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return false;
    throw std::runtime_error("recv from port " + std::to_string(port_) + ": " + ErrnoText());
  }
}

HttpResponse HttpConnection::ReadResponse() {
  std::size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill()) throw std::runtime_error("connection closed before a response header arrived");
  }
  HttpResponse response;
  const std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);

  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  const auto space = status_line.find(' ');
  if (status_line.rfind("HTTP/1.", 0) != 0 || space == std::string::npos) {
    throw std::runtime_error("malformed status line: " + status_line);
  }
  response.status = std::stoi(status_line.substr(space + 1, 3));
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line = std::string_view(head).substr(
        start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    response.headers.emplace_back(std::string(line.substr(0, colon)),
                                  std::string(Trim(line.substr(colon + 1))));
  }

  if (const auto length = response.Header("Content-Length")) {
    const std::size_t size = std::stoul(*length);
    while (buffer_.size() < size) {
      if (!Fill()) throw std::runtime_error("connection closed inside a response body");
    }
    response.body = buffer_.substr(0, size);
    buffer_.erase(0, size);
  } else if (const auto encoding = response.Header("Transfer-Encoding");
             encoding && EqualsIgnoreCase(*encoding, "chunked")) {
    while (true) {
      std::size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        if (!Fill()) throw std::runtime_error("connection closed inside a chunked body");
      }
      const std::size_t size = std::stoul(buffer_.substr(0, eol), nullptr, 16);
      buffer_.erase(0, eol + 2);
      while (buffer_.size() < size + 2) {
        if (!Fill()) throw std::runtime_error("connection closed inside a chunk");
      }
      response.body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
      if (size == 0) break;
    }
  } else if (response.status >= 200 && response.status != 204 && response.status != 304) {
    while (Fill()) {
    }
    response.body = std::move(buffer_);
    buffer_.clear();
  }
  return response;
}

HttpResponse HttpConnection::Request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: 127.0.0.1:").append(std::to_string(port_)).append("\r\n");
  for (const auto& [name, value] : extra_headers) {
    request.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  request.append("\r\n").append(body);
  Send(request);
  return ReadResponse();
}

bool HttpConnection::WaitClosedByPeer(std::chrono::milliseconds timeout) {
  pollfd entry{.fd = fd_, .events = POLLIN, .revents = 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const int ready = poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    if (!Fill()) return true;  // readable and EOF: closed; data: keep waiting for EOF
  }
}

HttpResponse HttpGet(std::uint16_t port, std::string_view target) {
  HttpConnection connection{port};
  return connection.Request("GET", target, {}, {{"Connection", "close"}});
}

std::string Describe(const GetLoadTally& tally) {
  return "sent " + std::to_string(tally.sent) + ", 200: " + std::to_string(tally.ok) +
         ", other status: " + std::to_string(tally.other) +
         ", unanswered: " + std::to_string(tally.unanswered) +
         ", refused connects: " + std::to_string(tally.refused);
}

GetLoad::GetLoad(GetLoadOptions options)
    : options_(std::move(options)),
      request_("GET " + options_.target +
               " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(options_.port) + "\r\n\r\n"),
      budget_(options_.total),
      running_(std::max(1, options_.threads)) {
  const int threads = std::max(1, options_.threads);
  const int connections = std::max(threads, options_.connections);
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    const int share = connections / threads + (i < connections % threads ? 1 : 0);
    threads_.emplace_back([this, share] {
      Drive(share);
      running_.fetch_sub(1);
    });
  }
}

GetLoad::~GetLoad() {
  Stop();
  threads_.clear();  // joins
}

bool GetLoad::WaitDone(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});  // a poll interval
  }
  return true;
}

GetLoadTally GetLoad::Tally() const {
  return {.sent = sent_.load(),
          .ok = ok_.load(),
          .other = other_.load(),
          .unanswered = unanswered_.load(),
          .refused = refused_.load()};
}

void GetLoad::Drive(int connections) {
  std::vector<std::unique_ptr<HttpConnection>> open(static_cast<std::size_t>(connections));
  std::vector<std::size_t> waiting;  // connections with a request in flight
  bool budget_left = true;
  auto round_start = std::chrono::steady_clock::now();
  while (budget_left && !stop_.load()) {
    if (options_.round_interval.count() > 0) {
      std::this_thread::sleep_until(round_start);  // pacing the stream, not waiting for it
      round_start += options_.round_interval;
    }
    waiting.clear();
    bool any_open = false;
    for (std::size_t i = 0; i < open.size() && !stop_.load(); ++i) {
      if (!open[i]) {
        try {
          open[i] = std::make_unique<HttpConnection>(options_.port, options_.timeout);
        } catch (const std::exception&) {
          refused_.fetch_add(1);
          continue;
        }
      }
      any_open = true;
      if (budget_.fetch_sub(1) <= 0) {
        budget_left = false;
        break;
      }
      sent_.fetch_add(1);
      try {
        open[i]->Send(request_);
        waiting.push_back(i);
      } catch (const std::exception&) {
        unanswered_.fetch_add(1);
        open[i].reset();
      }
    }
    for (const std::size_t i : waiting) {
      try {
        const HttpResponse response = open[i]->ReadResponse();
        (response.status == 200 ? ok_ : other_).fetch_add(1);
        const auto connection = response.Header("Connection");
        if (connection && EqualsIgnoreCase(*connection, "close")) open[i].reset();
      } catch (const std::exception&) {
        unanswered_.fetch_add(1);
        open[i].reset();
      }
    }
    if (!any_open) break;  // nobody listens any more
  }
}

}  // namespace cppblog::e2e
