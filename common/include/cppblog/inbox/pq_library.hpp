#pragma once

#include <string>
#include <string_view>

// libpq's declarations: this header is for code that talks to PostgreSQL itself (the PostgreSQL
// inbox, an offer store); pg_inbox.hpp does not include it.
#include <libpq-fe.h>

namespace cppblog::inbox {

// The libpq functions cppblog uses.
#define CPPBLOG_LIBPQ_FUNCTIONS(X) \
  X(PQclear)                       \
  X(PQcmdTuples)                   \
  X(PQconnectdbParams)             \
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
  X(PQntuples)                     \
  X(PQpipelineStatus)              \
  X(PQpipelineSync)                \
  X(PQprepare)                     \
  X(PQresultErrorMessage)          \
  X(PQresultStatus)                \
  X(PQsendQueryParams)             \
  X(PQsendQueryPrepared)           \
  X(PQsetNoticeProcessor)          \
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

}  // namespace cppblog::inbox
