#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cppblog/web/router.hpp"
#include "cppblog/web/server_options.hpp"

namespace cppblog::web {

/// The connection cap for a process allowed `descriptor_limit` open files: the limit less a
/// reserve for everything else the process opens (a store, broker connections, logs; an
/// eighth of the limit, at least 64), at most 10,000, at least 1. Pure.
[[nodiscard]] std::size_t MaxConnectionsFor(std::uint64_t descriptor_limit);

/// MaxConnectionsFor(the soft RLIMIT_NOFILE of this process); 1024 when it cannot be read.
[[nodiscard]] std::size_t DefaultMaxConnections();

/// An HTTP/1.1 server (Boost.Beast, kept out of this header) on one io_context
/// run by `threads` threads, with keep-alive and the limits above.
/// The constructor binds and listens (throws std::runtime_error naming the address and port,
/// and the setting to change, when it cannot); Run() serves. Not copyable or movable.
/// Out of file descriptors, a client waiting to be accepted is answered 503 and closed at once
/// (through one descriptor kept in reserve) and accepting resumes when the next one connects;
/// other accept errors are retried after a growing pause. Never a busy loop; logged at most
/// once every 10 s.
///
/// On the wire: keep-alive by default (HTTP/1.0 on request), pipelining, chunked request
/// bodies, `Expect: 100-continue`; responses carry Content-Length and Date; HEAD gets the
/// GET handler's headers and no body; malformed requests get 400 and the connection is
/// closed. Handlers run on the I/O threads: a slow handler holds one of them. An async handler
/// (Router::GetAsync) holds none while it waits: its connection stays busy, reads nothing
/// more, and its response is written when the responder fires, from whichever thread.
class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();  // stops and joins if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port actually bound (useful with port 0).
  [[nodiscard]] std::uint16_t Port() const;

  /// Serves on the calling thread plus `threads - 1` more until Stop(); returns after
  /// in-flight requests have been answered and every connection is closed. Call once.
  void Run();
  /// Serves until SIGINT or SIGTERM, then stops gracefully and returns. A second signal
  /// while draining gets the default action (ends the process).
  void RunUntilSignal();
  /// Stops accepting, closes idle connections, lets in-flight requests finish, async ones
  /// included (their responses say `Connection: close`), makes Run() return. Thread-safe,
  /// idempotent, and also valid before Run() (which then returns at once).
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::web
