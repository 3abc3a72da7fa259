#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cppblog::web {

/// An HTTP response as handlers build it. The server adds the framing itself
/// (Content-Length, Date, Connection) and drops a handler's header of those names, one whose
/// name is not an HTTP token, and one whose value holds CR, LF or NUL. A status outside
/// 100..999 is sent as 500.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow

  /// A JSON body that is already serialised.
  [[nodiscard]] static Response Json(int status, std::string body);
  /// A text/plain body.
  [[nodiscard]] static Response Text(int status, std::string body);
  /// {"error":"<message>"} with the message JSON-escaped and bytes that are not UTF-8 replaced
  /// by U+FFFD, so the body is valid JSON whatever the message echoes.
  [[nodiscard]] static Response Error(int status, std::string_view message);
};

}  // namespace cppblog::web
