#pragma once

#include <stdexcept>
#include <string>

namespace cppblog::messaging {

/// What went wrong, for callers that react differently (retry later vs. fix the config).
enum class MessagingErrorKind {
  kInvalidOptions,      // bad URL, unreadable password file, bad TLS files: fix the configuration
  kConnectionLost,      // the broker went away or could not be reached
  kAuthentication,      // login refused (user, password, vhost)
  kPreconditionFailed,  // a declaration differs from the broker's (PRECONDITION_FAILED)
  kNotFound,            // NOT_FOUND (an exchange or queue that does not exist)
  kAccessRefused,       // ACCESS_REFUSED, RESOURCE_LOCKED (exclusive queue of another connection)
  kChannelClosed,       // any other channel error the broker reported
  kTimeout,             // no confirm within the publish timeout
  kNacked,              // the broker refused the message (basic.nack)
  kUnroutable,          // a mandatory message matched no queue (basic.return)
  kBufferFull,          // too many publishes waiting for a confirm
  kClosed,              // the client is closing or closed
};

/// The one exception type of cppblog::messaging. The message names the operation and, for
/// broker errors, the broker's reply text (which names the queue or exchange and the argument
/// that differs). It never contains a password.
class MessagingError : public std::runtime_error {
 public:
  MessagingError(MessagingErrorKind kind, const std::string& what)
      : std::runtime_error(what), kind_(kind) {}

  [[nodiscard]] MessagingErrorKind kind() const noexcept { return kind_; }

 private:
  MessagingErrorKind kind_;
};

}  // namespace cppblog::messaging
