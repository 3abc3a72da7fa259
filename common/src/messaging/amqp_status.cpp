#include "amqp_status.hpp"

#include <string>

namespace cppblog::messaging::amqp {
namespace {

std::string Join(std::string_view context, std::string_view detail) {
  std::string out(context);
  out += ": ";
  out += detail;
  return out;
}

MessagingErrorKind KindOfChannelCode(std::uint16_t code) {
  switch (code) {
    case AMQP_PRECONDITION_FAILED:
      return MessagingErrorKind::kPreconditionFailed;
    case AMQP_NOT_FOUND:
      return MessagingErrorKind::kNotFound;
    case AMQP_ACCESS_REFUSED:
    case AMQP_RESOURCE_LOCKED:
      return MessagingErrorKind::kAccessRefused;
    default:
      return MessagingErrorKind::kChannelClosed;
  }
}

}  // namespace

void ThrowStatus(int status, std::string_view context) {
  const MessagingErrorKind kind =
      status == AMQP_STATUS_INVALID_PARAMETER || status == AMQP_STATUS_SSL_SET_ENGINE_FAILED
          ? MessagingErrorKind::kInvalidOptions
          : MessagingErrorKind::kConnectionLost;
  throw MessagingError(kind, Join(context, amqp_error_string2(status)));
}

void CheckStatus(int status, std::string_view context) {
  if (status < 0) ThrowStatus(status, context);
}

MessagingError ChannelCloseError(const amqp_channel_close_t& close, std::string_view context) {
  return MessagingError(KindOfChannelCode(close.reply_code),
                        Join(context, ToString(close.reply_text)));
}

MessagingError ConnectionCloseError(const amqp_connection_close_t& close,
                                    std::string_view context) {
  // 403 during login: wrong user or password; 530: the vhost does not exist or is not allowed.
  const bool refused =
      close.reply_code == AMQP_ACCESS_REFUSED || close.reply_code == AMQP_NOT_ALLOWED;
  return MessagingError(
      refused ? MessagingErrorKind::kAuthentication : MessagingErrorKind::kConnectionLost,
      Join(context, "connection closed by the broker: " + ToString(close.reply_text)));
}

void CheckReply(const amqp_rpc_reply_t& reply, std::string_view context) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      throw MessagingError(MessagingErrorKind::kConnectionLost,
                           Join(context, "no reply from the broker"));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      ThrowStatus(reply.library_error, context);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD && reply.reply.decoded != nullptr) {
        throw ChannelCloseError(*static_cast<const amqp_channel_close_t*>(reply.reply.decoded),
                                context);
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD && reply.reply.decoded != nullptr) {
        throw ConnectionCloseError(
            *static_cast<const amqp_connection_close_t*>(reply.reply.decoded), context);
      }
      throw MessagingError(MessagingErrorKind::kConnectionLost,
                           Join(context, "unexpected reply from the broker"));
  }
  throw MessagingError(MessagingErrorKind::kConnectionLost, Join(context, "unknown reply"));
}

bool IsChannelError(const MessagingError& error) noexcept {
  switch (error.kind()) {
    case MessagingErrorKind::kPreconditionFailed:
    case MessagingErrorKind::kNotFound:
    case MessagingErrorKind::kAccessRefused:
    case MessagingErrorKind::kChannelClosed:
      return true;
    default:
      return false;
  }
}

}  // namespace cppblog::messaging::amqp
