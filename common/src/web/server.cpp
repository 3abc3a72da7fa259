#include "cppblog/web/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "target.hpp"

namespace cppblog::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Parser = http::request_parser<http::string_body>;

// After an error response the peer may still be sending; reading what it sends
// for a moment before closing keeps the kernel from resetting the connection and
// destroying the response (a "lingering close").
constexpr std::chrono::seconds kLingerTime{1};
constexpr std::size_t kLingerBytes = 8 * 1024 * 1024;
// After a failed accept (out of descriptors, most likely) the next try waits, doubling from
// the first delay to the last: never a busy loop, and soon back once descriptors are free.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
constexpr std::chrono::milliseconds kAcceptRetryMaxDelay{800};
// Repeated warnings (refused connections, failed accepts) are logged at most this often.
constexpr std::chrono::seconds kWarningInterval{10};
constexpr std::size_t kMaxConnectionsCeiling = 10'000;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

Method ToMethod(http::verb verb) {
  switch (verb) {
    case http::verb::get:
      return Method::kGet;
    case http::verb::head:
      return Method::kHead;
    case http::verb::post:
      return Method::kPost;
    case http::verb::put:
      return Method::kPut;
    case http::verb::delete_:
      return Method::kDelete;
    case http::verb::patch:
      return Method::kPatch;
    case http::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

void AppendNumber(std::string& out, std::size_t value) {
  std::array<char, 24> digits{};
  const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  out.append(digits.data(), result.ptr);
}

// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", formatted at most once a second per thread.
std::string_view DateHeader() {
  struct Cache {
    std::time_t second = -1;
    std::array<char, 64> text{};
    std::size_t size = 0;
  };
  thread_local Cache cache;
  const std::time_t now = std::time(nullptr);
  if (now != cache.second) {
    static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                         "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm utc{};
    gmtime_r(&now, &utc);
    const int written = std::snprintf(cache.text.data(), cache.text.size(),
                                      "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                                      kDays[static_cast<std::size_t>(utc.tm_wday)], utc.tm_mday,
                                      kMonths[static_cast<std::size_t>(utc.tm_mon)],
                                      utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    cache.size = written > 0 ? static_cast<std::size_t>(written) : 0;
    cache.second = now;
  }
  return {cache.text.data(), cache.size};
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

bool BodyAllowed(int status) { return status >= 200 && status != 204 && status != 304; }

class Session;

using Executor = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Clock = std::chrono::steady_clock;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

// Which of a stream of like events gets a log line: the first, then at most one per
// `interval`, each line told how many events went unlogged since the previous one.
// Not thread-safe (used on the acceptor's strand).
class LogThrottle {
 public:
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

  // nullopt: stay quiet; otherwise log, mentioning the events that were not logged.
  std::optional<std::size_t> Admit(Clock::time_point now) {
    if (logged_ && now - last_line_ < interval_) {
      ++unlogged_;
      return std::nullopt;
    }
    logged_ = true;
    last_line_ = now;
    return std::exchange(unlogged_, 0);
  }

 private:
  Clock::duration interval_;
  Clock::time_point last_line_{};
  bool logged_ = false;
  std::size_t unlogged_ = 0;
};

// " (12 more refused since the last such line)", or nothing when none went unlogged.
std::string Unlogged(std::size_t count, std::string_view what) {
  if (count == 0) return {};
  return " (" + std::to_string(count) + " more " + std::string(what) + " since the last such line)";
}

std::string ServiceUnavailableResponse(std::string_view reason) {
  const std::string body = "{\"error\":\"" + std::string(reason) + "; retry later\"}";
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body;
}

// Answers a connection that will not be served with `response` (if the socket takes it at
// once) and shuts it down; the caller closes the descriptor. What the client already sent is
// read first, so that closing does not reset the connection and destroy the answer unread.
void RefuseConnection(int fd, std::string_view response) {
  std::array<char, 4096> discard{};
  for (int reads = 0; reads < 16; ++reads) {
    if (::recv(fd, discard.data(), discard.size(), MSG_DONTWAIT) <= 0) break;
  }
  (void)::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)::shutdown(fd, SHUT_WR);
}

constexpr std::string_view kRequestTimeoutResponse =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: 48\r\n"
    "Connection: close\r\n\r\n{\"error\":\"the request took too long to arrive\"}";

// What the acceptor and all sessions share; outlives every session.
struct Shared {
  Shared(ServerOptions server_options, Router server_router)
      : options(std::move(server_options)), router(std::move(server_router)) {}

  const ServerOptions options;  // max_connections resolved (never 0)
  const Router router;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};  // sessions alive, counted by Session
  std::mutex sessions_mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

/// One connection. All its handlers run on its strand, one at a time.
///
/// It is also the sink of its requests' responders: a request stays in the busy phase until
/// its responder fires, from any thread; the response is then written on the strand. Nothing
/// more is read meanwhile, so pipelined requests are answered in order.
///
/// The hot path is kept lean on purpose: the socket is read directly into a reused
/// flat_buffer and fed to Beast's parser (no composed read operations), the response
/// head is formatted into a reused string and written with the body in one gather
/// write, and the idle timeout is one timer per connection that is re-armed lazily
/// from a deadline, instead of a timer started and cancelled for every operation.
class Session final : public std::enable_shared_from_this<Session>, public ResponseSink {
 public:
  Session(Socket socket, Shared& shared)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(shared) {
    shared_.connections.fetch_add(1, std::memory_order_relaxed);
  }

  ~Session() {
    {
      const std::lock_guard lock(shared_.sessions_mutex);
      shared_.sessions.erase(this);
    }
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    {
      const std::lock_guard lock(shared_.sessions_mutex);
      shared_.sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      // Writes are tried directly first (see Write()); they must not block.
      beast::error_code ec;
      self->socket_.non_blocking(true, ec);
      if (ec) return self->Close();
      self->deadline_ = Clock::now() + self->shared_.options.idle_timeout;
      self->ArmTimer();
      self->StartRequest();
    });
  }

  /// Called on the strand when the server stops: a connection waiting for a request's
  /// header closes now, a busy one after its response is written (Write() sees `stopping`).
  void OnStop() {
    if (phase_ == Phase::kHeader) Close();
  }

  [[nodiscard]] Executor GetExecutor() { return socket_.get_executor(); }

  /// The responder fired. On the strand already (a plain handler, or an async one answering
  /// at once) it writes inline; from another thread it is queued on the strand.
  void Complete(Response response) override {
    asio::dispatch(socket_.get_executor(),
                   [self = shared_from_this(), response = std::move(response)]() mutable {
                     self->OnResponse(std::move(response));
                   });
  }

 private:
  enum class Phase { kHeader, kBody, kBusy, kWriting, kLinger, kClosed };

  // The timer waits for `deadline_`; a deadline moved later is noticed when it fires, one
  // moved earlier re-arms it at once (SetDeadline).
  void ArmTimer() {
    armed_for_ = deadline_;
    timer_.expires_at(deadline_);  // cancels a wait already pending: its handler sees an error
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
  }

  // The next deadline, never later than the request's own (request_timeout).
  void SetDeadline(Clock::time_point at) {
    if (request_deadline_) at = std::min(at, *request_deadline_);
    deadline_ = at;
    if (deadline_ < armed_for_) ArmTimer();
  }

  void OnTimer(beast::error_code ec) {
    if (ec || phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kBusy) {
      // Waiting for a handler's answer is not a stalled connection.
      deadline_ = Clock::now() + shared_.options.idle_timeout;
    } else if (Clock::now() >= deadline_) {
      if (phase_ == Phase::kHeader && !request_deadline_) {
        spdlog::debug("http connection idle for {} ms, closing",
                      shared_.options.idle_timeout.count());
      } else if ((phase_ == Phase::kHeader || phase_ == Phase::kBody) && request_deadline_ &&
                 Clock::now() >= *request_deadline_) {
        return TimeOutRequest();
      }
      return Close();
    }
    ArmTimer();
  }

  // The request has not fully arrived within request_timeout: a 408 if the socket takes it
  // now (nothing else is being written in these phases), then close.
  void TimeOutRequest() {
    spdlog::debug("http request incomplete after {} ms ({} bytes of body), closing",
                  shared_.options.request_timeout.count(),
                  parser_ && parser_->is_header_done() ? parser_->get().body().size() : 0);
    beast::error_code ignored;
    socket_.write_some(
        asio::const_buffer(kRequestTimeoutResponse.data(), kRequestTimeoutResponse.size()),
        ignored);
    Close();
  }

  void StartRequest() {
    if (shared_.stopping.load(std::memory_order_relaxed)) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(shared_.options.header_limit, UINT32_MAX)));
    parser_->body_limit(shared_.options.body_limit);
    parser_->eager(true);
    continue_sent_ = false;
    phase_ = Phase::kHeader;
    request_deadline_.reset();
    // The next request must start within one idle timeout. From its first byte the whole
    // request must arrive within request_timeout, however bytes trickle in, and its body may
    // not pause longer than the idle timeout either.
    SetDeadline(Clock::now() + shared_.options.idle_timeout);
    Parse();
  }

  // Feeds what is buffered to the parser; reads more when it needs more.
  void Parse() {
    if (!request_deadline_ && buffer_.size() != 0) {
      request_deadline_ = Clock::now() + shared_.options.request_timeout;
      SetDeadline(*request_deadline_);  // the header's deadline, also after a long idle wait
    }
    while (buffer_.size() != 0) {
      beast::error_code ec;
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return OnParseError(ec);
      if (parser_->is_done()) return Handle();
      if (parser_->is_header_done() && !continue_sent_ &&
          beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
        return SendContinue();
      }
      if (used == 0) break;
    }
    if (parser_->is_header_done()) {
      phase_ = Phase::kBody;
      SetDeadline(Clock::now() + shared_.options.idle_timeout);
    }
    socket_.async_read_some(buffer_.prepare(kReadSize),
                            [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                              self->OnRead(ec, bytes);
                            });
  }

  void OnRead(beast::error_code ec, std::size_t bytes) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // A clean end between requests, a dropped connection, or a request cut short:
      // nothing to answer in any case.
      if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
        spdlog::debug("http connection closed: {}", ec.message());
      }
      return Close();
    }
    buffer_.commit(bytes);
    Parse();
  }

  void SendContinue() {
    continue_sent_ = true;
    phase_ = Phase::kWriting;
    asio::async_write(socket_, asio::const_buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (self->phase_ == Phase::kClosed) return;
                        if (ec) return self->Close();
                        self->phase_ = Phase::kBody;
                        self->Parse();
                      });
  }

  void OnParseError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return WriteError(431, "request header fields are larger than " +
                                 std::to_string(shared_.options.header_limit) + " bytes");
    }
    if (ec == http::error::body_limit) {
      return WriteError(413, "request body is larger than " +
                                 std::to_string(shared_.options.body_limit) + " bytes");
    }
    WriteError(400, "malformed HTTP request: " + ec.message());
  }

  void Handle() {
    phase_ = Phase::kBusy;
    request_deadline_.reset();
    try {
      auto& message = parser_->get();
      Request request;
      request.method = ToMethod(message.method());
      if (!detail::ParseTarget(message.target(), request.path, request.query)) {
        return WriteError(400, "malformed request target");
      }
      for (const auto& field : message) {
        request.headers.emplace_back(field.name_string(), field.value());
      }
      request.body = std::move(message.body());
      keep_alive_ = message.keep_alive();
      http10_ = message.version() < 11;
      head_only_ = request.method == Method::kHead;
      awaiting_response_ = true;
      shared_.router.Dispatch(std::move(request), Responder{shared_from_this()});
      // Not answered yet: an async handler holds the responder. Run() must not return before
      // it answers, though the session has no operation pending meanwhile.
      if (awaiting_response_) work_.emplace(socket_.get_executor().get_inner_executor());
    } catch (const std::exception& e) {
      spdlog::error("http request failed outside the router: {}", e.what());
      Close();
    }
  }

  // On the strand.
  void OnResponse(Response response) {
    awaiting_response_ = false;
    work_.reset();
    if (phase_ != Phase::kBusy) return;  // cannot happen: a busy session is not closed
    response_ = std::move(response);
    Write(keep_alive_, http10_);
  }

  void WriteError(int status, std::string_view message) {
    response_ = Response::Error(status, message);
    head_only_ = false;
    linger_ = true;
    Write(/*keep_alive=*/false, /*http10=*/false);
  }

  void Write(bool keep_alive, bool http10) {
    request_deadline_.reset();  // the request is in; the response has its own deadline
    close_after_write_ = !keep_alive || shared_.stopping.load(std::memory_order_relaxed);
    const bool with_body = BodyAllowed(response_.status);
    FormatHead(with_body, http10);
    phase_ = Phase::kWriting;
    const bool send_body = with_body && !head_only_ && !response_.body.empty();
    std::array buffers = {
        asio::const_buffer(head_.data(), head_.size()),
        asio::const_buffer(response_.body.data(), send_body ? response_.body.size() : 0)};
    // Usually the whole response fits in the socket's send buffer: write it now, and
    // skip an asynchronous operation and its completion going through the scheduler.
    beast::error_code ec;
    const std::size_t total = buffers[0].size() + buffers[1].size();
    const std::size_t written = socket_.write_some(buffers, ec);
    if (!ec && written == total) {
      // Pipelined requests already buffered are parsed from a fresh handler, so that a
      // client sending many at once cannot make this recursion deep.
      if (buffer_.size() == 0 || close_after_write_) return OnWrite({});
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->OnWrite({}); });
      return;
    }
    if (ec && ec != asio::error::would_block) return Close();
    SetDeadline(Clock::now() + shared_.options.idle_timeout);
    if (written < buffers[0].size()) {
      buffers[0] += written;
    } else {
      buffers[1] += written - buffers[0].size();
      buffers[0] = asio::const_buffer();
    }
    asio::async_write(socket_, buffers,
                      [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                        self->OnWrite(write_ec);
                      });
  }

  void FormatHead(bool with_body, bool http10) {
    const int status = response_.status >= 100 && response_.status <= 999 ? response_.status : 500;
    head_.clear();
    head_ += "HTTP/1.1 ";
    AppendNumber(head_, static_cast<std::size_t>(status));
    head_ += ' ';
    const auto known = http::int_to_status(static_cast<unsigned>(status));
    head_ += known == http::status::unknown ? std::string_view("Unknown")
                                            : std::string_view(http::obsolete_reason(known));
    head_ += "\r\n";
    if (with_body) {
      if (!response_.content_type.empty() && !HasLineBreak(response_.content_type)) {
        head_ += "Content-Type: ";
        head_ += response_.content_type;
        head_ += "\r\n";
      }
      head_ += "Content-Length: ";
      AppendNumber(head_, response_.body.size());
      head_ += "\r\n";
    }
    head_ += DateHeader();
    for (const auto& [name, value] : response_.headers) {
      if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) continue;
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    if (close_after_write_) {
      head_ += "Connection: close\r\n";
    } else if (http10) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
  }

  void OnWrite(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) return Close();
    if (!close_after_write_) return StartRequest();
    if (!linger_) return Close();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    phase_ = Phase::kLinger;
    SetDeadline(Clock::now() + kLingerTime);
    buffer_.clear();
    Linger(0);
  }

  void Linger(std::size_t discarded) {
    if (discarded > kLingerBytes) return Close();
    socket_.async_read_some(
        buffer_.prepare(kReadSize),
        [self = shared_from_this(), discarded](beast::error_code ec, std::size_t bytes) {
          if (self->phase_ == Phase::kClosed) return;
          if (ec) return self->Close();
          self->Linger(discarded + bytes);
        });
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

  static constexpr std::size_t kReadSize = 16 * 1024;

  Socket socket_;
  Timer timer_;
  Shared& shared_;
  Clock::time_point deadline_;
  Clock::time_point armed_for_;  // what the timer waits for
  // When the request being received must have arrived whole; none before its first byte.
  std::optional<Clock::time_point> request_deadline_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  Response response_;  // kept alive while it is written
  std::string head_;   // the response's status line and headers, reused
  Phase phase_ = Phase::kHeader;
  bool continue_sent_ = false;
  // The request being answered.
  bool head_only_ = false;
  bool keep_alive_ = false;
  bool http10_ = false;
  bool awaiting_response_ = false;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  bool close_after_write_ = false;
  bool linger_ = false;
};

