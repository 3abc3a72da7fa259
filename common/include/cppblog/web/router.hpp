#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/web/request.hpp"
#include "cppblog/web/response.hpp"

namespace cppblog::web {

/// A handler: a plain function from request to response. It may throw HttpError.
/// Runs on one of the server's I/O threads; it must be thread-safe.
using Handler = std::function<Response(const Request&)>;

/// Maps (method, path pattern) to handlers. Patterns are literal segments and
/// `{name}` parameters matching one non-empty segment: "/accounts/{accountId}".
/// Literal segments win over parameters. Build it, then share it read-only:
/// Dispatch is const and thread-safe.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// Registers a route; throws std::invalid_argument for a malformed pattern or a duplicate.
  Router& Add(Method method, std::string_view pattern, Handler handler);
  Router& Get(std::string_view pattern, Handler handler) {
    return Add(Method::kGet, pattern, std::move(handler));
  }
  Router& Post(std::string_view pattern, Handler handler) {
    return Add(Method::kPost, pattern, std::move(handler));
  }

  /// Finds the route, fills path_params and calls the handler. Unknown path → 404,
  /// known path with another method → 405 with `Allow`, HttpError → its status,
  /// any other exception → 500 (logged, the client sees a generic message). HEAD is served
  /// by the GET handler unless a HEAD route exists; the body stays in the response so the
  /// server can send its length, and the server sends no body. Never throws.
  [[nodiscard]] Response Dispatch(Request request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::web
