#pragma once

#include <stdexcept>
#include <string>

namespace cppblog::web {

/// Thrown by a handler to answer with `status` and {"error": what()}.
/// The router catches it; any other exception becomes a 500 with a generic body.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  [[nodiscard]] int Status() const noexcept { return status_; }

 private:
  int status_;
};

class BadRequest : public HttpError {
 public:
  explicit BadRequest(const std::string& message) : HttpError(400, message) {}
};

class NotFound : public HttpError {
 public:
  explicit NotFound(const std::string& message) : HttpError(404, message) {}
};

}  // namespace cppblog::web
