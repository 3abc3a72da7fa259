// HTTP request targets and route matching: every client chooses the target. The first byte
// picks the method; the rest is the target, parsed as the server parses it and dispatched
// through a router holding the services' route patterns. Also the target as a route pattern
// (a refusal is std::invalid_argument, never a crash).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "cppblog/web/http_error.hpp"
#include "cppblog/web/request.hpp"
#include "cppblog/web/router.hpp"

#include "target.hpp"

namespace {

using cppblog::web::Method;
using cppblog::web::Request;
using cppblog::web::Response;

Response Echo(const Request& request) {
  std::string body = request.path + '\n' + request.query;
  for (const auto& [name, value] : request.path_params) body += '\n' + name + '=' + value;
  return Response::Text(200, std::move(body));
}

cppblog::web::Router MakeRouter() {
  cppblog::web::Router router;
  for (const std::string_view pattern :
       {"/health", "/metrics", "/accounts/{accountId}", "/accounts/{accountId}/vip", "/offers",
        "/offers/{offerId}", "/{file}", "/{first}/{second}", "/{application}/{profile}/{label}",
        "/actuator/busrefresh/{destination}"}) {
    router.Get(pattern, Echo);
  }
  router.Post("/monitor", Echo).Post("/actuator/busrefresh", Echo);
  router.AddAsync(Method::kPut, "/accounts/{accountId}",
                  [](const Request& request, cppblog::web::Responder& responder) {
                    if (request.PathParam("accountId") == "0") {
                      throw cppblog::web::BadRequest("zero");
                    }
                    responder.Send(Echo(request));
                  });
  return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const cppblog::web::Router router = [] {
    spdlog::set_level(spdlog::level::off);
    return MakeRouter();
  }();
  if (size == 0) return 0;
  constexpr Method kMethods[] = {Method::kGet,    Method::kHead,  Method::kPost,    Method::kPut,
                                 Method::kDelete, Method::kPatch, Method::kOptions, Method::kOther};
  const Method method = kMethods[data[0] % std::size(kMethods)];
  const std::string_view target{reinterpret_cast<const char*>(data) + 1, size - 1};

  Request request;
  request.method = method;
  if (cppblog::web::detail::ParseTarget(target, request.path, request.query)) {
    const Response response = router.Dispatch(std::move(request));
    if (response.status < 100 || response.status > 599) __builtin_trap();
  }
  try {
    static_cast<void>(cppblog::web::MakeRequest(method, target));
  } catch (const cppblog::web::BadRequest&) {  // the documented refusal
  }
  try {
    cppblog::web::Router patterns;
    patterns.Get(target, Echo);
  } catch (const std::invalid_argument&) {  // a malformed pattern
  }
  return 0;
}