// "127.0.0.1:8080", "[::1]:8080".
std::string HostPort(const std::string& address, std::uint16_t port) {
  const bool ipv6 = address.find(':') != std::string::npos;
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string ListenError(const ServerOptions& options, const beast::error_code& ec) {
  std::string reason = ec.message();
  if (!reason.empty()) reason.front() = static_cast<char>(std::tolower(reason.front()));
  std::string message =
      "cannot listen on " + HostPort(options.address, options.port) + ": " + reason;
  if (ec == asio::error::address_in_use) {
    message += "; is another instance running? set server_port";
  } else if (ec == asio::error::access_denied) {
    message += "; ports below 1024 need privileges, set server_port";
  } else if (ec == boost::system::errc::address_not_available) {
    message += "; the address is not one of this host's, set server_address";
  }
  return message;
}

}  // namespace

std::size_t MaxConnectionsFor(std::uint64_t descriptor_limit) {
  const std::uint64_t reserve = std::max<std::uint64_t>(64, descriptor_limit / 8);
  const std::uint64_t usable =
      descriptor_limit > 2 * reserve ? descriptor_limit - reserve : descriptor_limit / 2;
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(usable, 1, std::uint64_t{kMaxConnectionsCeiling}));
}

std::size_t DefaultMaxConnections() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return MaxConnectionsFor(limit.rlim_cur == RLIM_INFINITY
                               ? std::uint64_t{kMaxConnectionsCeiling} * 2
                               : static_cast<std::uint64_t>(limit.rlim_cur));
}

