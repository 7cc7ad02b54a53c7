// The work queue of `sluice server` and its workers (store/work.h): rows queued by an engine,
// leased by workers, ended by their results or lost when a lease expires. Every method that
// reads and then writes does so in one transaction holding the store's write lock, so two
// workers never lease one row, and a result never lands on a row the sweeper just made lost.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "store/store_impl.h"

namespace sluice {

bool FitsWorker(const WorkRow& row, const WorkerOffer& offer) {
  if (offer.slots < 1) return false;
  for (const auto& want : row.labels) {
    if (!std::binary_search(offer.labels.begin(), offer.labels.end(), want)) return false;
  }
  auto fits = [](int64_t asked, int64_t free) { return asked <= 0 || free < 0 || asked <= free; };
  return fits(row.cpu_milli, offer.cpu_milli) && fits(row.memory_bytes, offer.memory_bytes) &&
         fits(row.gpu_milli, offer.gpu_milli);
}

namespace {

#define WORK_COLUMNS                                                                       \
  "id,run_id,task,attempt,request,labels,cpu_milli,memory_bytes,gpu_milli,state,worker," \
  "lease,lease_expires_us,cancel,end_json,created_us,ready_us"
// The same with '' in place of the request (rows whose request the caller does not read).
#define WORK_COLUMNS_BUT_REQUEST                                                           \
  "id,run_id,task,attempt,'',labels,cpu_milli,memory_bytes,gpu_milli,state,worker,"      \
  "lease,lease_expires_us,cancel,end_json,created_us,ready_us"

std::string LabelsJson(const std::vector<std::pair<std::string, std::string>>& labels) {
  ValueList out;
  for (const auto& [k, v] : labels) out.push_back(Value(ValueList{Value(k), Value(v)}));
  return Value(std::move(out)).ToJson();
}

std::vector<std::pair<std::string, std::string>> ParseLabels(const std::string& json) {
  std::vector<std::pair<std::string, std::string>> out;
  if (json == "[]") return out;  // most rows: no JSON parsed
  auto v = ParseJson(json);
  if (!v || !v->is_list()) return out;
  for (const Value& p : v->as_list()) {
    if (p.is_list() && p.as_list().size() == 2 && p.as_list()[0].is_string() &&
        p.as_list()[1].is_string()) {
      out.emplace_back(p.as_list()[0].as_string(), p.as_list()[1].as_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

WorkRow ReadWork(SqlStmt* st) {
  WorkRow w;
  w.id = Int(st, 0);
  w.run_id = Text(st, 1);
  w.task = Text(st, 2);
  w.attempt = Int(st, 3);
  w.request = Text(st, 4);
  w.labels = ParseLabels(Text(st, 5));
  w.cpu_milli = Int(st, 6);
  w.memory_bytes = Int(st, 7);
  w.gpu_milli = Int(st, 8);
  w.state = Text(st, 9);
  w.worker = Text(st, 10);
  w.lease = Text(st, 11);
  w.lease_expires_us = Int(st, 12);
  w.cancel = Int(st, 13) != 0;
  w.end = Text(st, 14);
  w.created_us = Int(st, 15);
  w.ready_us = Int(st, 16);
  return w;
}

}  // namespace

// Round trips (sql.h): the inserts are sent without waiting, and their ids read back at once:
// rows inserted under the write lock have ids above every id before it (SQLite's rowid and
// PostgreSQL's identity both count up, and no other writer runs meanwhile). A row already
// there is left alone by ON CONFLICT, so it is missing from what is read back: a conflict.
Result<std::vector<int64_t>> Store::EnqueueWork(const std::vector<WorkRow>& rows) {
  return impl_->InTransaction([&]() -> Result<std::vector<int64_t>> {
    SLUICE_TRY(before, impl_->First<int64_t>("SELECT COALESCE(MAX(id),0) FROM work",
                                             [](SqlStmt* st) { return Int(st, 0); }));
    for (const WorkRow& w : rows) {
      SLUICE_TRY_STATUS(impl_->Run(
          "INSERT INTO work(run_id,task,attempt,request,labels,cpu_milli,memory_bytes,gpu_milli,"
          "state,created_us,ready_us) VALUES(?,?,?,?,?,?,?,?,'queued',?,?) "
          "ON CONFLICT(run_id,task,attempt) DO NOTHING",
          w.run_id, w.task, w.attempt, w.request, LabelsJson(w.labels), w.cpu_milli,
          w.memory_bytes, w.gpu_milli, w.created_us, w.ready_us));
    }
    using Key = std::tuple<std::string, std::string, int64_t>;
    SLUICE_TRY(added, (impl_->Rows<std::pair<Key, int64_t>>(
                          "SELECT run_id,task,attempt,id FROM work WHERE id>? ORDER BY id",
                          [](SqlStmt* st) {
                            return std::pair(Key(Text(st, 0), Text(st, 1), Int(st, 2)), Int(st, 3));
                          },
                          before->value_or(0))));
    std::map<Key, int64_t> ids(added->begin(), added->end());
    std::vector<int64_t> out;
    out.reserve(rows.size());
    for (const WorkRow& w : rows) {
      auto it = ids.find(Key(w.run_id, w.task, w.attempt));
      if (it == ids.end()) {
        return Fail(ErrorCode::kConflict, "attempt {} of task {} of run {} is queued already",
                    w.attempt, Quote(w.task), w.run_id);
      }
      out.push_back(it->second);
      ids.erase(it);  // the same attempt twice in one batch: the second is queued already
    }
    SLUICE_TRY_STATUS(impl_->Notify(kWorkChannel));
    return out;
  });
}

Result<std::vector<WorkRow>> Store::EndedWork(const std::string& run_id) {
  return impl_->Rows<WorkRow>("SELECT " WORK_COLUMNS " FROM work WHERE run_id=? AND collected=0 "
                              "AND state IN ('ended','lost') ORDER BY id",
                              ReadWork, run_id);
}

Status Store::CollectWork(const std::vector<int64_t>& ids) {
  if (ids.empty()) return {};
  return impl_->InTransaction([&]() -> Status {
    for (int64_t id : ids) SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET collected=1 WHERE id=?", id));
    return {};
  });
}

Status Store::CancelWork(int64_t id, const std::string& end_json) {
  return impl_->InTransaction([&]() -> Status {
    SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET state='ended', end_json=? WHERE id=? AND "
                                 "state='queued'", end_json, id));
    SLUICE_TRY(ended, impl_->Changes());
    if (*ended > 0) return {};
    return impl_->Run("UPDATE work SET cancel=1 WHERE id=? AND state='leased'", id);
  });
}

Result<std::optional<WorkRow>> Store::FindWork(const std::string& run_id, const std::string& task,
                                               int64_t attempt) {
  return impl_->First<WorkRow>("SELECT " WORK_COLUMNS " FROM work WHERE run_id=? AND task=? AND "
                               "attempt=?", ReadWork, run_id, task, attempt);
}

namespace {

// The most queued rows one lease request looks at.
constexpr int64_t kLeaseLook = 500;

// What matching a queued row needs, without its request.
struct Candidate {
  int64_t id = 0;
  WorkRow fit;  // labels and asks only
};

}  // namespace

Result<std::vector<WorkRow>> Store::LeaseWork(WorkerOffer offer, int64_t now_us,
                                              int64_t expires_us,
                                              const std::function<std::string()>& new_lease) {
  std::sort(offer.labels.begin(), offer.labels.end());
  if (offer.slots < 1) return std::vector<WorkRow>();
  // Idle workers ask often: a read first, so that an empty queue never takes the write lock
  // that the engines' commits need.
  auto any = impl_->First<int64_t>("SELECT id FROM work WHERE state='queued' LIMIT 1",
                                   [](SqlStmt* st) { return Int(st, 0); });
  if (!any) return std::unexpected(any.error());
  if (!*any) return std::vector<WorkRow>();
  return impl_->InTransaction([&]() -> Result<std::vector<WorkRow>> {
    std::vector<WorkRow> granted;
    std::set<int64_t> ids;  // granted
    ReadyToStartHistogram started;
    // The oldest queued rows first; those that do not fit this worker wait for another. SQL
    // leaves out the rows that ask more than is free, and, for a worker without labels, those
    // that ask for any; what is left is read in pages of the columns matching needs, so a
    // worker that takes all it is shown reads no more rows than it has slots (the requests are
    // read only for the rows granted). A bounded look keeps one request's transaction short.
    const bool any_labels = !offer.labels.empty();
    const int64_t page = std::max(offer.slots, 16);
    int64_t after = 0, looked = 0;
    while (offer.slots > 0 && looked < kLeaseLook) {
      auto rows = impl_->Rows<Candidate>(
          "SELECT id,labels,cpu_milli,memory_bytes,gpu_milli FROM work WHERE state='queued' AND "
          "id>? AND (?<0 OR cpu_milli<=?) AND (?<0 OR memory_bytes<=?) AND (?<0 OR gpu_milli<=?) "
          "AND (?<>0 OR labels='[]') ORDER BY id LIMIT ?",
          [](SqlStmt* st) {
            Candidate c;
            c.id = Int(st, 0);
            c.fit.labels = ParseLabels(Text(st, 1));
            c.fit.cpu_milli = Int(st, 2);
            c.fit.memory_bytes = Int(st, 3);
            c.fit.gpu_milli = Int(st, 4);
            return c;
          },
          after, offer.cpu_milli, offer.cpu_milli, offer.memory_bytes, offer.memory_bytes,
          offer.gpu_milli, offer.gpu_milli, int64_t{any_labels}, page);
      if (!rows) return std::unexpected(rows.error());
      for (const Candidate& c : *rows) {
        after = c.id;
        if (offer.slots < 1) break;
        if (!FitsWorker(c.fit, offer)) continue;
        // Sent without waiting (sql.h): the granted rows are read back whole below.
        SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET state='leased', worker=?, lease=?, "
                                     "lease_expires_us=? WHERE id=? AND state='queued'",
                                     offer.worker, new_lease(), expires_us, c.id));
        ids.insert(c.id);
        --offer.slots;
        if (offer.cpu_milli >= 0) offer.cpu_milli -= c.fit.cpu_milli;
        if (offer.memory_bytes >= 0) offer.memory_bytes -= c.fit.memory_bytes;
        if (offer.gpu_milli >= 0) offer.gpu_milli -= c.fit.gpu_milli;
      }
      looked += static_cast<int64_t>(rows->size());
      if (static_cast<int64_t>(rows->size()) < page) break;  // no more queued rows
    }
    if (ids.empty()) return granted;
    // The grants, in one read: the worker's leased rows between the first and the last granted
    // (ids ascend), of which only the ones granted now.
    SLUICE_TRY(rows, impl_->Rows<WorkRow>("SELECT " WORK_COLUMNS " FROM work WHERE "
                                          "state='leased' AND worker=? AND id>=? AND id<=? "
                                          "ORDER BY id", ReadWork, offer.worker, *ids.begin(),
                                          *ids.rbegin()));
    for (WorkRow& row : *rows) {
      if (!ids.contains(row.id)) continue;
      // A worker's attempt starts when a worker takes it: its sample of ready -> start.
      if (row.ready_us > 0) started.Add(now_us - row.ready_us);
      granted.push_back(std::move(row));
    }
    SLUICE_TRY_STATUS(impl_->AddReadyToStart(started));
    return granted;
  });
}

Result<HeartbeatAnswer> Store::Heartbeat(const std::string& worker,
                                         const std::vector<std::string>& held, int64_t expires_us) {
  return impl_->InTransaction([&]() -> Result<HeartbeatAnswer> {
    HeartbeatAnswer out;
    for (const std::string& lease : held) {
      auto row = impl_->First<WorkRow>("SELECT " WORK_COLUMNS " FROM work WHERE lease=?",
                                       ReadWork, lease);
      if (!row) return std::unexpected(row.error());
      if (!*row || (*row)->state != "leased" || (*row)->worker != worker) {
        out.kill.push_back(lease);  // lost, or never this worker's: its attempt must stop
        continue;
      }
      SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET lease_expires_us=? WHERE id=?", expires_us,
                                   (*row)->id));
      out.extended.push_back(lease);
      if ((*row)->cancel) out.kill.push_back(lease);
    }
    return out;
  });
}

