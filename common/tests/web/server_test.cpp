#include "cppblog/web/server.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cppblog/web/http_error.hpp"

namespace cppblog::web {
namespace {

using namespace std::chrono_literals;

// How long a test waits for anything before it fails.
constexpr auto kMaxWait = 5s;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  [[nodiscard]] std::string HeaderValue(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

/// Whether a response has the body its Content-Length announces, or none (HEAD, 100 Continue).
enum class Body { kAsFramed, kNone };

/// A blocking HTTP/1.1 client on a POSIX socket; every receive gives up after kMaxWait.
class Client {
 public:
  explicit Client(std::uint16_t port, const char* ipv4 = "127.0.0.1")
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    timeval timeout{.tv_sec = std::chrono::seconds(kMaxWait).count(), .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, ipv4, &address.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect() failed");
    }
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends everything; false when the peer no longer accepts data.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  /// Reads one response; nullopt on end of stream or timeout.
  std::optional<Reply> Read(Body body = Body::kAsFramed) {
    std::size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    Reply reply;
    const std::string head_text = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    std::size_t line_end = head_text.find("\r\n");
    const std::string status_line = head_text.substr(0, line_end);
    reply.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head_text.find("\r\n", start);
      const std::string line = head_text.substr(start, line_end - start);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    const std::string length_text = reply.HeaderValue("content-length");
    const std::size_t length =
        body == Body::kNone || length_text.empty() ? 0 : std::stoul(length_text);
    while (pending_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    reply.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return reply;
  }

  /// True when the server closes the connection within kMaxWait (unread data is dropped).
  bool WaitClosed() {
    pending_.clear();
    while (Fill()) pending_.clear();
    return closed_;
  }

  [[nodiscard]] const std::string& Unread() const { return pending_; }

  /// True when something (data, the end of the stream, an error) can be read within `timeout`.
  bool WaitReadable(std::chrono::milliseconds timeout) {
    if (!pending_.empty()) return true;
    pollfd entry{.fd = fd_, .events = POLLIN, .revents = 0};
    return ::poll(&entry, 1, static_cast<int>(timeout.count())) > 0;
  }

  /// The server's answer to a request it refuses or times out: its status, or 0 when it
  /// closed the connection without one (the connection is then closed in either case).
  int StatusOrClosed() {
    const auto reply = Read();
    if (reply) return WaitClosed() ? reply->status : -1;
    return closed_ ? 0 : -1;
  }

 private:
  bool Fill() {
    char chunk[16 * 1024];
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got == 0 || (got < 0 && errno == ECONNRESET)) closed_ = true;
    if (got <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  int fd_;
  std::string pending_;
  bool closed_ = false;
};

ServerOptions TestOptions() { return {.address = "127.0.0.1", .port = 0, .threads = 2}; }

/// A server running Run() on another thread; stopped and joined on destruction.
class RunningServer {
 public:
  RunningServer(ServerOptions options, Router router)
      : server_(std::move(options), std::move(router)),
        run_(std::async(std::launch::async, [this] { server_.Run(); })) {}
  ~RunningServer() {
    server_.Stop();
    run_.wait();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  [[nodiscard]] std::uint16_t Port() const { return server_.Port(); }
  Server& Get() { return server_; }
  std::future<void>& RunResult() { return run_; }

 private:
  Server server_;
  std::future<void> run_;
};

Router EchoRouter() {
  Router router;
  router.Get("/accounts/{accountId}", [](const Request& request) {
    return Response::Json(200, "{\"id\":\"" + std::string(request.PathParam("accountId")) + "\"}");
  });
  router.Post("/echo", [](const Request& request) { return Response::Text(200, request.body); });
  return router;
}

/// Where an async route parks its responders until the test answers them.
class Parked {
 public:
  AsyncHandler Handler() {
    return [this](const Request& request, Responder& responder) {
      {
        const std::lock_guard lock{mutex_};
        parked_.emplace_back(request.path, std::move(responder));
      }
      arrived_.notify_all();
    };
  }

  /// The oldest parked responder and its path; nullopt when none arrives within kMaxWait.
  std::optional<std::pair<std::string, Responder>> Take() {
    std::unique_lock lock{mutex_};
    if (!arrived_.wait_for(lock, kMaxWait, [this] { return !parked_.empty(); })) {
      return std::nullopt;
    }
    auto oldest = std::move(parked_.front());
    parked_.pop_front();
    return oldest;
  }

  [[nodiscard]] std::size_t Count() {
    const std::lock_guard lock{mutex_};
    return parked_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<std::pair<std::string, Responder>> parked_;
};

std::string GetRequest(std::string_view target, std::string_view extra_headers = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

TEST(Server, PortIsTheBoundEphemeralPort) {
  RunningServer server(TestOptions(), EchoRouter());

  EXPECT_NE(server.Port(), 0);
}

TEST(Server, KeepAliveServesManyRequestsOnOneConnection) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  for (int i = 0; i < 200; ++i) {
    const std::string id = std::to_string(10000 + i);
    ASSERT_TRUE(client.Send(GetRequest("/accounts/" + id)));
    const auto reply = client.Read();
    ASSERT_TRUE(reply.has_value()) << "request " << i;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "{\"id\":\"" + id + "\"}");
    EXPECT_EQ(reply->HeaderValue("content-type"), "application/json");
    EXPECT_EQ(reply->HeaderValue("connection"), "");
  }
}

TEST(Server, PipelinedRequestsAreAnsweredInOrder) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/accounts/1") + GetRequest("/accounts/2") +
                          GetRequest("/accounts/3")));

  for (const char* id : {"1", "2", "3"}) {
    const auto reply = client.Read();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body, std::string("{\"id\":\"") + id + "\"}");
  }
}

TEST(Server, RouterErrorsReachTheClient) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/nothing") + "DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n"));

