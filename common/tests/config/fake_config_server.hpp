#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>

#include "cppblog/web/server.hpp"

namespace cppblog::config {

/// A config server in a test: a web::Server on 127.0.0.1:0 serving
/// `[/config]/{application}/{profile}[/{label}]`, answering what the test decides. Records
/// the requests it got. Stopped and joined on destruction.
class FakeConfigServer {
 public:
  /// Decides the answer to the n-th request (counted from 1).
  using Handler = std::function<web::Response(const web::Request&, int request_number)>;

  /// Answers 200 with the body last given to Serve ("{}" before).
  FakeConfigServer() : FakeConfigServer(Handler{}) {}
  explicit FakeConfigServer(Handler handler)
      : handler_(std::move(handler)),
        server_({.address = "127.0.0.1", .port = 0, .threads = 2}, MakeRouter()),
        run_(std::async(std::launch::async, [this] { server_.Run(); })) {}
  ~FakeConfigServer() {
    server_.Stop();
    run_.wait();
  }
  FakeConfigServer(const FakeConfigServer&) = delete;
  FakeConfigServer& operator=(const FakeConfigServer&) = delete;

  void Serve(std::string body) {
    const std::lock_guard lock{mutex_};
    body_ = std::move(body);
  }
  [[nodiscard]] std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(server_.Port());
  }
  [[nodiscard]] std::uint16_t Port() const { return server_.Port(); }
  [[nodiscard]] int Requests() const { return requests_.load(); }
  [[nodiscard]] std::string LastPath() const {
    const std::lock_guard lock{mutex_};
    return last_path_;
  }
  [[nodiscard]] std::string LastHeader(const std::string& name) const {
    const std::lock_guard lock{mutex_};
    const auto it = last_headers_.find(name);
    return it == last_headers_.end() ? std::string{} : it->second;
  }

 private:
  web::Router MakeRouter() {
    web::Router router;
    const auto handle = [this](const web::Request& request) {
      std::string body;
      {
        const std::lock_guard lock{mutex_};
        last_path_ = request.path;
        for (const char* name : {"Accept", "Authorization"}) {
          last_headers_[name] = std::string(request.Header(name).value_or(""));
        }
        body = body_;
      }
      const int number = ++requests_;
      return handler_ ? handler_(request, number) : web::Response::Json(200, body);
    };
    router.Get("/{application}/{profile}/{label}", handle);
    router.Get("/{application}/{profile}", handle);
    router.Get("/config/{application}/{profile}/{label}", handle);  // behind a path prefix
    return router;
  }

  Handler handler_;
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::string body_ = "{}";
  std::string last_path_;
  std::map<std::string, std::string> last_headers_;
  web::Server server_;
  std::future<void> run_;
};

/// A server that answers every request with `json`.
inline FakeConfigServer::Handler Serving(std::string json) {
  return
      [json = std::move(json)](const web::Request&, int) { return web::Response::Json(200, json); };
}

}  // namespace cppblog::config
