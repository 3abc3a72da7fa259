#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cppblog::web {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

/// The method's name as on the wire ("GET"); "OTHER" for kOther.
[[nodiscard]] std::string_view ToString(Method method);

/// An HTTP request as handlers see it: no Beast type crosses this line.
struct Request {
  Method method = Method::kGet;
  std::string path;   // the target's path, percent-decoded, without the query
  std::string query;  // the raw query string after '?', empty when absent
  std::vector<std::pair<std::string, std::string>> headers;  // names as received
  std::string body;
  /// Filled by Router::Dispatch from the matched pattern ("/accounts/{accountId}").
  std::map<std::string, std::string, std::less<>> path_params;

  /// The value of a path parameter of the matched route; empty when the route has none by that
  /// name.
  [[nodiscard]] std::string_view PathParam(std::string_view name) const;
  /// The first header of that name, compared case-insensitively.
  [[nodiscard]] std::optional<std::string_view> Header(std::string_view name) const;
};

/// Builds a request from a target such as "/accounts/10000?x=1"; for tests and clients.
[[nodiscard]] Request MakeRequest(Method method, std::string_view target, std::string body = {});
[[nodiscard]] inline Request Get(std::string_view target) {
  return MakeRequest(Method::kGet, target);
}
[[nodiscard]] inline Request Post(std::string_view target, std::string body) {
  return MakeRequest(Method::kPost, target, std::move(body));
}

}  // namespace cppblog::web
