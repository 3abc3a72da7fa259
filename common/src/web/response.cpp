#include "cppblog/web/response.hpp"

#include <boost/json/serialize.hpp>

namespace cppblog::web {

Response Response::Json(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Response Response::Text(int status, std::string body) {
  Response response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

Response Response::Error(int status, std::string_view message) {
  std::string body = "{\"error\":";
  body += boost::json::serialize(boost::json::string_view{message.data(), message.size()});
  body += '}';
  return Json(status, std::move(body));
}

}  // namespace cppblog::web
