#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cppblog::messaging {

/// An amqp:// or amqps:// URL taken apart per the RabbitMQ URI specification.
struct AmqpUrl {
  bool tls = false;
  std::string user = "guest";
  std::string password = "guest";
  std::string host = "localhost";
  std::uint16_t port = 5672;
  std::string vhost = "/";
  /// From the query; empty when the URL does not say.
  std::optional<std::chrono::seconds> heartbeat{};
  std::optional<std::chrono::milliseconds> connection_timeout{};
  std::optional<std::string> ca_file{};    // cacertfile
  std::optional<std::string> cert_file{};  // certfile
  std::optional<std::string> key_file{};   // keyfile
  std::optional<bool> verify_peer{};       // verify=verify_peer|verify_none
};

/// Parses `amqp[s]://[user[:password]@]host[:port][/vhost][?key=value&...]`. User, password
/// and vhost are percent-decoded (`%2F` is the vhost "/"). As in the Go client, an empty
/// vhost (`amqp://host/`) means "/". Query keys: heartbeat (s), connection_timeout (ms),
/// cacertfile, certfile, keyfile, verify; channel_max, frame_max and
/// server_name_indication are accepted and ignored.
/// Throws MessagingError (kInvalidOptions) naming what is wrong, with the password masked.
[[nodiscard]] AmqpUrl ParseAmqpUrl(std::string_view url);

/// One URL or several separated by commas (`amqp://u:p@h1/%2F,amqp://u:p@h2/%2F`), each a
/// full URL: the addresses of one broker cluster. Only a comma followed by `amqp://` or
/// `amqps://` (or by nothing) separates entries. Throws MessagingError (kInvalidOptions)
/// naming the entry that does not parse, or the two entries whose user, password or vhost
/// differ; passwords masked.
[[nodiscard]] std::vector<AmqpUrl> ParseAmqpUrlList(std::string_view list);

/// The entries of such a list as written (not parsed), for display with MaskPassword.
[[nodiscard]] std::vector<std::string_view> SplitAmqpUrlList(std::string_view list);

/// "host:port" ("[::1]:5672" for IPv6): how logs and /health name a node. Never a password;
/// any character but letters, digits and `.-_:[]%` shows as '?', so it fits a log line or a
/// JSON string as it is.
[[nodiscard]] std::string NodeName(const AmqpUrl& url);

/// The URL with its password replaced by "***", for logs and errors. Never throws.
[[nodiscard]] std::string MaskPassword(std::string_view url);

}  // namespace cppblog::messaging