  const auto not_found = client.Read();
  ASSERT_TRUE(not_found.has_value());
  EXPECT_EQ(not_found->status, 404);
  const auto not_allowed = client.Read();
  ASSERT_TRUE(not_allowed.has_value());
  EXPECT_EQ(not_allowed->status, 405);
  EXPECT_EQ(not_allowed->HeaderValue("allow"), "POST");
}

TEST(Server, PostBodyReachesHandler) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->body, "hello");
  EXPECT_EQ(reply->HeaderValue("content-type"), "text/plain");
}

TEST(Server, ChunkedBodyReachesHandler) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->body, "abcde");
}

TEST(Server, ExpectContinueGetsInterimResponse) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  const auto interim = client.Read(Body::kNone);
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Send("abc"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "abc");
}

TEST(Server, HeadSendsLengthWithoutBody) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(
      client.Send("HEAD /accounts/7 HTTP/1.1\r\nHost: t\r\n\r\n" + GetRequest("/accounts/8")));

  const auto head = client.Read(Body::kNone);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->HeaderValue("content-length"), "10");
  // Had the server sent the HEAD body, this would read it instead of the next response.
  const auto next = client.Read();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "{\"id\":\"8\"}");
}

TEST(Server, NoContentAndABadStatusAreFramedSoTheConnectionStaysUsable) {
  Router router = EchoRouter();
  router.Get("/empty", [](const Request&) { return Response::Text(204, "not sent"); });
  router.Get("/odd", [](const Request&) { return Response::Text(42, "oops"); });
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/empty") + GetRequest("/odd") + GetRequest("/accounts/8")));

  const auto empty = client.Read();
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->status, 204);
  EXPECT_EQ(empty->HeaderValue("content-length"), "");
  // Had the server sent the 204's body, this would read it instead of the next response.
  const auto odd = client.Read();
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->status, 500);  // a status outside 100..999 is sent as 500, with its body framed
  EXPECT_EQ(odd->HeaderValue("content-length"), "4");
  EXPECT_EQ(odd->body, "oops");
  const auto next = client.Read();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "{\"id\":\"8\"}");
}

TEST(Server, AHeaderValueWithALineBreakIsDroppedNotSent) {
  Router router = EchoRouter();
  router.Get("/echo-header", [](const Request&) {
    Response response = Response::Text(200, "body");
    response.headers.emplace_back("X-Echo", "x\r\nSet-Cookie: s=1");
    response.headers.emplace_back("X-Kept", "1");
    return response;
  });
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/echo-header")));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_FALSE(reply->headers.contains("x-echo"));
  EXPECT_FALSE(reply->headers.contains("set-cookie"));
  EXPECT_EQ(reply->HeaderValue("x-kept"), "1");
  EXPECT_EQ(reply->body, "body");
}

TEST(Server, LargeResponseIsWrittenCompletely) {
  std::string big(16 * 1024 * 1024, 'x');
  big.back() = 'y';
  Router router;
  router.Get("/big", [&big](const Request&) { return Response::Text(200, big); });
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());

  // Larger than a socket's send buffer: the server must finish the write asynchronously.
  ASSERT_TRUE(client.Send(GetRequest("/big") + GetRequest("/big")));

  for (int i = 0; i < 2; ++i) {
    const auto reply = client.Read();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body.size(), big.size());
    EXPECT_TRUE(reply->body == big);
  }
}