struct Server::Impl {
  Impl(ServerOptions options, Router router, unsigned thread_count)
      : shared(std::move(options), std::move(router)),
        threads(thread_count),
        io(static_cast<int>(thread_count)),
        acceptor(asio::make_strand(io)) {}
  ~Impl() {
    if (reserve_fd >= 0) ::close(reserve_fd);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void StartAccepting() {
    if (shared.stopping.load()) return;
    auto socket = std::make_unique<Socket>(asio::make_strand(io.get_executor()));
    Socket& target = *socket;
    acceptor.async_accept(target, [this, socket = std::move(socket)](beast::error_code ec) mutable {
      OnAccept(ec, std::move(*socket));
    });
  }

  void OnAccept(beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec == asio::error::connection_aborted) return StartAccepting();  // the peer gave up
    if (ec == asio::error::no_descriptors ||
        ec == boost::system::errc::too_many_files_open_in_system) {
      switch (ShedOneConnection(ec)) {
        case Shed::kOne:
          return StartAccepting();  // each round takes one waiting connection: no busy loop
        case Shed::kNoneWaiting:
          return WaitForAClient(ec);
        case Shed::kCannot:
          break;
      }
    }
    if (ec) return RetryAcceptLater(ec);
    accept_retry_delay = kAcceptRetryDelay;
    const std::size_t max_connections = shared.options.max_connections;
    if (shared.connections.load(std::memory_order_relaxed) >= max_connections) {
      Refuse(socket);
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), shared)->Start();
    }
    StartAccepting();
  }

  // Out of descriptors, most likely: wait, longer each time, instead of spinning.
  void RetryAcceptLater(beast::error_code ec) {
    if (const auto unlogged = accept_error_log.Admit(Clock::now())) {
      spdlog::warn(
          "http accept failed: {}; retrying in {} ms{}. Out of file descriptors? Lower "
          "max_connections (now {}) or raise ulimit -n",
          ec.message(), accept_retry_delay.count(), Unlogged(*unlogged, "failed"),
          shared.options.max_connections);
    }
    accept_retry.expires_after(accept_retry_delay);
    accept_retry_delay = std::min(accept_retry_delay * 2, kAcceptRetryMaxDelay);
    accept_retry.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) StartAccepting();
    });
  }

  enum class Shed { kOne, kNoneWaiting, kCannot };

  // Out of descriptors with a client waiting: the descriptor kept in reserve is given up for a
  // moment to take that client and answer it 503, so it learns at once instead of waiting in
  // the backlog until descriptors are free.
  Shed ShedOneConnection(beast::error_code ec) {
    if (reserve_fd < 0) return Shed::kCannot;
    pollfd waiting{.fd = acceptor.native_handle(), .events = POLLIN, .revents = 0};
    // An accept may fail for want of a descriptor with nobody waiting (Asio tries one at once);
    // and accept4 below must find a client, not block.
    const int ready = ::poll(&waiting, 1, 0);
    if (ready == 0) return Shed::kNoneWaiting;
    if (ready < 0) return Shed::kCannot;
    ::close(reserve_fd);
    const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      // Logged before the answer, so that a client told 503 finds the reason already logged.
      if (const auto unlogged = accept_error_log.Admit(Clock::now())) {
        spdlog::warn(
            "http accept failed: {}; waiting clients are answered 503 and closed{}. Lower "
            "max_connections (now {}) or raise ulimit -n",
            ec.message(), Unlogged(*unlogged, "failed"), shared.options.max_connections);
      }
      RefuseConnection(fd, ServiceUnavailableResponse("the server is out of file descriptors"));
      ::close(fd);
    }
    reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Shed::kCannot;
    return Shed::kOne;
  }

  // Out of descriptors and nobody waiting: try again when a client connects (to be shed if
  // descriptors are still short), not on a timer.
  void WaitForAClient(beast::error_code ec) {
    if (const auto unlogged = accept_error_log.Admit(Clock::now())) {
      spdlog::warn(
          "http accept failed: {}; clients will be answered 503 and closed until descriptors "
          "are free{}. Lower max_connections (now {}) or raise ulimit -n",
          ec.message(), Unlogged(*unlogged, "failed"), shared.options.max_connections);
    }
    acceptor.async_wait(tcp::acceptor::wait_read, [this](beast::error_code wait_ec) {
      if (!wait_ec) StartAccepting();
    });
  }

  // One connection too many: 503 if the socket takes it at once, then closed.
  void Refuse(Socket& socket) {
    const std::size_t max_connections = shared.options.max_connections;
    if (const auto unlogged = refusal_log.Admit(Clock::now())) {
      spdlog::warn(
          "http connection limit reached: max_connections={} connections are open, new ones "
          "are answered 503 and closed{}; raise max_connections (and ulimit -n) if this load is "
          "expected",
          max_connections, Unlogged(*unlogged, "refused"));
    }
    RefuseConnection(socket.native_handle(),
                     ServiceUnavailableResponse("too many connections: this server takes at most " +
                                                std::to_string(max_connections) + " at once"));
    beast::error_code ignored;
    socket.close(ignored);
  }

  // Runs on the acceptor's strand.
  void BeginServing() {
    if (shared.stopping.load()) return;
    StartAccepting();
    if (handle_signals) {
      signals.emplace(acceptor.get_executor(), SIGINT, SIGTERM);
      signals->async_wait([this](beast::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("received signal {}, stopping the HTTP server", signal);
        StopNow();
      });
    }
  }

  // Runs on the acceptor's strand.
  void StopNow() {
    shared.stopping.store(true);
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
    if (signals) {
      // Unregistering restores the default action, so a second Ctrl+C ends the process.
      signals->clear(ignored);
      signals->cancel(ignored);
    }
    std::vector<std::shared_ptr<Session>> sessions;
    {
      const std::lock_guard lock(shared.sessions_mutex);
      sessions.reserve(shared.sessions.size());
      for (const auto& [raw, weak] : shared.sessions) {
        if (auto session = weak.lock()) sessions.push_back(std::move(session));
      }
    }
    for (auto& session : sessions) {
      asio::post(session->GetExecutor(), [session] { session->OnStop(); });
    }
  }

  // Declared first so it is destroyed last: sessions still queued in `io` refer to it.
  Shared shared;
  unsigned threads;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry{acceptor.get_executor()};
  std::chrono::milliseconds accept_retry_delay = kAcceptRetryDelay;
  LogThrottle accept_error_log{kWarningInterval};  // these two on the acceptor's strand
  LogThrottle refusal_log{kWarningInterval};
  // Given up for a moment to shed a connection when out of descriptors (ShedOneConnection).
  int reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::optional<asio::signal_set> signals;
  std::uint16_t port = 0;
  bool handle_signals = false;

  std::mutex run_mutex;
  std::condition_variable run_finished;
  bool running = false;
};

