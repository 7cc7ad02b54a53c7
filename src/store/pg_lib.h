// libpq, loaded at run time (pg_conn.cc): the functions the store's PostgreSQL code calls.
// Internal to src/store (pg_conn.cc, pg_listen.cc).
#pragma once

#include <libpq-fe.h>

#include "common/error.h"

namespace sluice {

// The functions of libpq the store uses, resolved once per process.
struct LibPq {
#define SLUICE_PQ_FUNCTIONS(X)                                                                   \
  X(PQconnectdb) X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQreset) X(PQexec) X(PQprepare)  \
  X(PQexecPrepared) X(PQresultStatus) X(PQresultErrorField) X(PQclear) X(PQntuples)           \
  X(PQgetvalue) X(PQgetlength) X(PQgetisnull) X(PQcmdTuples) X(PQenterPipelineMode)         \
  X(PQexitPipelineMode) X(PQpipelineSync) X(PQsendPrepare) X(PQsendQueryPrepared)            \
  X(PQsendQueryParams) X(PQgetResult) X(PQsocket) X(PQconsumeInput) X(PQnotifies)         \
  X(PQfreemem)
#define SLUICE_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  SLUICE_PQ_FUNCTIONS(SLUICE_PQ_MEMBER)
#undef SLUICE_PQ_MEMBER
};

// libpq, loaded on the first call (dlopen of libpq.so.5) and kept for the life of the process;
// an error saying what is missing when it cannot be.
Result<const LibPq*> LoadLibPq();

}  // namespace sluice