TEST(Server, ConnectionCloseIsHonoured) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/accounts/1", "Connection: close\r\n")));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->HeaderValue("connection"), "close");
  EXPECT_TRUE(client.WaitClosed());
}

TEST(Server, Http10KeepAliveIsAnswered) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send("GET /accounts/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->HeaderValue("connection"), "keep-alive");
}

TEST(Server, OversizedHeadersGet431AndClose) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(
      "GET /accounts/1 HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9 * 1024, 'a') + "\r\n\r\n"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 431);
  EXPECT_EQ(reply->HeaderValue("connection"), "close");
  EXPECT_TRUE(client.WaitClosed());
}

TEST(Server, OversizedBodyGets413AndClose) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(1024 * 1024 + 1) +
      "\r\n\r\n" + std::string(64 * 1024, 'b')));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 413);
  EXPECT_TRUE(client.WaitClosed());
}

TEST(Server, OversizedChunkedBodyGets413) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());
  const std::string chunk(256 * 1024, 'c');
  std::string request = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) request += "40000\r\n" + chunk + "\r\n";

  client.Send(request);  // the server may stop reading before all of it is sent

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 413);
}

TEST(Server, GarbageGets400AndClose) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send("this is not HTTP\r\n\r\n"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 400);
  EXPECT_EQ(reply->HeaderValue("content-type"), "application/json");
  EXPECT_TRUE(client.WaitClosed());
}

TEST(Server, MalformedPercentEscapeGets400) {
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/accounts/%zz")));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 400);
}

TEST(Server, IdleConnectionIsClosedAfterTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 200ms;
  RunningServer server(options, EchoRouter());
  Client client(server.Port());
  ASSERT_TRUE(client.Send(GetRequest("/accounts/1")));
  ASSERT_TRUE(client.Read().has_value());
  const auto idle_since = std::chrono::steady_clock::now();

  EXPECT_TRUE(client.WaitClosed());  // gives up after kMaxWait

  EXPECT_GE(std::chrono::steady_clock::now() - idle_since, 150ms);
}

TEST(Server, ActiveConnectionOutlivesIdleTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 300ms;
  RunningServer server(options, EchoRouter());
  Client client(server.Port());
  const auto deadline = std::chrono::steady_clock::now() + 900ms;

  // Requests keep coming, back to back, for three timeouts' worth of time.
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(client.Send(GetRequest("/accounts/1")));
    ASSERT_TRUE(client.Read().has_value());
  }
}

TEST(Server, StopLetsInFlightRequestFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  Router router;
  router.Get("/slow", [&entered, released](const Request&) {
    entered.set_value();
    released.wait_for(kMaxWait);
    return Response::Text(200, "finished");
  });
  RunningServer server(TestOptions(), std::move(router));
  Client slow_client(server.Port());
  Client idle_client(server.Port());
  ASSERT_TRUE(idle_client.Send(GetRequest("/nothing")));
  ASSERT_TRUE(idle_client.Read().has_value());
  ASSERT_TRUE(slow_client.Send(GetRequest("/slow")));
  ASSERT_EQ(entered.get_future().wait_for(kMaxWait), std::future_status::ready);

  server.Get().Stop();
  EXPECT_TRUE(idle_client.WaitClosed());  // idle keep-alive connections close at once
  release.set_value();

  const auto reply = slow_client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "finished");
  EXPECT_EQ(reply->HeaderValue("connection"), "close");
  EXPECT_EQ(server.RunResult().wait_for(kMaxWait), std::future_status::ready);
}

TEST(Server, AsyncRouteIsAnsweredFromAnotherThread) {
  Parked parked;
  Router router;
  router.GetAsync("/later/{id}", parked.Handler());
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());
  ASSERT_TRUE(client.Send(GetRequest("/later/7")));
  auto held = parked.Take();
  ASSERT_TRUE(held.has_value());

  std::jthread answering{[responder = std::move(held->second)]() mutable {
    responder.Send(Response::Text(200, "answered elsewhere"));
  }};

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "answered elsewhere");
  // The connection is still usable afterwards.
  ASSERT_TRUE(client.Send(GetRequest("/later/8")));
  held = parked.Take();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->first, "/later/8");
  held->second.Send(Response::Text(200, "second"));
  const auto second = client.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "second");
}

