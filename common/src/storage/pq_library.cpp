#include "cppblog/storage/pq_library.hpp"

#include <string>

#include <dlfcn.h>

#include "cppblog/storage/store_error.hpp"
#include "cppblog/text/redact.hpp"

namespace cppblog::storage {
namespace {

constexpr const char* kLibPq = "libpq.so.5";

LibPq Load() {
  void* handle = dlopen(kLibPq, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw StoreError(std::string("cannot load ") + kLibPq + " (" +
                     (why != nullptr ? why : "unknown error") +
                     "), which the PostgreSQL store needs: install the Debian package "
                     "libpq5");
  }
  LibPq pq;
#define CPPBLOG_LIBPQ_LOAD(name)                                                         \
  pq.name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name));                   \
  if (pq.name == nullptr) {                                                              \
    throw StoreError(std::string(kLibPq) + " has no " #name                              \
                                           ": install libpq5 of PostgreSQL 14 or later " \
                                           "(pipeline mode)");                           \
  }
  CPPBLOG_LIBPQ_FUNCTIONS(CPPBLOG_LIBPQ_LOAD)
#undef CPPBLOG_LIBPQ_LOAD
  return pq;
}

}  // namespace

std::string OneLineMessage(std::string_view message) {
  std::string line;
  for (const char c : message) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!line.empty() && line.back() != ' ') line.push_back(' ');
    } else {
      line.push_back(c);
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

namespace {

std::string PercentDecoded(std::string_view text) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex(text[i + 1]);
      const int low = hex(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

void ReplaceAll(std::string& text, std::string_view needle, std::string_view with) {
  if (needle.empty()) return;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + with.size())) {
    text.replace(at, needle.size(), with);
  }
}

}  // namespace

std::vector<std::string> PgUrlSecrets(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const std::string_view rest = url.substr(scheme_end + 3);
  const auto at = rest.rfind('@');
  if (at == std::string_view::npos) return {};
  const std::string_view userinfo = rest.substr(0, at);
  const auto colon = userinfo.find(':');
  if (colon == std::string_view::npos || colon + 1 == userinfo.size()) return {};
  std::string written(userinfo.substr(colon + 1));
  std::string decoded = PercentDecoded(written);
  std::vector<std::string> secrets{std::move(written)};
  if (decoded != secrets.front()) secrets.push_back(std::move(decoded));
  return secrets;
}

std::string ScrubPgMessage(std::string_view message, const std::vector<std::string>& secrets) {
  std::string text = text::MaskUrlCredentials(OneLineMessage(message));
  for (const std::string& secret : secrets) ReplaceAll(text, secret, "***");
  return text;
}

PgResult PgExec(const std::string& prefix, PGconn* conn, const std::string& operation,
                const std::string& sql, const std::vector<std::string>& params, int result_format,
                const std::vector<std::string>& secrets) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  PgResult result{params.empty() && result_format == 0
                      ? Pq().PQexec(conn, sql.c_str())
                      : Pq().PQexecParams(conn, sql.c_str(), static_cast<int>(params.size()),
                                          nullptr, values.data(), nullptr, nullptr, result_format)};
  const ExecStatusType status = result ? Pq().PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* why = result ? Pq().PQresultErrorMessage(result.get()) : "";
    if (why == nullptr || *why == '\0') why = Pq().PQerrorMessage(conn);
    throw StoreError(prefix + ": " + operation + ": " + ScrubPgMessage(why, secrets));
  }
  return result;
}

const LibPq& Pq() {
  static const LibPq loaded = Load();
  return loaded;
}

int BeginPgMigration(const std::string& prefix, PGconn* conn, const std::string& component,
                     int current, const std::string& program) {
  const std::string op = "create the schema";
  static_cast<void>(PgExec(prefix, conn, op, "SELECT pg_advisory_xact_lock($1::int4, 0)",
                           {std::to_string(kPgSchemaLockClass)}));
  static_cast<void>(PgExec(prefix, conn, op,
                           "CREATE TABLE IF NOT EXISTS cppblog_schema_version ("
                           "component text PRIMARY KEY, version integer NOT NULL)"));
  const PgResult found =
      PgExec(prefix, conn, op, "SELECT version FROM cppblog_schema_version WHERE component = $1",
             {component});
  const int version =
      Pq().PQntuples(found.get()) == 0 ? 0 : std::stoi(Pq().PQgetvalue(found.get(), 0, 0));
  if (version > current) {
    const std::string whose = program == "program" ? "its" : "the " + program;
    throw StoreError(prefix + ": the database holds " + whose + " schema version " +
                     std::to_string(version) + ", newer than this " + program + "'s " +
                     std::to_string(current) + ": run a " + program +
                     " as new as the others sharing it");
  }
  return version;
}

void RecordPgSchemaVersion(const std::string& prefix, PGconn* conn, const std::string& component,
                           int version) {
  static_cast<void>(PgExec(prefix, conn, "create the schema",
                           "INSERT INTO cppblog_schema_version (component, version) "
                           "VALUES ($1, $2::int4) ON CONFLICT (component) "
                           "DO UPDATE SET version = EXCLUDED.version",
                           {component, std::to_string(version)}));
}

}  // namespace cppblog::storage
