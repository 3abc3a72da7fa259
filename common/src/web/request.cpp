#include "cppblog/web/request.hpp"

#include <algorithm>
#include <stdexcept>

#include "cppblog/web/http_error.hpp"

#include "target.hpp"

namespace cppblog::web {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

}  // namespace

namespace detail {

bool ParseTarget(std::string_view target, std::string& path, std::string& query) {
  if (target.empty()) return false;
  if (target.front() != '/') {
    // absolute-form: scheme "://" authority path-abempty [ "?" query ]
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
    target.remove_prefix(scheme_end + 3);
    const auto path_start = target.find_first_of("/?");
    if (path_start == std::string_view::npos) {
      target = "/";
    } else if (target[path_start] == '?') {
      path = "/";
      query.assign(target.substr(path_start + 1));
      return true;
    } else {
      target.remove_prefix(path_start);
    }
  }
  const auto question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  if (question == std::string_view::npos) {
    query.clear();
  } else {
    query.assign(target.substr(question + 1));
  }
  path.clear();
  path.reserve(raw_path.size());
  for (std::size_t i = 0; i < raw_path.size(); ++i) {
    const char c = raw_path[i];
    if (c != '%') {
      path.push_back(c);
      continue;
    }
    if (i + 2 >= raw_path.size()) return false;
    const int high = HexValue(raw_path[i + 1]);
    const int low = HexValue(raw_path[i + 2]);
    if (high < 0 || low < 0) return false;
    path.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

}  // namespace detail

std::string_view ToString(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kPatch:
      return "PATCH";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "OTHER";
}

std::string_view Request::PathParam(std::string_view name) const {
  const auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view{} : std::string_view{it->second};
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return std::string_view{value};
  }
  return std::nullopt;
}

Request MakeRequest(Method method, std::string_view target, std::string body) {
  Request request;
  request.method = method;
  if (!detail::ParseTarget(target, request.path, request.query)) {
    throw BadRequest("malformed request target '" + std::string(target) + "'");
  }
  request.body = std::move(body);
  return request;
}

}  // namespace cppblog::web