Result<WorkRow> Store::LeasedWork(const std::string& worker, const std::string& lease) {
  auto row = impl_->First<WorkRow>("SELECT " WORK_COLUMNS " FROM work WHERE lease=?", ReadWork,
                                   lease);
  if (!row) return std::unexpected(row.error());
  if (!*row || (*row)->state != "leased" || (*row)->worker != worker) {
    return Fail(ErrorCode::kConflict, "lease {} is not held by this worker (it expired, and its "
                "attempt was recorded lost)", Quote(lease));
  }
  return std::move(**row);
}

Result<WorkRow> Store::EndWork(const std::string& worker, const std::string& lease,
                               const std::string& end_json) {
  return impl_->InTransaction([&]() -> Result<WorkRow> {
    auto row = LeasedWork(worker, lease);
    if (!row) return row;
    SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET state='ended', end_json=? WHERE id=?", end_json,
                                 row->id));
    SLUICE_TRY_STATUS(impl_->Notify(EndsChannel(row->run_id)));
    row->state = "ended";
    row->end = end_json;
    return row;
  });
}

// Round trips (sql.h): the leases `worker` holds are read in one query (a worker holds at
// most its slots), and the updates sent without waiting; the rows returned carry no request.
Result<std::vector<Result<WorkRow>>> Store::EndWorks(
    const std::string& worker, const std::vector<std::pair<std::string, std::string>>& ends) {
  return impl_->InTransaction([&]() -> Result<std::vector<Result<WorkRow>>> {
    SLUICE_TRY(held, impl_->Rows<WorkRow>("SELECT " WORK_COLUMNS_BUT_REQUEST " FROM work WHERE "
                                          "state='leased' AND worker=?", ReadWork, worker));
    std::unordered_map<std::string, WorkRow*> by_lease;
    for (WorkRow& row : *held) by_lease.emplace(row.lease, &row);
    std::vector<Result<WorkRow>> out;
    out.reserve(ends.size());
    std::set<std::string> runs;  // whose engines are told
    for (const auto& [lease, end_json] : ends) {
      auto it = by_lease.find(lease);
      if (it == by_lease.end()) {  // not held, or ended earlier in this batch
        out.push_back(Fail(ErrorCode::kConflict, "lease {} is not held by this worker (it "
                           "expired, and its attempt was recorded lost)", Quote(lease)));
        continue;
      }
      WorkRow row = std::move(*it->second);
      by_lease.erase(it);
      SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET state='ended', end_json=? WHERE id=?",
                                   end_json, row.id));
      row.state = "ended";
      row.end = end_json;
      runs.insert(row.run_id);
      out.push_back(std::move(row));
    }
    for (const std::string& run : runs) SLUICE_TRY_STATUS(impl_->Notify(EndsChannel(run)));
    return out;
  });
}

