#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cppblog/web/router.hpp"

namespace cppblog::web {

struct ServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 0;  // 0: an ephemeral port, see Server::Port()
  unsigned threads = 0;    // 0: one per core
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t header_limit = 8 * 1024;  // larger headers: 431
  std::size_t body_limit = 1024 * 1024;  // larger bodies: 413
};

/// An HTTP/1.1 server (Boost.Beast, kept out of this header) on one io_context
/// run by `threads` threads, with keep-alive and the limits above.
/// The constructor binds and listens (throws std::runtime_error naming the
/// address and port when it cannot); Run() serves. Not copyable or movable.
class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();  // stops and joins if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port actually bound (useful with port 0).
  [[nodiscard]] std::uint16_t Port() const;

  /// Serves until Stop(); returns after in-flight requests have finished.
  void Run();
  /// Serves until SIGINT or SIGTERM, then stops gracefully and returns.
  void RunUntilSignal();
  /// Stops accepting, lets in-flight requests finish, makes Run() return. Thread-safe.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::web
