#include "cppblog/web/router.hpp"

#include <array>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "cppblog/web/http_error.hpp"

namespace cppblog::web {
namespace {

constexpr std::size_t kMethodCount = static_cast<std::size_t>(Method::kOther);
// Deeper patterns are rejected by Add, so matching can capture into a fixed array.
constexpr std::size_t kMaxParams = 16;
constexpr std::array kAllowOrder = {Method::kGet,    Method::kHead,  Method::kPost,   Method::kPut,
                                    Method::kDelete, Method::kPatch, Method::kOptions};

std::size_t Index(Method method) { return static_cast<std::size_t>(method); }
std::uint32_t Bit(Method method) { return 1U << Index(method); }

// One of the two is set.
struct Route {
  Handler handler;
  AsyncHandler async_handler;
};

struct Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> literals;
  std::unique_ptr<Node> param;
  // Set on nodes where a route ends.
  std::array<Route, kMethodCount> handlers;
  std::uint32_t methods = 0;
  std::vector<std::string> param_names;  // in path order, for the routes ending here
  std::string pattern;
  std::array<RouteRecorder*, kMethodCount> recorders{};  // set by Router::Observe

  [[nodiscard]] const Route* Find(Method method) const {
    if (method == Method::kOther) return nullptr;
    if (methods & Bit(method)) return &handlers[Index(method)];
    if (method == Method::kHead && (methods & Bit(Method::kGet))) {
      return &handlers[Index(Method::kGet)];
    }
    return nullptr;
  }
};

// One step of a path: the segment before the next '/', and what follows it.
struct Split {
  std::string_view segment;
  std::string_view rest;
  bool last;
};

Split NextSegment(std::string_view rest) {
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return {rest, {}, true};
  return {rest.substr(0, slash), rest.substr(slash + 1), false};
}

struct Match {
  const Node* node = nullptr;
  std::array<std::string_view, kMaxParams> values{};
  std::uint32_t allowed = 0;  // methods of routes whose path matched but whose method did not
};

// Depth-first, literal children before the parameter child: the first route that
// matches path and method wins, so literal segments beat parameters.
bool MatchFrom(const Node& node, std::string_view rest, bool at_end, std::size_t depth,
               Method method, Match& match) {
  if (at_end) {
    if (node.methods == 0) return false;
    if (node.Find(method) != nullptr) {
      match.node = &node;
      return true;
    }
    match.allowed |= node.methods;
    return false;
  }
  const Split split = NextSegment(rest);
  for (const auto& [literal, child] : node.literals) {
    if (literal == split.segment &&
        MatchFrom(*child, split.rest, split.last, depth, method, match)) {
      return true;
    }
  }
  if (node.param && !split.segment.empty() && depth < kMaxParams) {
    match.values[depth] = split.segment;
    return MatchFrom(*node.param, split.rest, split.last, depth + 1, method, match);
  }
  return false;
}

std::string AllowHeader(std::uint32_t methods) {
  if (methods & Bit(Method::kGet)) methods |= Bit(Method::kHead);
  std::string allow;
  for (const Method method : kAllowOrder) {
    if ((methods & Bit(method)) == 0) continue;
    if (!allow.empty()) allow += ", ";
    allow += ToString(method);
  }
  return allow;
}

// Answers Router::Dispatch(Request): keeps the response until the caller takes it.
class Capture final : public ResponseSink {
 public:
  void Complete(Response response) override {
    {
      const std::lock_guard lock{mutex_};
      response_ = std::move(response);
    }
    answered_.notify_all();
  }

  Response Wait() {
    std::unique_lock lock{mutex_};
    answered_.wait(lock, [this] { return response_.has_value(); });
    return std::move(*response_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable answered_;
  std::optional<Response> response_;
};

// Turns a plain function into a sink.
class FunctionSink final : public ResponseSink {
 public:
  explicit FunctionSink(std::function<void(Response)> complete) : complete_(std::move(complete)) {}
  void Complete(Response response) override { complete_(std::move(response)); }

 private:
  std::function<void(Response)> complete_;
};

Response InternalError() { return Response::Error(500, "internal server error"); }

}  // namespace

Responder::Responder(std::function<void(Response)> complete)
    : sink_(std::make_shared<FunctionSink>(std::move(complete))) {}

Responder::~Responder() {
  if (!sink_) return;
  spdlog::error(
      "an HTTP response was never sent: its responder was destroyed unsent; "
      "answering 500");
  try {
    Complete(InternalError());
  } catch (const std::exception& e) {
    spdlog::error("answering 500 for a dropped responder failed: {}", e.what());
  }
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    Responder dropped{std::move(*this)};  // answers 500 if it was still pending
    sink_ = std::move(other.sink_);
    recorder_ = other.recorder_;
    start_ = other.start_;
  }
  return *this;
}

void Responder::Send(Response response) {
  if (!sink_) {
    throw std::logic_error(
        "web::Responder::Send called on a responder that has already answered or was moved "
        "from");
  }
  Complete(std::move(response));
}

void Responder::Complete(Response response) {
  if (recorder_ != nullptr) {
    recorder_->Record(response.status, std::chrono::steady_clock::now() - start_);
  }
  // Emptied first: whatever Complete does, this responder has answered.
  const auto sink = std::move(sink_);
  sink->Complete(std::move(response));
}

struct Router::Impl {
  void Add(Method method, std::string_view pattern, Route route);
  void ObserveAll(Node& node);

