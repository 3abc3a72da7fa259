// The configserver's path parsing: the file-name segment of GET [/{label}]/{app}-{profile}.ext
// and the changed paths of POST /monitor (webhook bodies from the git host, or anyone who can
// reach the endpoint). The first byte picks the kind of request; the rest is the body (and the
// path segment).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cppblog/web/http_error.hpp"
#include "cppblog/web/request.hpp"

#include "property_path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};
  using namespace cppblog::configserver;

  if (const auto file = ParseFileName(text)) {
    if (file->profiles.empty() || file->application.empty()) __builtin_trap();
  }
  static_cast<void>(Unslash(text));

  cppblog::web::Request request;
  request.method = cppblog::web::Method::kPost;
  request.path = "/monitor";
  request.body.assign(text);
  switch (data[0] % 6) {
    case 0:
      request.headers = {{"X-Github-Event", "push"}, {"Content-Type", "application/json"}};
      break;
    case 1:
      request.headers = {{"X-Gitlab-Event", "Push Hook"}, {"Content-Type", "application/json"}};
      break;
    case 2:
      request.headers = {{"X-Event-Key", "repo:push"}, {"X-Hook-UUID", "u"}};
      break;
    case 3:
      request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
      break;
    case 4:
      request.headers = {{"Content-Type", "application/json"}};
      break;
    default:
      break;
  }
  try {
    const auto paths = ExtractChangedPaths(request);
    const auto services = GuessServiceNames(paths);
    const auto destinations = RefreshDestinations(services);
    if (destinations.size() > kMaxRefreshDestinations) __builtin_trap();
  } catch (const cppblog::web::HttpError&) {  // BadRequest: the documented refusal
  }
  try {
    static_cast<void>(GuessServiceNames(text));
  } catch (const cppblog::web::HttpError&) {
  }
  return 0;
}
