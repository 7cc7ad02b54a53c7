// The notifications' outbox (store.h, NotificationRow; docs/notifications.md).
//
// Design: `notify_watermarks` holds how far the leader has read two logs, the events
// ("events") and the breaker transitions ("breakers"); `notifications` holds one row per
// (hook, source), what a delivery loop POSTs and what became of its attempts. The leader reads
// past the watermark and stores the new rows and the new watermark in one transaction, with the
// watermark compared and set: a leader that dies before the commit stored neither (the next one
// reads the same events again), one that dies after has nothing left to do, and a deposed leader
// that still runs a pass finds the watermark moved and stores nothing. UNIQUE (hook, source)
// keeps a row from ever being enqueued twice even so. The payload is made when enqueued, so a
// retry sends the same bytes and a later change of the run does not change what was said.
// Rejected: a delivery per event row without a watermark (a scan of every event ever, each
// pass); a trigger in SQL (two dialects, and hooks live in a file the store does not read).
#include <tuple>

#include "store/store_impl.h"

namespace sluice {

namespace {

#define NOTIFICATION_COLUMNS                                                                  \
  "id,hook,event,source,run_id,payload,state,attempts,last_status,last_error,created_us," \
  "next_us,delivered_us"

NotificationRow ReadNotification(SqlStmt* st) {
  NotificationRow r;
  r.id = Int(st, 0);
  r.hook = Text(st, 1);
  r.event = Text(st, 2);
  r.source = Text(st, 3);
  r.run_id = Text(st, 4);
  r.payload = Text(st, 5);
  r.state = Text(st, 6);
  r.attempts = Int(st, 7);
  r.last_status = Int(st, 8);
  r.last_error = Text(st, 9);
  r.created_us = Int(st, 10);
  r.next_us = Int(st, 11);
  r.delivered_us = Int(st, 12);
  return r;
}

}  // namespace

Result<int64_t> Store::LastBreakerTransitionSeq() {
  auto v = impl_->First<int64_t>("SELECT COALESCE(MAX(seq),0) FROM breaker_transitions",
                                 [](SqlStmt* st) { return Int(st, 0); });
  if (!v) return std::unexpected(v.error());
  return v->value_or(0);
}

Result<NotifyWatermark> Store::NotificationWatermark() {
  using Row = std::pair<std::string, int64_t>;
  auto read = [&]() -> Result<std::optional<NotifyWatermark>> {
    auto rows = impl_->Rows<Row>("SELECT source, seq FROM notify_watermarks",
                                 [](SqlStmt* st) { return Row{Text(st, 0), Int(st, 1)}; });
    if (!rows) return std::unexpected(rows.error());
    if (rows->size() != 2) return std::nullopt;
    NotifyWatermark w;
    for (const auto& [source, seq] : *rows) (source == "events" ? w.event_seq : w.breaker_seq) = seq;
    return w;
  };
  // Read without the write lock: this runs every second on the leader.
  SLUICE_TRY(found, read());
  if (*found) return **found;
  return impl_->InTransaction([&]() -> Result<NotifyWatermark> {
    // The first look: start at the newest of each log (another leader may just have).
    SLUICE_TRY(events, LastEventSeq());
    SLUICE_TRY(breakers, LastBreakerTransitionSeq());
    for (const auto& [source, seq] : {Row{"events", *events}, Row{"breakers", *breakers}}) {
      SLUICE_TRY_STATUS(impl_->Run("INSERT INTO notify_watermarks(source, seq) VALUES(?,?) "
                                   "ON CONFLICT (source) DO NOTHING", source, seq));
    }
    SLUICE_TRY(stored, read());
    if (!*stored) return Fail(ErrorCode::kStore, "store: the notifications' watermark is missing");
    return **stored;
  });
}

Result<std::vector<Event>> Store::NotableEvents(int64_t after, int64_t upto, int limit) {
  // Only the kinds a hook may be told of are read: every attempt's events are not.
  auto seqs = impl_->Rows<int64_t>(
      "SELECT seq FROM events WHERE seq>? AND seq<=? AND kind IN "
      "('run.finished','approval.requested') ORDER BY seq LIMIT ?",
      [](SqlStmt* st) { return Int(st, 0); }, after, upto, static_cast<int64_t>(limit));
  if (!seqs) return std::unexpected(seqs.error());
  std::vector<Event> out;
  for (int64_t seq : *seqs) {
    SLUICE_TRY(one, LoadEventsAfter(seq - 1, "", 1));
    if (!one->empty() && one->front().seq == seq) out.push_back(std::move(one->front()));
  }
  return out;
}

Result<std::vector<std::pair<int64_t, BreakerTransitionRow>>> Store::OpeningTransitions(
    int64_t after, int64_t upto, int limit) {
  using Row = std::pair<int64_t, BreakerTransitionRow>;
  return impl_->Rows<Row>(
      "SELECT seq,name,from_state,to_state,reason,who,time_us FROM breaker_transitions "
      "WHERE seq>? AND seq<=? AND to_state IN ('open','forced-open') ORDER BY seq LIMIT ?",
      [](SqlStmt* st) -> Row {
        return {Int(st, 0), {Text(st, 1), Text(st, 2), Text(st, 3), Text(st, 4), Text(st, 5),
                             Int(st, 6)}};
      },
      after, upto, static_cast<int64_t>(limit));
}

Status Store::EnqueueNotifications(const NotifyWatermark& from, const NotifyWatermark& to,
                                   const std::vector<NotificationRow>& rows) {
  return impl_->InTransaction([&]() -> Status {
    using Move = std::tuple<const char*, int64_t, int64_t>;  // source, from, to
    for (const auto& [source, old_seq, new_seq] :
         {Move{"events", from.event_seq, to.event_seq},
          Move{"breakers", from.breaker_seq, to.breaker_seq}}) {
      SLUICE_TRY_STATUS(impl_->Run("UPDATE notify_watermarks SET seq=? WHERE source=? AND seq=?",
                                   new_seq, source, old_seq));
      SLUICE_TRY(moved, impl_->Changes());
      if (*moved != 1) {
        return Fail(ErrorCode::kConflict, "the notifications' watermark moved (another leader)");
      }
    }
    for (const NotificationRow& r : rows) {
      SLUICE_TRY_STATUS(impl_->Run(
          "INSERT INTO notifications(hook,event,source,run_id,payload,state,attempts,"
          "last_status,last_error,created_us,next_us,delivered_us) "
          "VALUES(?,?,?,?,?,'pending',0,0,'',?,?,0) ON CONFLICT (hook, source) DO NOTHING",
          r.hook, r.event, r.source, r.run_id, r.payload, r.created_us, r.next_us));
    }
    return {};
  });
}

Result<std::vector<NotificationRow>> Store::DueNotifications(int64_t now_us, int limit) {
  return impl_->Rows<NotificationRow>(
      "SELECT " NOTIFICATION_COLUMNS " FROM notifications WHERE state='pending' AND next_us<=? "
      "ORDER BY id LIMIT ?",
      ReadNotification, now_us, static_cast<int64_t>(limit));
}

Status Store::RecordAttempt(const NotificationRow& r) {
  return impl_->InTransaction([&]() -> Status {
    return impl_->Run(
        "UPDATE notifications SET state=?, attempts=?, last_status=?, last_error=?, next_us=?, "
        "delivered_us=? WHERE id=? AND state='pending'",
        r.state, r.attempts, r.last_status, r.last_error, r.next_us, r.delivered_us, r.id);
  });
}

Result<std::vector<NotificationRow>> Store::ListNotifications(bool failed_only, int limit) {
  if (failed_only) {
    return impl_->Rows<NotificationRow>(
        "SELECT " NOTIFICATION_COLUMNS " FROM notifications WHERE state='failed' "
        "ORDER BY id DESC LIMIT ?", ReadNotification, static_cast<int64_t>(limit));
  }
  return impl_->Rows<NotificationRow>(
      "SELECT " NOTIFICATION_COLUMNS " FROM notifications ORDER BY id DESC LIMIT ?",
      ReadNotification, static_cast<int64_t>(limit));
}

}  // namespace sluice
