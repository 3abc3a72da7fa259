#pragma once

// The state of an AMQP client's connection, apart from the client: what handlers and health
// checks read (through a std::function<ConnectionState()>) without depending on AmqpClient.
namespace cppblog::messaging {

/// The client's connection state, for /health and metrics.
enum class ConnectionState {
  kRecovering,  // not (yet) connected: connecting, or reconnecting with backoff
  kConnected,
  kBlocked,  // connected, but the broker blocked publishing (connection.blocked, e.g. low memory)
  kClosed,   // Close() ran or the client is being destroyed
};

/// "recovering", "connected", "blocked", "closed".
[[nodiscard]] const char* ToString(ConnectionState state) noexcept;

}  // namespace cppblog::messaging