TEST(Server, DroppedResponderAnswers500) {
  Parked parked;
  Router router;
  router.GetAsync("/dropped", parked.Handler());
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());
  ASSERT_TRUE(client.Send(GetRequest("/dropped")));
  auto held = parked.Take();
  ASSERT_TRUE(held.has_value());

  std::jthread dropping{[responder = std::move(held->second)] {}};

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 500);
}

TEST(Server, HttpErrorFromAsyncHandlerReachesClient) {
  Router router;
  router.GetAsync("/accounts/{accountId}", [](const Request& request, Responder&) {
    throw NotFound("no account with id " + std::string(request.PathParam("accountId")));
  });
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());

  ASSERT_TRUE(client.Send(GetRequest("/accounts/5")));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body, R"({"error":"no account with id 5"})");
}

TEST(Server, PipelinedRequestsWaitForAnAsyncAnswerAndStayInOrder) {
  Parked parked;
  Router router = EchoRouter();
  router.GetAsync("/later/{id}", parked.Handler());
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());
  ASSERT_TRUE(
      client.Send(GetRequest("/later/1") + GetRequest("/accounts/2") + GetRequest("/later/3")));
  auto first = parked.Take();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->first, "/later/1");

  // Nothing after the first request is dispatched before it is answered.
  EXPECT_EQ(parked.Count(), 0U);
  first->second.Send(Response::Text(200, "one"));
  auto third = parked.Take();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->first, "/later/3");
  third->second.Send(Response::Text(200, "three"));

  for (const char* body : {"one", "{\"id\":\"2\"}", "three"}) {
    const auto reply = client.Read();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body, body);
  }
}

TEST(Server, StopWhileAnAsyncResponseIsPendingStillDeliversIt) {
  Parked parked;
  Router router;
  router.GetAsync("/later", parked.Handler());
  RunningServer server(TestOptions(), std::move(router));
  Client client(server.Port());
  ASSERT_TRUE(client.Send(GetRequest("/later")));
  auto held = parked.Take();
  ASSERT_TRUE(held.has_value());

  server.Get().Stop();
  // Run() keeps going while the answer is owed.
  EXPECT_EQ(server.RunResult().wait_for(std::chrono::milliseconds{50}),
            std::future_status::timeout);
  std::jthread answering{[responder = std::move(held->second)]() mutable {
    responder.Send(Response::Text(200, "finished"));
  }};

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "finished");
  EXPECT_EQ(reply->HeaderValue("connection"), "close");
  EXPECT_EQ(server.RunResult().wait_for(kMaxWait), std::future_status::ready);
}

TEST(Server, StopWithoutConnectionsEndsRun) {
  RunningServer server(TestOptions(), EchoRouter());
  {
    Client client(server.Port());  // make sure Run() is serving
    ASSERT_TRUE(client.Send(GetRequest("/accounts/1")));
    ASSERT_TRUE(client.Read().has_value());
  }

  server.Get().Stop();

  EXPECT_EQ(server.RunResult().wait_for(kMaxWait), std::future_status::ready);
  EXPECT_THROW(Client{server.Port()}, std::runtime_error);  // no longer listening
}

TEST(Server, StopBeforeRunMakesRunReturn) {
  Server server(TestOptions(), EchoRouter());
  server.Stop();

  auto run = std::async(std::launch::async, [&server] { server.Run(); });

  EXPECT_EQ(run.wait_for(kMaxWait), std::future_status::ready);
}

TEST(Server, PortInUseIsReportedWithAHint) {
  RunningServer first(TestOptions(), EchoRouter());
  ServerOptions options = TestOptions();
  options.port = first.Port();

  try {
    Server second(options, EchoRouter());
    FAIL() << "a second server bound the same port";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(first.Port())), std::string::npos)
        << message;
    EXPECT_NE(message.find("address already in use"), std::string::npos) << message;
    EXPECT_NE(message.find("server_port"), std::string::npos) << message;
  }
}

TEST(Server, InvalidAddressIsReportedNamingTheSetting) {
  ServerOptions options = TestOptions();
  options.address = "not-an-address";

  try {
    Server server(options, EchoRouter());
    FAIL() << "a server listened on 'not-an-address'";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'not-an-address': not an IP address; set server_address"),
              std::string::npos)
        << e.what();
  }
}

