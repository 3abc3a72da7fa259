#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// libpq's declarations: this header is for code that talks to PostgreSQL itself (the PostgreSQL
// inbox and outbox, an offer store); their public headers (pg_inbox.hpp, pg_outbox.hpp) do not
// include it. Target cppblog::pq.
#include <libpq-fe.h>

namespace cppblog::storage {

// The libpq functions cppblog uses.
#define CPPBLOG_LIBPQ_FUNCTIONS(X) \
  X(PQclear)                       \
  X(PQcmdTuples)                   \
  X(PQconnectdbParams)             \
  X(PQconsumeInput)                \
  X(PQconninfoFree)                \
  X(PQconninfoParse)               \
  X(PQenterPipelineMode)           \
  X(PQerrorMessage)                \
  X(PQexec)                        \
  X(PQexecParams)                  \
  X(PQexitPipelineMode)            \
  X(PQfinish)                      \
  X(PQfreemem)                     \
  X(PQgetResult)                   \
  X(PQgetlength)                   \
  X(PQgetvalue)                    \
  X(PQisBusy)                      \
  X(PQnotifies)                    \
  X(PQntuples)                     \
  X(PQpipelineStatus)              \
  X(PQpipelineSync)                \
  X(PQprepare)                     \
  X(PQresultErrorMessage)          \
  X(PQresultStatus)                \
  X(PQsendQueryParams)             \
  X(PQsendQueryPrepared)           \
  X(PQsetNoticeProcessor)          \
  X(PQsocket)                      \
  X(PQstatus)                      \
  X(PQtransactionStatus)

/// libpq's functions, loaded from libpq.so.5 at run time rather than linked: a program that may
/// use PostgreSQL (the vipservice, when its store is one) then maps libpq and what it pulls in
/// (Kerberos, LDAP, GnuTLS, the shared OpenSSL; about 4.5 MB resident) only when it does, and a
/// statically linked OpenSSL in the executable never meets libpq's (docs/decisions/0010).
struct LibPq {
#define CPPBLOG_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  CPPBLOG_LIBPQ_FUNCTIONS(CPPBLOG_LIBPQ_MEMBER)
#undef CPPBLOG_LIBPQ_MEMBER
};

/// The loaded library, loaded by the first call (thread-safe). Throws storage::StoreError naming
/// what is missing and what to install (and tries again at the next call) when libpq.so.5 cannot
/// be loaded or lacks a function (pipeline mode needs libpq 14 or later).
[[nodiscard]] const LibPq& Pq();

/// libpq's message on one line: its messages span lines ("...failed: Connection refused\n\tIs
/// the server running..."); line breaks and tabs become one space, trailing ones go.
[[nodiscard]] std::string OneLineMessage(std::string_view message);

/// Every spelling of the password in a postgresql:// URL's userinfo (as written, and
/// percent-decoded), to scrub from messages that might quote it; empty when it has none.
[[nodiscard]] std::vector<std::string> PgUrlSecrets(std::string_view url);

/// `message` on one line (OneLineMessage), every URL's password masked (text::MaskUrlCredentials)
/// and every one of `secrets` replaced by "***".
[[nodiscard]] std::string ScrubPgMessage(std::string_view message,
                                         const std::vector<std::string>& secrets = {});

struct PgResultDeleter {
  void operator()(PGresult* result) const { Pq().PQclear(result); }
};
/// A libpq result, cleared when it goes.
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

/// Runs one statement on `conn` (PQexec without parameters, so several statements for DDL;
/// PQexecParams with text parameters otherwise; results in `result_format`, 0 text, 1 binary).
/// Throws StoreError "<prefix>: <operation>: <libpq's error, scrubbed>" when it fails.
PgResult PgExec(const std::string& prefix, PGconn* conn, const std::string& operation,
                const std::string& sql, const std::vector<std::string>& params = {},
                int result_format = 0, const std::vector<std::string>& secrets = {});

/// The class of the transaction-scoped advisory lock (key 0) every cppblog schema migration
/// holds: one migration at a time in a database ("CPBS").
inline constexpr std::int32_t kPgSchemaLockClass = 0x43504253;

/// Begins the migration of `component` ("vipservice", "inbox vip_processed") inside the caller's
/// open transaction on `conn`: takes the advisory lock of kPgSchemaLockClass (processes starting
/// together migrate one after the other), creates cppblog_schema_version when missing, and
/// returns the component's recorded version (0: none yet). A version newer than `current` is
/// refused: StoreError "<prefix>: the database holds <program>'s schema version N, newer than this
/// <program>'s M: run a <program> as new as the others sharing it" (`program` names who reads the
/// schema: "program" for the library's tables, "vipservice"). Other failures: PgExec's StoreError.
[[nodiscard]] int BeginPgMigration(const std::string& prefix, PGconn* conn,
                                   const std::string& component, int current,
                                   const std::string& program = "program");

/// Records `version` as `component`'s in cppblog_schema_version, in the caller's transaction.
void RecordPgSchemaVersion(const std::string& prefix, PGconn* conn, const std::string& component,
                           int version);

}  // namespace cppblog::storage
