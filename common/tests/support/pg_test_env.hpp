#pragma once

#include <memory>
#include <string>

#include <libpq-fe.h>

// Helpers for tests against the PostgreSQL server that `./dev test` starts
// (cppblog::pg_test_support: the inbox's, the vipservice's and the e2e tests).
namespace cppblog {

struct TestPgConnectionCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
/// A libpq connection of a test, closed when it goes.
using TestPgConnection = std::unique_ptr<PGconn, TestPgConnectionCloser>;

/// Runs `sql` on `conn` (PQexec: several statements allowed); throws std::runtime_error naming the
/// statement and PostgreSQL's error unless it succeeds.
void ExecTestSql(PGconn* conn, const std::string& sql);

/// $CPPBLOG_TEST_PG_URL; throws (failing the test) with instructions when unset.
[[nodiscard]] std::string TestPgUrl();

/// Runs `PG_DIR=$CPPBLOG_TEST_PG_DIR $CPPBLOG_DEV postgres <command>` (stop: the server stops at
/// once and keeps its data and port; start: it starts again on them); throws unless it succeeds.
/// A test that stops the server must run alone (RUN_SERIAL) and start it again however it ends.
void TestPostgres(const std::string& command);

/// A schema of its own in the test database, dropped with everything in it by the destructor,
/// so that tests running at once never see each other's tables. Throws std::runtime_error.
class TestPgSchema {
 public:
  TestPgSchema();
  ~TestPgSchema();
  TestPgSchema(const TestPgSchema&) = delete;
  TestPgSchema& operator=(const TestPgSchema&) = delete;

  [[nodiscard]] const std::string& Name() const { return name_; }
  /// TestPgUrl() with this schema first in the search path (a store opened on it keeps its
  /// tables here) and the schema's name as application_name (to find its connections).
  [[nodiscard]] const std::string& Url() const { return url_; }
  /// Runs `sql` in this schema; returns the first column of the first row ("" when none).
  std::string Query(const std::string& sql) const;
  /// A new connection on Url(); throws std::runtime_error with libpq's message when it fails.
  [[nodiscard]] TestPgConnection Connect() const;

 private:
  std::string name_;
  std::string url_;
};

}  // namespace cppblog
