// `sluice notifications ls` (notifications.h).
#include "cli/notifications.h"

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "common/strings.h"

namespace sluice {

namespace {

// A time as the API gives times: RFC 3339 in UTC, "" when there is none.
Value TimeOf(int64_t us) { return Value(us > 0 ? UtcOfUs(us) : std::string()); }

std::string Field(const Value& item, const char* name) {
  const Value* v = item.is_map() ? item.Find(name) : nullptr;
  if (!v || v->is_null() || (v->is_string() && v->as_string().empty())) return "-";
  return v->is_string() ? v->as_string() : v->ToJson();
}

}  // namespace

Value NotificationsJson(const std::vector<NotificationRow>& rows) {
  ValueList items;
  for (const NotificationRow& r : rows) {
    auto payload = ParseJson(r.payload);
    const Value* text = payload && payload->is_map() ? payload->Find("text") : nullptr;
    items.push_back(Value(ValueMap{
        {"id", Value(r.id)}, {"hook", Value(r.hook)}, {"event", Value(r.event)},
        {"source", Value(r.source)}, {"run", r.run_id.empty() ? Value() : Value(r.run_id)},
        {"state", Value(r.state)}, {"attempts", Value(r.attempts)},
        {"lastStatus", r.last_status > 0 ? Value(r.last_status) : Value()},
        {"lastError", Value(r.last_error)}, {"created", TimeOf(r.created_us)},
        {"next", TimeOf(r.state == "pending" ? r.next_us : 0)},
        {"delivered", TimeOf(r.delivered_us)},
        {"text", text && text->is_string() ? *text : Value("")}}));
  }
  return Value(std::move(items));
}

std::string NotificationsText(const Value& items) {
  std::string out = fmt::format("{:<6} {:<16} {:<19} {:<10} {:>8} {:>6}  {}\n", "ID", "HOOK",
                                "EVENT", "STATE", "ATTEMPTS", "LAST", "ABOUT");
  if (!items.is_list()) return out;
  for (const Value& item : items.as_list()) {
    const std::string state = Field(item, "state");
    std::string about = Field(item, "text");
    if (state != "delivered" && Field(item, "lastError") != "-") {
      about += " (" + Field(item, "lastError") + ")";
    }
    if (state == "pending") about += "; next " + Field(item, "next");
    out += fmt::format("{:<6} {:<16} {:<19} {:<10} {:>8} {:>6}  {}\n", Field(item, "id"),
                       Field(item, "hook"), Field(item, "event"), state, Field(item, "attempts"),
                       Field(item, "lastStatus"), about);
  }
  return out;
}

int CmdNotificationsLs(Env& env, const GlobalOptions& g, bool failed_only, int limit) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto rows = (*store)->ListNotifications(failed_only, limit);
  if (!rows) return Report(rows.error());
  const Value items = NotificationsJson(*rows);
  if (g.json) std::printf("%s\n", items.ToJson().c_str());
  else std::fputs(NotificationsText(items).c_str(), stdout);
  return 0;
}

}  // namespace sluice