Result<int64_t> Store::ExpireLeases(int64_t now_us, const std::string& lost_end_json) {
  return impl_->InTransaction([&]() -> Result<int64_t> {
    SLUICE_TRY_STATUS(impl_->Run("UPDATE work SET state='lost', end_json=? WHERE state='leased' "
                                 "AND lease_expires_us<?", lost_end_json, now_us));
    return impl_->Changes();
  });
}

Status Store::GraceLeases(int64_t until_us) {
  return impl_->InTransaction([&]() -> Status {
    return impl_->Run("UPDATE work SET lease_expires_us=? WHERE state='leased' AND "
                      "lease_expires_us<?", until_us, until_us);
  });
}

Result<int64_t> Store::QueuedWork() {
  auto n = impl_->First<int64_t>("SELECT COUNT(*) FROM work WHERE state='queued'",
                                 [](SqlStmt* st) { return Int(st, 0); });
  if (!n) return std::unexpected(n.error());
  return n->value_or(0);
}

Status Store::RegisterWorker(const WorkerRow& w) {
  return impl_->InTransaction([&]() -> Status {
    return impl_->Run("INSERT INTO workers(id,name,version,labels,slots,registered_us,seen_us,"
                      "user_name) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                      "name=excluded.name, version=excluded.version, labels=excluded.labels, "
                      "slots=excluded.slots, seen_us=excluded.seen_us", w.id, w.name, w.version,
                      w.labels, w.slots, w.registered_us, w.seen_us, w.user);
  });
}

Result<std::optional<WorkerRow>> Store::FindWorker(const std::string& id) {
  return impl_->First<WorkerRow>(
      "SELECT id,name,version,labels,slots,registered_us,seen_us,user_name FROM workers WHERE id=?",
      [](SqlStmt* st) {
        return WorkerRow{Text(st, 0), Text(st, 1), Text(st, 2), Text(st, 3), Int(st, 4),
                         Int(st, 5), Int(st, 6), Text(st, 7)};
      },
      id);
}

Status Store::TouchWorker(const std::string& id, int64_t now_us) {
  return impl_->InTransaction([&]() -> Status {
    return impl_->Run("UPDATE workers SET seen_us=? WHERE id=?", now_us, id);
  });
}

Result<int64_t> Store::CountWorkers(int64_t since_us) {
  auto n = impl_->First<int64_t>("SELECT COUNT(*) FROM workers WHERE seen_us>=?",
                                 [](SqlStmt* st) { return Int(st, 0); }, since_us);
  if (!n) return std::unexpected(n.error());
  return n->value_or(0);
}

}  // namespace sluice