TEST(Server, ListensOnTheGivenAddressOnly) {
  // All of 127.0.0.0/8 reaches this host: a server bound to 127.0.0.1 is not on 127.0.0.2.
  RunningServer server(TestOptions(), EchoRouter());
  Client client(server.Port(), "127.0.0.1");
  ASSERT_TRUE(client.Send(GetRequest("/accounts/1")));
  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);

  EXPECT_THROW(Client(server.Port(), "127.0.0.2"), std::runtime_error);
}

TEST(Server, AnAddressNotOfThisHostIsReportedNamingTheSetting) {
  ServerOptions options = TestOptions();
  options.address = "192.0.2.1";  // TEST-NET-1: never one of this host's

  try {
    Server server(options, EchoRouter());
    FAIL() << "a server listened on 192.0.2.1";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("server_address"), std::string::npos) << e.what();
  }
}

TEST(MaxConnectionsFor, LeavesDescriptorsForTheRestOfTheProcess) {
  EXPECT_EQ(MaxConnectionsFor(256), 192U);   // 64 kept
  EXPECT_EQ(MaxConnectionsFor(1024), 896U);  // an eighth kept
  EXPECT_EQ(MaxConnectionsFor(100), 50U);    // tiny limits: half
  EXPECT_EQ(MaxConnectionsFor(1), 1U);
  EXPECT_EQ(MaxConnectionsFor(1U << 20U), 10'000U);
  EXPECT_GE(DefaultMaxConnections(), 1U);
}

// Opens a keep-alive connection and makes sure the server has taken it (one answered request).
std::unique_ptr<Client> ServedConnection(std::uint16_t port) {
  auto client = std::make_unique<Client>(port);
  if (!client->Send(GetRequest("/accounts/1"))) return nullptr;
  const auto reply = client->Read();
  if (!reply || reply->status != 200) return nullptr;
  return client;
}

TEST(Server, ConnectionsBeyondTheCapAreRefusedUntilSomeClose) {
  ServerOptions options = TestOptions();
  options.max_connections = 3;
  RunningServer server(options, EchoRouter());
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(ServedConnection(server.Port()));
    ASSERT_NE(open.back(), nullptr) << "connection " << i;
  }

  Client one_too_many(server.Port());
  (void)one_too_many.Send(GetRequest("/accounts/2"));  // it may be closed already
  const int status = one_too_many.StatusOrClosed();
  EXPECT_TRUE(status == 503 || status == 0) << "status " << status;

  // Those open are still served.
  ASSERT_TRUE(open[0]->Send(GetRequest("/accounts/3")));
  const auto still = open[0]->Read();
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->status, 200);

  // Once one closes, a new connection is served again (the server notices the close soon).
  open.pop_back();
  const auto deadline = std::chrono::steady_clock::now() + kMaxWait;
  std::unique_ptr<Client> again;
  while (!again && std::chrono::steady_clock::now() < deadline) {
    again = ServedConnection(server.Port());
  }
  EXPECT_NE(again, nullptr) << "no connection served after one of the open ones closed";
}

/// Collects what is logged through spdlog's default logger while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    sink->set_pattern("%l %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::move(sink)));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  [[nodiscard]] std::string Text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }

  [[nodiscard]] std::size_t CountLinesWith(std::string_view text) {
    spdlog::default_logger()->flush();
    std::istringstream lines(stream_.str());
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.find(text) != std::string::npos) ++count;
    }
    return count;
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(Server, ABurstOfRefusalsIsLoggedOnce) {
  CapturedLog log;
  ServerOptions options = TestOptions();
  options.max_connections = 1;
  RunningServer server(options, EchoRouter());
  const auto held = ServedConnection(server.Port());
  ASSERT_NE(held, nullptr);

  for (int i = 0; i < 20; ++i) {
    Client refused(server.Port());
    (void)refused.Send(GetRequest("/accounts/2"));
    const int status = refused.StatusOrClosed();
    ASSERT_TRUE(status == 503 || status == 0) << "connection " << i << ": status " << status;
  }

  EXPECT_EQ(log.CountLinesWith("connection limit reached"), 1U);
  EXPECT_EQ(log.CountLinesWith("max_connections=1"), 1U);
}

/// Lowers this process's soft open-file limit so that exactly `free_descriptors` more can be
/// opened; restores it on destruction.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(std::size_t free_descriptors) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    // The smallest limit below which `free_descriptors` numbers are unused.
    rlim_t limit = 0;
    for (std::size_t unused = 0; unused < free_descriptors; ++limit) {
      if (::fcntl(static_cast<int>(limit), F_GETFD) == -1) ++unused;
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = limit;
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~DescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  DescriptorLimit(const DescriptorLimit&) = delete;
  DescriptorLimit& operator=(const DescriptorLimit&) = delete;

 private:
  rlimit saved_{};
};

