#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "cppblog/web/response.hpp"

namespace cppblog::web::detail {

/// The HTTP version of the request being answered. The status line always says HTTP/1.1 (the
/// server's own version, RFC 9112 section 2.5); the version changes only how keep-alive is said.
enum class HttpVersion { kHttp10, kHttp11 };

/// Whether the connection stays open after the response.
enum class Persistence { kKeepAlive, kClose };

struct HeadOptions {
  HttpVersion version = HttpVersion::kHttp11;
  Persistence persistence = Persistence::kKeepAlive;
  /// The Date header's value, an IMF-fixdate as FormatHttpDate writes it.
  std::string_view date;
};

/// The status written on the status line: `status`, or 500 when it is outside 100..999 (a
/// handler's mistake must not produce a status line clients cannot parse).
[[nodiscard]] int WireStatus(int status);

/// True when a response with this status has a body, and so Content-Type and Content-Length:
/// every final status but 204 and 304 (RFC 9110 section 6.4.1).
[[nodiscard]] bool BodyAllowed(int status);

/// Writes the response's status line and headers, through the empty line that ends them, into
/// `out` (cleared first, its capacity reused). Pure; the body is not written. A HEAD request's
/// answer has the same head as the GET's (the caller leaves the body out).
///
/// - Status line: "HTTP/1.1 <WireStatus> <reason>"; an unregistered status has the reason
///   "Unknown".
/// - Content-Type (when not empty) and Content-Length (the body's size) when
///   BodyAllowed(WireStatus(status)); the caller sends the body in that case only.
/// - Date, then the handler's headers in their order, then Connection: "close" for
///   Persistence::kClose, "keep-alive" for a kept HTTP/1.0 connection, none for HTTP/1.1.
/// - A handler's header is dropped when its name is not an RFC 9110 token (empty, a space, a
///   colon, CR, LF...) or its value holds CR, LF or NUL (no response splitting), and when it
///   names what the server writes itself: Content-Length, Transfer-Encoding, Connection, Date
///   (a second Content-Length would let a proxy frame the response differently). A
///   Content-Type with CR, LF or NUL in it is dropped too.
void FormatResponseHead(const Response& response, const HeadOptions& options, std::string& out);

/// A whole response that closes the connection, head and body, dated now: for the answers the
/// server writes itself outside a session's flow (503 on refusal, 408 on a request timeout).
[[nodiscard]] std::string FormatClosingResponse(const Response& response);

/// `time` as an HTTP date (IMF-fixdate, RFC 9110 section 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string FormatHttpDate(std::time_t time);

}  // namespace cppblog::web::detail
