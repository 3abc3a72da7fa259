#include "cppblog/web/server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "response_head.hpp"
#include "session.hpp"

namespace cppblog::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// After a failed accept (out of descriptors, most likely) the next try waits, doubling from
// the first delay to the last: never a busy loop, and soon back once descriptors are free.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
constexpr std::chrono::milliseconds kAcceptRetryMaxDelay{800};
// Repeated warnings (refused connections, failed accepts) are logged at most this often.
constexpr std::chrono::seconds kWarningInterval{10};
constexpr std::size_t kMaxConnectionsCeiling = 10'000;

using detail::Shared;
using detail::Socket;
using Clock = std::chrono::steady_clock;

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
  Response response = Response::Error(503, std::string(reason) + "; retry later");
  response.headers.emplace_back("Retry-After", "1");
  return detail::FormatClosingResponse(response);
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
      detail::StartSession(std::move(socket), shared);
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
    detail::StopSessions(shared);
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
