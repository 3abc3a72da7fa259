#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/web/request.hpp"
#include "cppblog/web/response.hpp"

namespace cppblog::web {

/// Where a Responder delivers its response: the server's connection, or a caller's capture.
/// Complete is called exactly once, on the thread that answers, and must not throw.
class ResponseSink {
 public:
  virtual void Complete(Response response) = 0;

 protected:
  ResponseSink() = default;
  ~ResponseSink() = default;
  ResponseSink(const ResponseSink&) = default;
  ResponseSink& operator=(const ResponseSink&) = default;
};

/// Records how requests of one route ended (for metrics). Record is called once per request,
/// on the thread that answers it; it must be cheap, thread-safe and must not throw.
class RouteRecorder {
 public:
  virtual void Record(int status, std::chrono::steady_clock::duration elapsed) noexcept = 0;

 protected:
  RouteRecorder() = default;
  ~RouteRecorder() = default;
  RouteRecorder(const RouteRecorder&) = default;
  RouteRecorder& operator=(const RouteRecorder&) = default;
};

/// Gives each route of a Router its recorder, once, when the route is known: `pattern` is the
/// route's template ("/accounts/{accountId}"), or empty for requests that match no route
/// (404, 405). The recorders must outlive the router.
class RouteObserver {
 public:
  virtual RouteRecorder& ForRoute(Method method, std::string_view pattern) = 0;

 protected:
  RouteObserver() = default;
  ~RouteObserver() = default;
  RouteObserver(const RouteObserver&) = default;
  RouteObserver& operator=(const RouteObserver&) = default;
};

/// The right to answer one request, exactly once, from any thread. Move-only: whoever holds
/// it owes the answer. Destroyed without having sent (a bug in the handler), it answers 500
/// and logs an error, so a client is never left waiting on a forgotten request.
class Responder {
 public:
  explicit Responder(std::shared_ptr<ResponseSink> sink) noexcept : sink_(std::move(sink)) {}
  /// Delivers to `complete`, run on the thread that calls Send.
  explicit Responder(std::function<void(Response)> complete);
  ~Responder();
  Responder(Responder&& other) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  /// Answers the request. Throws std::logic_error when it has already answered or was
  /// moved from.
  void Send(Response response);

  /// True until Send is called or the responder is moved from.
  [[nodiscard]] bool IsPending() const noexcept { return sink_ != nullptr; }

  /// The answer (whichever it is, a dropped responder's 500 too) is recorded with `recorder`,
  /// timed from `start`. The Router sets this for observed routes.
  void RecordWith(RouteRecorder* recorder, std::chrono::steady_clock::time_point start) noexcept {
    recorder_ = recorder;
    start_ = start;
  }

 private:
  void Complete(Response response);

  std::shared_ptr<ResponseSink> sink_;
  RouteRecorder* recorder_ = nullptr;
  std::chrono::steady_clock::time_point start_{};
};

/// A handler: a plain function from request to response. It may throw HttpError.
/// Runs on one of the server's I/O threads; it must be thread-safe.
using Handler = std::function<Response(const Request&)>;

/// A handler that answers later: it either calls responder.Send before returning, or moves
/// the responder to whatever finishes the work (another thread, a completion callback), which
/// sends it from there. The request is only valid during the call: copy what is needed later.
/// HttpError (or any exception) thrown while it still holds the responder is answered like a
/// plain handler's; thrown after it moved the responder away, it is only logged. Taking the
/// responder by reference is on purpose: a by-value parameter would be destroyed, answering
/// 500, before the router could map the exception. Runs on an I/O thread; must not block.
using AsyncHandler = std::function<void(const Request&, Responder&)>;

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
  Router& AddAsync(Method method, std::string_view pattern, AsyncHandler handler);
  Router& Get(std::string_view pattern, Handler handler) {
    return Add(Method::kGet, pattern, std::move(handler));
  }
  Router& GetAsync(std::string_view pattern, AsyncHandler handler) {
    return AddAsync(Method::kGet, pattern, std::move(handler));
  }
  Router& Post(std::string_view pattern, Handler handler) {
    return Add(Method::kPost, pattern, std::move(handler));
  }

  /// Every request from now on is recorded with `observer`'s recorder for its route (routes
  /// added before and after this call). Call it while building the router, before sharing it.
  /// HEAD requests served by a GET route count as that route's GET.
  Router& Observe(RouteObserver& observer);

  /// Finds the route, fills path_params and calls the handler; the response goes to
  /// `responder`, at once for a plain handler, whenever it answers for an async one.
  /// Unknown path → 404, known path with another method → 405 with `Allow`, HttpError → its
  /// status, any other exception → 500 (logged, the client sees a generic message). HEAD is
  /// served by the GET handler unless a HEAD route exists; the body stays in the response so
  /// the server can send its length, and the server sends no body. Never throws.
  void Dispatch(Request request, Responder responder) const;

  /// The same, for synchronous callers (tests, tools): returns the response, waiting for an
  /// async handler to answer from wherever it does. Never throws.
  [[nodiscard]] Response Dispatch(Request request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::web