  Node root;
  RouteObserver* observer = nullptr;
  std::array<RouteRecorder*, kMethodCount + 1> unmatched{};  // by request method; kOther last
};

void Router::Impl::ObserveAll(Node& node) {
  for (std::size_t i = 0; i < kMethodCount; ++i) {
    if (node.methods & (1U << i)) {
      node.recorders[i] = &observer->ForRoute(static_cast<Method>(i), node.pattern);
    }
  }
  for (auto& [literal, child] : node.literals) ObserveAll(*child);
  if (node.param) ObserveAll(*node.param);
}

Router& Router::Observe(RouteObserver& observer) {
  impl_->observer = &observer;
  for (std::size_t i = 0; i <= kMethodCount; ++i) {
    impl_->unmatched[i] = &observer.ForRoute(static_cast<Method>(i), "");
  }
  impl_->ObserveAll(impl_->root);
  return *this;
}

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router& Router::Add(Method method, std::string_view pattern, Handler handler) {
  impl_->Add(method, pattern, Route{.handler = std::move(handler), .async_handler = {}});
  return *this;
}

Router& Router::AddAsync(Method method, std::string_view pattern, AsyncHandler handler) {
  impl_->Add(method, pattern, Route{.handler = {}, .async_handler = std::move(handler)});
  return *this;
}

void Router::Impl::Add(Method method, std::string_view pattern, Route route) {
  const auto fail = [pattern](std::string_view why) {
    throw std::invalid_argument("route pattern '" + std::string(pattern) +
                                "': " + std::string(why));
  };
  if (method == Method::kOther) fail("method OTHER cannot be routed");
  if (!route.handler && !route.async_handler) fail("empty handler");
  if (pattern.empty() || pattern.front() != '/') fail("must start with '/'");

  Node* node = &root;
  std::vector<std::string> names;
  if (pattern != "/") {
    std::string_view rest = pattern.substr(1);
    for (bool last = false; !last;) {
      const Split split = NextSegment(rest);
      rest = split.rest;
      last = split.last;
      const std::string_view segment = split.segment;
      if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
        const std::string_view name = segment.substr(1, segment.size() - 2);
        if (name.empty() || name.find_first_of("{}") != std::string_view::npos) {
          fail("malformed parameter");
        }
        for (const auto& existing : names) {
          if (existing == name) fail("parameter named twice");
        }
        names.emplace_back(name);
        if (names.size() > kMaxParams) fail("too many parameters");
        if (!node->param) node->param = std::make_unique<Node>();
        node = node->param.get();
        continue;
      }
      if (segment.find_first_of("{}") != std::string_view::npos) {
        fail("a parameter must be a whole segment, like {name}");
      }
      Node* next = nullptr;
      for (auto& [literal, child] : node->literals) {
        if (literal == segment) next = child.get();
      }
      if (next == nullptr) {
        next = node->literals.emplace_back(std::string(segment), std::make_unique<Node>())
                   .second.get();
      }
      node = next;
    }
  }
  if (node->methods & Bit(method)) fail("duplicate route for " + std::string(ToString(method)));
  if (node->methods != 0 && node->param_names != names) {
    fail("parameter names differ from those of '" + node->pattern + "'");
  }
  node->handlers[Index(method)] = std::move(route);
  node->methods |= Bit(method);
  node->param_names = std::move(names);
  node->pattern = std::string(pattern);
  if (observer != nullptr) node->recorders[Index(method)] = &observer->ForRoute(method, pattern);
}

void Router::Dispatch(Request request, Responder responder) const {
  // Answers with `response` unless the handler has already taken the responder away.
  const auto answer = [&request, &responder](Response response, std::string_view failure) {
    if (responder.IsPending()) return responder.Send(std::move(response));
    spdlog::error("{} {} failed after its handler took the responder: {}", ToString(request.method),
                  request.path, failure);
  };
  const bool observed = impl_->observer != nullptr;
  const auto start =
      observed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  try {
    Match match;
    const std::string_view path = request.path;
    if (!path.empty() && path.front() == '/') {
      MatchFrom(impl_->root, path.substr(1), path.size() == 1, 0, request.method, match);
    }
    if (match.node == nullptr) {
      if (observed) responder.RecordWith(impl_->unmatched[Index(request.method)], start);
      if (match.allowed == 0) {
        return responder.Send(Response::Error(404, "no resource at " + request.path));
      }
      Response response =
          Response::Error(405, std::string("method ") + std::string(ToString(request.method)) +
                                   " is not allowed on " + request.path);
      response.headers.emplace_back("Allow", AllowHeader(match.allowed));
      return responder.Send(std::move(response));
    }
    const Node& node = *match.node;
    for (std::size_t i = 0; i < node.param_names.size(); ++i) {
      request.path_params.insert_or_assign(node.param_names[i], std::string(match.values[i]));
    }
    const Route& route = *node.Find(request.method);
    if (observed) {
      const Method routed = (node.methods & Bit(request.method)) ? request.method : Method::kGet;
      responder.RecordWith(node.recorders[Index(routed)], start);
    }
    if (route.handler) return responder.Send(route.handler(request));
    route.async_handler(request, responder);
    if (responder.IsPending()) {
      spdlog::error("{} {}: the handler returned without answering or keeping its responder",
                    ToString(request.method), request.path);
      responder.Send(InternalError());
    }
    return;
  } catch (const HttpError& e) {
    const int status = e.Status() >= 400 && e.Status() <= 599 ? e.Status() : 500;
    return answer(Response::Error(status, e.what()), e.what());
  } catch (const std::exception& e) {
    spdlog::error("{} {} failed: {}", ToString(request.method), request.path, e.what());
  } catch (...) {
    spdlog::error("{} {} failed with an exception of unknown type", ToString(request.method),
                  request.path);
  }
  if (responder.IsPending()) responder.Send(InternalError());
}

Response Router::Dispatch(Request request) const {
  auto capture = std::make_shared<Capture>();
  Dispatch(std::move(request), Responder{capture});
  return capture->Wait();
}

}  // namespace cppblog::web
