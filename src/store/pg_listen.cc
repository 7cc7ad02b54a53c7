// Doorbells over PostgreSQL's LISTEN/NOTIFY (store.h, Store::ListenWork and ListenEnds).
//
// Design. The transactions that queue work and record ends NOTIFY a channel (pg_notify, in the
// same transaction, so a listener is told only of what committed): "sluice_work" for work
// queued, "sluice_ends_RUN" for a run's ends. A listener is a connection of its own, idle but
// for LISTEN, whose socket the waiter polls; libpq hands over the notifications it read.
// Doorbells of the same host (env's bell sockets) stay: they need no database. This one also
// reaches a server or an engine on another host. A lost connection is made again at the next
// Wait, which then returns true: a notification may have been missed meanwhile, so the waiter
// looks. Rejected: a thread per listener in the store (the waiters have their own), polling a
// table (what the bells replace).
#include <poll.h>

#include <algorithm>

#include "common/sha256.h"
#include "store/pg_lib.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

// A doorbell on one channel of one PostgreSQL database. Owned by the caller; Wait from one
// thread at a time (env.h's Doorbell).
class PgBell final : public Doorbell {
 public:
  PgBell(const LibPq* pq, std::string url, std::string channel)
      : pq_(pq), url_(std::move(url)), channel_(std::move(channel)) {}
  ~PgBell() override {
    if (conn_) pq_->PQfinish(conn_);
  }

  // Connects and listens. On failure an error saying why.
  Status Listen() {
    if (!conn_) {
      conn_ = pq_->PQconnectdb(url_.c_str());
    } else {
      pq_->PQreset(conn_);
    }
    if (!conn_ || pq_->PQstatus(conn_) != CONNECTION_OK) {
      return Fail(ErrorCode::kStore, "store: cannot listen for notifications: {}",
                  conn_ ? pq_->PQerrorMessage(conn_) : "out of memory");
    }
    // A quoted identifier: a run id holds '-'; pg_notify takes the same text as it is.
    std::string quoted = "\"";
    for (char c : channel_) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    PGresult* r = pq_->PQexec(conn_, ("LISTEN " + quoted + "\"").c_str());
    const bool ok = r && pq_->PQresultStatus(r) == PGRES_COMMAND_OK;
    if (r) pq_->PQclear(r);
    if (!ok) {
      return Fail(ErrorCode::kStore, "store: cannot listen for notifications: {}",
                  pq_->PQerrorMessage(conn_));
    }
    return {};
  }

  // Polls libpq's own socket, as libpq does its I/O itself: this edge module's system call,
  // not one of the Env's (a doorbell of env's is a socket it made; this one is libpq's).
  bool Wait(int64_t timeout_us) override {
    const int ms = timeout_us < 0 ? -1
                                  : static_cast<int>(std::min<int64_t>((timeout_us + 999) / 1000,
                                                                       1 << 30));
    if (pq_->PQstatus(conn_) != CONNECTION_OK) {
      if (Listen()) return true;  // back: what was missed meanwhile is looked at
      // Still away: the wait passes (no socket to poll), so a waiter's loop does not spin.
      (void)poll(nullptr, 0, ms < 0 ? 1000 : ms);
      return false;
    }
    if (Take()) return true;
    pollfd p{pq_->PQsocket(conn_), POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return false;
    if (pq_->PQconsumeInput(conn_) != 1) return true;  // lost: the next Wait connects again
    return Take();
  }

 private:
  // Takes every notification libpq has read; true when there was one.
  bool Take() {
    bool any = false;
    while (PGnotify* n = pq_->PQnotifies(conn_)) {
      any = true;
      pq_->PQfreemem(n);
    }
    return any;
  }

  const LibPq* pq_;
  std::string url_, channel_;
  PGconn* conn_ = nullptr;
};

}  // namespace

// A channel's name is at most 63 bytes: a longer run id is named by its digest.
std::string EndsChannel(const std::string& run_id) {
  return "sluice_ends_" + (run_id.size() <= 40 ? run_id : Sha256Hex(run_id).substr(0, 40));
}

Result<std::unique_ptr<Doorbell>> Store::ListenWork(const std::string& path) {
  if (!IsPostgresUrl(path)) return std::unique_ptr<Doorbell>();
  return ListenPostgres(path, kWorkChannel);
}

Result<std::unique_ptr<Doorbell>> Store::ListenEnds(const std::string& path,
                                                    const std::string& run_id) {
  if (!IsPostgresUrl(path)) return std::unique_ptr<Doorbell>();
  return ListenPostgres(path, EndsChannel(run_id));
}

Result<std::unique_ptr<Doorbell>> ListenPostgres(const std::string& url, const std::string& channel) {
  SLUICE_TRY(pq, LoadLibPq());
  auto bell = std::make_unique<PgBell>(*pq, url, channel);
  SLUICE_TRY_STATUS(bell->Listen());
  return std::unique_ptr<Doorbell>(std::move(bell));
}

}  // namespace sluice
