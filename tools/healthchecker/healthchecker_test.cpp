#include <cstdio>
#include <future>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "cppblog/web/server.hpp"

namespace cppblog::web {
namespace {

struct Outcome {
  int exit_status = -1;
  std::string output;  // stdout and stderr together
};

Outcome RunChecker(const std::string& arguments) {
  const std::string command = std::string(CPPBLOG_HEALTHCHECKER) + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  Outcome outcome;
  char chunk[512];
  while (const std::size_t got = std::fread(chunk, 1, sizeof(chunk), pipe)) {
    outcome.output.append(chunk, got);
  }
  const int status = ::pclose(pipe);
  outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

class RunningServer {
 public:
  explicit RunningServer(Router router)
      : server_({.address = "127.0.0.1", .port = 0, .threads = 2}, std::move(router)),
        run_(std::async(std::launch::async, [this] { server_.Run(); })) {}
  ~RunningServer() {
    server_.Stop();
    run_.wait();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  [[nodiscard]] std::string Port() const { return std::to_string(server_.Port()); }

 private:
  Server server_;
  std::future<void> run_;
};

Router HealthRouter(int status, std::string body) {
  Router router;
  router.Get("/health", [status, body](const Request&) { return Response::Json(status, body); });
  router.Get("/other", [](const Request&) { return Response::Text(200, "OK"); });
  return router;
}

TEST(Healthchecker, OkIsHealthy) {
  RunningServer server(HealthRouter(200, R"({"status":"UP"})"));

  const Outcome outcome = RunChecker("--port " + server.Port());

  EXPECT_EQ(outcome.exit_status, 0);
  EXPECT_EQ(outcome.output, "");
}

TEST(Healthchecker, OtherStatusIsUnhealthyAndSaysWhy) {
  RunningServer server(HealthRouter(503, R"({"status":"Database unaccessible"})"));

  const Outcome outcome = RunChecker("--port " + server.Port());

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_NE(outcome.output.find("503"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("Database unaccessible"), std::string::npos) << outcome.output;
}

TEST(Healthchecker, PathOptionIsUsed) {
  RunningServer server(HealthRouter(503, "{}"));

  EXPECT_EQ(RunChecker("--port=" + server.Port() + " --path /other").exit_status, 0);
  EXPECT_EQ(RunChecker("--port " + server.Port() + " --path /missing").exit_status, 1);
}

TEST(Healthchecker, RefusedConnectionIsUnhealthy) {
  std::string port;
  {
    RunningServer server(HealthRouter(200, "{}"));
    port = server.Port();
  }

  const Outcome outcome = RunChecker("--port " + port);

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_NE(outcome.output.find("cannot connect"), std::string::npos) << outcome.output;
}

TEST(Healthchecker, SlowAnswerIsUnhealthyAfterTimeout) {
  std::promise<void> release;
  auto released = release.get_future().share();
  Router router;
  router.Get("/health", [released](const Request&) {
    released.wait_for(std::chrono::seconds(10));
    return Response::Json(200, "{}");
  });
  RunningServer server(std::move(router));

  const Outcome outcome = RunChecker("--port " + server.Port() + " --timeout-ms 300");
  release.set_value();

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_NE(outcome.output.find("no answer within 300 ms"), std::string::npos) << outcome.output;
}

TEST(Healthchecker, MissingPortIsUsageError) {
  const Outcome outcome = RunChecker("");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.output.find("--port is required"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("usage:"), std::string::npos);
}

TEST(Healthchecker, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(RunChecker("--port 70000").exit_status, 2);
  EXPECT_EQ(RunChecker("--port abc").exit_status, 2);
  EXPECT_EQ(RunChecker("--port 80 --path health").exit_status, 2);
  EXPECT_EQ(RunChecker("--port 80 --verbose").exit_status, 2);
  EXPECT_EQ(RunChecker("--port").exit_status, 2);
}

TEST(Healthchecker, HelpExplainsExitStatus) {
  const Outcome outcome = RunChecker("--help");

  EXPECT_EQ(outcome.exit_status, 0);
  EXPECT_NE(outcome.output.find("exit status"), std::string::npos);
}

}  // namespace
}  // namespace cppblog::web
