#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cppblog::web {

/// How a web::Server listens and what it allows. A service reads the configurable part from its
/// configuration with ServerOptionsFrom (cppblog/web/server_settings.hpp).
struct ServerOptions {
  /// The IPv4 or IPv6 address to listen on: "0.0.0.0" every IPv4 interface, "::" every
  /// interface (IPv6 and, unless the host disables it, IPv4), "127.0.0.1" this host only.
  std::string address = "0.0.0.0";
  std::uint16_t port = 0;  // 0: an ephemeral port, see Server::Port()
  unsigned threads = 0;    // 0: one per core
  /// A connection that makes no progress this long (no request starting, a request body or a
  /// response stalled) is closed.
  std::chrono::milliseconds idle_timeout{30'000};
  /// A request's line, headers and body must all have arrived this long after its first byte,
  /// however steadily they trickle in; otherwise it is answered 408 and the connection closed.
  std::chrono::milliseconds request_timeout{30'000};
  /// Most connections open at once. One more is answered 503 at once and closed, and the
  /// server logs one warning per burst of refusals (at most one line every 10 s).
  /// 0: DefaultMaxConnections().
  std::size_t max_connections = 0;
  std::size_t header_limit = 8 * 1024;   // larger request line + headers: 431, then close
  std::size_t body_limit = 1024 * 1024;  // larger bodies: 413, then close

  friend bool operator==(const ServerOptions&, const ServerOptions&) = default;
};

}  // namespace cppblog::web
