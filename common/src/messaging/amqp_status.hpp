#pragma once

#include <string>
#include <string_view>

#include "cppblog/messaging/messaging_error.hpp"

#include "rabbitmq_c.hpp"

// The one place where rabbitmq-c results become MessagingError (style.md B4).
namespace cppblog::messaging::amqp {

[[nodiscard]] inline amqp_bytes_t Bytes(std::string_view text) noexcept {
  return amqp_bytes_t{text.size(), const_cast<char*>(text.data())};
}
[[nodiscard]] inline std::string ToString(amqp_bytes_t bytes) {
  return bytes.len == 0 ? std::string{}
                        : std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

/// Throws MessagingError for a negative rabbitmq-c status; `context` says what was attempted.
void CheckStatus(int status, std::string_view context);
[[noreturn]] void ThrowStatus(int status, std::string_view context);

/// Throws MessagingError unless `reply` is AMQP_RESPONSE_NORMAL.
void CheckReply(const amqp_rpc_reply_t& reply, std::string_view context);

/// The error a broker's channel.close / connection.close stands for.
[[nodiscard]] MessagingError ChannelCloseError(const amqp_channel_close_t& close,
                                               std::string_view context);
[[nodiscard]] MessagingError ConnectionCloseError(const amqp_connection_close_t& close,
                                                  std::string_view context);

/// True for errors after which the channel is closed but the connection lives on.
[[nodiscard]] bool IsChannelError(const MessagingError& error) noexcept;

}  // namespace cppblog::messaging::amqp
