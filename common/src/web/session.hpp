#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "cppblog/web/router.hpp"
#include "cppblog/web/server.hpp"

namespace cppblog::web::detail {

using Executor = boost::asio::strand<boost::asio::io_context::executor_type>;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;

class Session;

/// What the acceptor and all sessions share; outlives every session.
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

/// Serves one accepted connection (keep-alive, pipelining, the limits and timeouts of
/// `shared.options`) until either side closes it. The socket must be on its own strand.
void StartSession(Socket socket, Shared& shared);

/// Once `shared.stopping` is set: every session waiting for a request's header closes now, a
/// busy one after its response is written (saying `Connection: close`). Thread-safe.
void StopSessions(Shared& shared);

}  // namespace cppblog::web::detail
