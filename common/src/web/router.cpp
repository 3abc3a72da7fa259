#include "cppblog/web/router.hpp"

#include <array>
#include <cstdint>
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

struct Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> literals;
  std::unique_ptr<Node> param;
  // Set on nodes where a route ends.
  std::array<Handler, kMethodCount> handlers;
  std::uint32_t methods = 0;
  std::vector<std::string> param_names;  // in path order, for the routes ending here
  std::string pattern;

  [[nodiscard]] const Handler* Find(Method method) const {
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

}  // namespace

struct Router::Impl {
  Node root;
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router& Router::Add(Method method, std::string_view pattern, Handler handler) {
  const auto fail = [pattern](std::string_view why) {
    throw std::invalid_argument("route pattern '" + std::string(pattern) +
                                "': " + std::string(why));
  };
  if (method == Method::kOther) fail("method OTHER cannot be routed");
  if (!handler) fail("empty handler");
  if (pattern.empty() || pattern.front() != '/') fail("must start with '/'");

  Node* node = &impl_->root;
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
  node->handlers[Index(method)] = std::move(handler);
  node->methods |= Bit(method);
  node->param_names = std::move(names);
  node->pattern = std::string(pattern);
  return *this;
}

Response Router::Dispatch(Request request) const {
  try {
    Match match;
    const std::string_view path = request.path;
    if (!path.empty() && path.front() == '/') {
      MatchFrom(impl_->root, path.substr(1), path.size() == 1, 0, request.method, match);
    }
    if (match.node == nullptr) {
      if (match.allowed == 0) {
        return Response::Error(404, "no resource at " + request.path);
      }
      Response response =
          Response::Error(405, std::string("method ") + std::string(ToString(request.method)) +
                                   " is not allowed on " + request.path);
      response.headers.emplace_back("Allow", AllowHeader(match.allowed));
      return response;
    }
    const Node& node = *match.node;
    for (std::size_t i = 0; i < node.param_names.size(); ++i) {
      request.path_params.insert_or_assign(node.param_names[i], std::string(match.values[i]));
    }
    return (*node.Find(request.method))(request);
  } catch (const HttpError& e) {
    const int status = e.Status() >= 400 && e.Status() <= 599 ? e.Status() : 500;
    return Response::Error(status, e.what());
  } catch (const std::exception& e) {
    spdlog::error("{} {} failed: {}", ToString(request.method), request.path, e.what());
  } catch (...) {
    spdlog::error("{} {} failed with an exception of unknown type", ToString(request.method),
                  request.path);
  }
  return Response::Error(500, "internal server error");
}

}  // namespace cppblog::web