TEST(Server, OutOfDescriptorsAWaitingClientIsAnsweredAtOnce) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP()
      << "the sanitizers open descriptors of their own while checking (a pipe per "
         "memory check), which this test exhausts on purpose; it runs in the release build";
#endif
  CapturedLog log;
  ServerOptions options = TestOptions();
  options.max_connections = 1000;  // more than the descriptors allow: accepts fail first
  RunningServer server(options, EchoRouter());
  const auto warmed = ServedConnection(server.Port());  // the I/O threads are settled
  ASSERT_NE(warmed, nullptr);

  // Room for one client and its server side, and one more client.
  const DescriptorLimit limit(3);
  const auto served = ServedConnection(server.Port());
  ASSERT_NE(served, nullptr) << "the connection that fits was not served";
  Client waiting(server.Port());
  (void)waiting.Send(GetRequest("/accounts/2"));
  const auto asked = std::chrono::steady_clock::now();
  const int status = waiting.StatusOrClosed();

  EXPECT_TRUE(status == 503 || status == 0) << "status " << status << "\n" << log.Text();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);  // not left in the backlog
  EXPECT_EQ(log.CountLinesWith("http accept failed"), 1U) << log.Text();
}

TEST(Server, ABodyTricklingInIsCutOffAtTheRequestTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 2s;  // every byte comes well within it: only the total can end this
  options.request_timeout = 600ms;
  RunningServer server(options, EchoRouter());
  Client client(server.Port());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"));

  // One byte every 100 ms, until the server stops listening or the test gives up.
  const auto give_up = started + options.request_timeout + kMaxWait;
  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() < give_up) {
    answered = client.WaitReadable(100ms);
    if (!answered && !client.Send("x")) answered = true;
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;

  ASSERT_TRUE(answered) << "the connection outlived request_timeout by " << kMaxWait.count()
                        << " s";
  const int status = client.StatusOrClosed();
  EXPECT_TRUE(status == 408 || status == 0) << "status " << status;
  EXPECT_GE(elapsed, 500ms);
  EXPECT_LT(elapsed, options.request_timeout + 1s);
}

TEST(Server, TimeBetweenRequestsDoesNotCountTowardsTheRequestTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 5s;
  options.request_timeout = 300ms;
  RunningServer server(options, EchoRouter());
  Client client(server.Port());
  ASSERT_TRUE(client.Send(GetRequest("/accounts/1")));
  ASSERT_TRUE(client.Read().has_value());

  // Idle for longer than a request may take: the connection stays open...
  EXPECT_FALSE(client.WaitReadable(600ms));

  // ...and the next request is answered.
  ASSERT_TRUE(client.Send(GetRequest("/accounts/2")));
  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
}

TEST(Server, AfterALongIdleWaitARequestStillHasItsWholeRequestTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 600ms;
  options.request_timeout = 2s;
  RunningServer server(options, EchoRouter());
  Client client(server.Port());
  ASSERT_FALSE(client.WaitReadable(400ms));  // idle for most of the idle timeout

  // The header arrives in two parts, the second after the idle timeout has passed.
  ASSERT_TRUE(client.Send("GET /accounts/1 HTTP/1.1\r\n"));
  ASSERT_FALSE(client.WaitReadable(400ms));
  ASSERT_TRUE(client.Send("Host: t\r\n\r\n"));

  const auto reply = client.Read();
  ASSERT_TRUE(reply.has_value()) << "closed while its request was arriving";
  EXPECT_EQ(reply->status, 200);
}

TEST(Server, AHeaderTricklingInIsCutOffAtTheRequestTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 5s;
  options.request_timeout = 400ms;
  RunningServer server(options, EchoRouter());
  Client client(server.Port());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.Send("GET /accounts/1 HTTP/1.1\r\n"));

  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() < started + kMaxWait) {
    answered = client.WaitReadable(100ms);
    if (!answered && !client.Send("X-A: b\r\n")) answered = true;
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;

  ASSERT_TRUE(answered);
  const int status = client.StatusOrClosed();
  EXPECT_TRUE(status == 408 || status == 0) << "status " << status;
  EXPECT_LT(elapsed, options.request_timeout + 1s);
}

}  // namespace
}  // namespace cppblog::web
