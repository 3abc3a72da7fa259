#include "pg_test_env.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cppblog {
namespace {

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};

std::string Run(const std::string& url, const std::string& sql) {
  const std::unique_ptr<PGconn, ConnDeleter> conn{PQconnectdb(url.c_str())};
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("test database: cannot connect: " +
                             std::string(PQerrorMessage(conn.get())));
  }
  const std::unique_ptr<PGresult, ResultDeleter> result{PQexec(conn.get(), sql.c_str())};
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("test database: " + sql + ": " +
                             std::string(PQresultErrorMessage(result.get())));
  }
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0) {
    return PQgetvalue(result.get(), 0, 0);
  }
  return {};
}

}  // namespace

std::string TestPgUrl() {
  const char* value = std::getenv("CPPBLOG_TEST_PG_URL");
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(
        "CPPBLOG_TEST_PG_URL is not set: run the PostgreSQL tests through `./dev test`, which "
        "starts a PostgreSQL server and sets it (or `./dev postgres start` and export PG_URL "
        "from .run/postgres/pg.env as CPPBLOG_TEST_PG_URL)");
  }
  return value;
}

void TestPostgres(const std::string& command) {
  const auto required = [](const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
      throw std::runtime_error(std::string(name) +
                               " is not set: run this test through ./dev test, which starts the "
                               "PostgreSQL server and sets it");
    }
    return std::string(value);
  };
  const std::string line = "PG_DIR='" + required("CPPBLOG_TEST_PG_DIR") + "' '" +
                           required("CPPBLOG_DEV") + "' postgres " + command + " >/dev/null 2>&1";
  const int status = std::system(line.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("failed: PG_DIR=$CPPBLOG_TEST_PG_DIR ./dev postgres " + command);
  }
}

TestPgSchema::TestPgSchema() {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  name_ = "test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(now % 1'000'000'000);
  const std::string base = TestPgUrl();
  url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         name_ + "&application_name=" + name_;
  static_cast<void>(Run(base, "CREATE SCHEMA " + name_));
}

TestPgSchema::~TestPgSchema() {
  try {
    static_cast<void>(Run(TestPgUrl(), "DROP SCHEMA " + name_ + " CASCADE"));
  } catch (const std::exception&) {  // a stopped server: the next ./dev test starts afresh
  }
}

std::string TestPgSchema::Query(const std::string& sql) const { return Run(url_, sql); }

TestPgConnection TestPgSchema::Connect() const {
  TestPgConnection conn{PQconnectdb(url_.c_str())};
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to the test schema " + name_ + ": " +
                             std::string(PQerrorMessage(conn.get())));
  }
  return conn;
}

void ExecTestSql(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  const std::string why = PQresultErrorMessage(result);
  PQclear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + why);
  }
}

}  // namespace cppblog
