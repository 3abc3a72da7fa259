#include "cppblog/web/response.hpp"

#include "cppblog/text/escape.hpp"

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
  text::AppendJsonString(body, message);  // messages echo paths and values: any bytes
  body += '}';
  return Json(status, std::move(body));
}

}  // namespace cppblog::web
