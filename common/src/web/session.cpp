#include "session.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

#include "response_head.hpp"
#include "target.hpp"

namespace cppblog::web::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Parser = http::request_parser<http::string_body>;
using Clock = std::chrono::steady_clock;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

// After an error response the peer may still be sending; reading what it sends
// for a moment before closing keeps the kernel from resetting the connection and
// destroying the response (a "lingering close").
constexpr std::chrono::seconds kLingerTime{1};
constexpr std::size_t kLingerBytes = 8 * 1024 * 1024;
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

// The Date header's value, formatted at most once a second per thread.
std::string_view CurrentHttpDate() {
  struct Cache {
    std::time_t second = -1;
    std::string text;
  };
  thread_local Cache cache;
  const std::time_t now = std::time(nullptr);
  if (now != cache.second) {
    cache.text = FormatHttpDate(now);
    cache.second = now;
  }
  return cache.text;
}

}  // namespace

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
    const std::string answer =
        FormatClosingResponse(Response::Error(408, "the request took too long to arrive"));
    beast::error_code ignored;
    socket_.write_some(asio::buffer(answer), ignored);
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
      persistence_ = message.keep_alive() ? Persistence::kKeepAlive : Persistence::kClose;
      version_ = message.version() < 11 ? HttpVersion::kHttp10 : HttpVersion::kHttp11;
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
    Write(persistence_, version_);
  }

  void WriteError(int status, std::string_view message) {
    response_ = Response::Error(status, message);
    head_only_ = false;
    linger_ = true;
    Write(Persistence::kClose, HttpVersion::kHttp11);
  }

  // `persistence` is what the request asked for; a stopping server closes regardless.
  void Write(Persistence persistence, HttpVersion version) {
    request_deadline_.reset();  // the request is in; the response has its own deadline
    close_after_write_ =
        persistence == Persistence::kClose || shared_.stopping.load(std::memory_order_relaxed);
    FormatResponseHead(
        response_,
        {.version = version,
         .persistence = close_after_write_ ? Persistence::kClose : Persistence::kKeepAlive,
         .date = CurrentHttpDate()},
        head_);
    phase_ = Phase::kWriting;
    const bool send_body =
        BodyAllowed(WireStatus(response_.status)) && !head_only_ && !response_.body.empty();
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
  Persistence persistence_ = Persistence::kClose;
  HttpVersion version_ = HttpVersion::kHttp11;
  bool awaiting_response_ = false;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  bool close_after_write_ = false;
  bool linger_ = false;
};

void StartSession(Socket socket, Shared& shared) {
  std::make_shared<Session>(std::move(socket), shared)->Start();
}

void StopSessions(Shared& shared) {
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

}  // namespace cppblog::web::detail