Server::Server(ServerOptions options, Router router) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on '" + options.address +
                             "': not an IP address; set server_address to one of this host's "
                             "addresses, 0.0.0.0 (every IPv4 interface) or :: (every interface)");
  }
  const unsigned threads =
      options.threads != 0 ? options.threads : std::max(1U, std::thread::hardware_concurrency());
  if (options.max_connections == 0) options.max_connections = DefaultMaxConnections();
  impl_ = std::make_unique<Impl>(options, std::move(router), threads);
  auto& acceptor = impl_->acceptor;
  const tcp::endpoint endpoint{address, options.port};
  if (acceptor.open(endpoint.protocol(), ec); !ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(ListenError(options, ec));
  impl_->port = acceptor.local_endpoint().port();
}

Server::~Server() {
  Stop();
  std::unique_lock lock(impl_->run_mutex);
  impl_->run_finished.wait(lock, [this] { return !impl_->running; });
}

std::uint16_t Server::Port() const { return impl_->port; }

void Server::Run() {
  {
    const std::lock_guard lock(impl_->run_mutex);
    if (impl_->running) throw std::logic_error("web::Server::Run called while already running");
    impl_->running = true;
  }
  const auto& options = impl_->shared.options;
  const unsigned threads = impl_->threads;
  spdlog::info("serving HTTP on {} with {} thread(s), at most {} connections",
               HostPort(options.address, impl_->port), threads, options.max_connections);
  if (const std::size_t fits = DefaultMaxConnections(); options.max_connections > fits) {
    spdlog::warn(
        "max_connections={} is more than this process's open-file limit (ulimit -n) leaves room "
        "for ({}): accepts will fail with 'Too many open files' before the cap is reached; "
        "lower max_connections or raise ulimit -n",
        options.max_connections, fits);
  }

  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->BeginServing(); });
  const auto run = [impl = impl_.get()] {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      // Handlers catch what they throw; reaching here is a bug, but the server must not die.
      spdlog::critical("http I/O thread stopped: {}", e.what());
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(run);
  run();
  for (auto& thread : pool) thread.join();
  spdlog::info("HTTP server on port {} stopped", impl_->port);

  const std::lock_guard lock(impl_->run_mutex);
  impl_->running = false;
  impl_->run_finished.notify_all();
}

void Server::RunUntilSignal() {
  impl_->handle_signals = true;
  Run();
}

void Server::Stop() {
  if (impl_->shared.stopping.exchange(true)) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->StopNow(); });
}

}  // namespace cppblog::web
