// Text renderings of the views' JSON documents (render.h).
#include "cli/render.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include "cli/components.h"
#include "common/strings.h"

namespace sluice {

namespace {

// Field `key` of the map `v` as text ("" when absent or not a string), as an integer (0 when
// absent), and as a list (empty when absent).
const ValueList& List(const Value& v, const char* key = nullptr) {
  static const ValueList kEmpty;
  const Value* f = key ? (v.is_map() ? v.Find(key) : nullptr) : &v;
  return f && f->is_list() ? f->as_list() : kEmpty;
}

}  // namespace

std::optional<int64_t> ViewTimeMs(const std::string& ts) {
  if (ts.size() != 24 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' || ts[19] != '.' ||
      ts[23] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t at, size_t n) -> std::optional<int64_t> {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(ts.data() + at, ts.data() + at + n, v);
    if (ec != std::errc() || end != ts.data() + at + n) return std::nullopt;
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
       s = num(17, 2), ms = num(20, 3);
  if (!y || !mo || !d || !h || !mi || !s || !ms) return std::nullopt;
  const int64_t days = DaysFromCivil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
  return ((days * 24 + *h) * 60 + *mi) * 60000 + *s * 1000 + *ms;
}

std::string DurationBetween(const std::string& from, const std::string& to) {
  auto a = ViewTimeMs(from), b = ViewTimeMs(to);
  if (!a || !b) return "";
  return FormatDurationMs(*b - *a);
}

std::string RunsText(const Value& runs) {
  std::string out = fmt::format("{:<26} {:<24} {:<11} {:<24} {}\n", "ID", "PIPELINE", "STATUS",
                                "STARTED", "DURATION");
  for (const Value& r : List(runs)) {
    out += fmt::format("{:<26} {:<24} {:<11} {:<24} {}\n", DocText(r, "id"), DocText(r, "pipeline"),
                       DocText(r, "status"), DocText(r, "started"),
                       DurationBetween(DocText(r, "started"), DocText(r, "finished")));
  }
  return out;
}

std::string EventsText(const Value& events) {
  std::string out;
  for (const Value& e : List(events)) {
    std::string what = DocText(e, "task");
    if (int64_t attempt = DocInt(e, "attempt")) what += fmt::format(" #{}", attempt);
    std::string detail = DocText(e, "status");
    if (std::string label = DocText(e, "errorClass"); !label.empty()) detail += " " + label;
    if (std::string message = DocText(e, "message"); !message.empty()) detail += ": " + message;
    out += fmt::format("{:>6} {} {:<17} {:<28} {}\n", DocInt(e, "seq"), DocText(e, "time"),
                       DocText(e, "kind"), what, detail);
  }
  return out;
}

namespace {

// The components and decisions part of StatusText.
void AppendUsesAndDecisions(const Value& status, std::string& out) {
  std::vector<ComponentUse> uses;
  for (const Value& u : List(status, "components")) {
    uses.push_back({DocText(u, "task"), DocText(u, "uses"), DocText(u, "component"), DocText(u, "version")});
  }
  if (!uses.empty()) {
    out += "\ncomponents (reference -> the version that ran):\n";
    for (const auto& line : ComponentUsesText(uses)) out += line + "\n";
  }
  const ValueList& decisions = List(status, "decisions");
  if (decisions.empty()) return;
  int allowed = 0;
  for (const Value& d : decisions) allowed += DocText(d, "result") == "allow";
  out += fmt::format("\npolicy decisions: {} ({} allow)\n", decisions.size(), allowed);
  for (const Value& d : decisions) {
    if (DocText(d, "result") == "allow") continue;
    const std::string task = DocText(d, "task");
    out += fmt::format("  {:<9} {:<7} {}/{}{}{}: {}\n", DocText(d, "stage"), DocText(d, "result"),
                       DocText(d, "policy"), DocText(d, "rule"), task.empty() ? "" : " on ", task,
                       DocText(d, "message"));
  }
}

}  // namespace

std::string StatusText(const Value& status) {
  const std::string id = DocText(status, "id"), shown = DocText(status, "status");
  const std::string started = DocText(status, "started"), finished = DocText(status, "finished");
  std::string out = fmt::format("run {}  pipeline {}  status {}\n", id, DocText(status, "pipeline"), shown);
  out += fmt::format("started {}  finished {}  {}\n", started, finished.empty() ? "-" : finished,
                     DurationBetween(started, finished));
  out += fmt::format("\n{:<28} {:<16} {:<8} {:<10} {}\n", "TASK", "STATE", "ATTEMPTS", "DURATION",
                     "MESSAGE");
  for (const Value& t : List(status, "tasks")) {
    out += fmt::format("{:<28} {:<16} {:<8} {:<10} {}\n", DocText(t, "name"), DocText(t, "state"),
                       DocInt(t, "attempts"), DurationBetween(DocText(t, "started"), DocText(t, "finished")),
                       DocText(t, "message"));
  }
  AppendUsesAndDecisions(status, out);
  if (shown == "interrupted") {
    out += fmt::format("\nthe process running it stopped; continue with: sluice resume {}\n", id);
  }
  return out;
}

std::string ApprovalsText(const Value& approvals) {
  std::string out = fmt::format("{:<22} {:<20} {:<9} {:<6} {:<24} {}\n", "RUN", "TASK", "STATE",
                                "VOTES", "DEADLINE", "APPROVERS");
  for (const Value& r : List(approvals)) {
    std::vector<std::string> accounts;  // distinct accounts that approved (DistinctApprovers)
    for (const Value& v : List(r, "votes")) {
      const Value* yes = v.Find("approve");
      const std::string account = DocText(v, "account");
      if (yes && yes->is_bool() && yes->as_bool() &&
          std::find(accounts.begin(), accounts.end(), account) == accounts.end()) {
        accounts.push_back(account);
      }
    }
    const Value* req = r.is_map() ? r.Find("request") : nullptr;
    const Value* quorum = req && req->is_map() ? req->Find("quorum") : nullptr;
    const Value* approvers = req && req->is_map() ? req->Find("approvers") : nullptr;
    const std::string deadline = DocText(r, "deadline");
    out += fmt::format("{:<22} {:<20} {:<9} {:<6} {:<24} {}\n", DocText(r, "run"), DocText(r, "task"),
                       DocText(r, "state"),
                       fmt::format("{}/{}", accounts.size(),
                                   quorum && quorum->is_int() ? quorum->as_int() : 1),
                       deadline.empty() ? "-" : deadline, approvers ? approvers->ToJson() : "");
    if (std::string instr = req ? DocText(*req, "instructions") : ""; !instr.empty()) {
      out += "  " + instr + "\n";
    }
  }
  return out;
}

std::string VoteText(const Value& vote) {
  const Value* approve = vote.is_map() ? vote.Find("approve") : nullptr;
  return fmt::format("{} {} of run {} ({} of {} approvals)\n",
                     approve && approve->is_bool() && approve->as_bool() ? "approved" : "rejected",
                     DocText(vote, "task"), DocText(vote, "run"), DocInt(vote, "approvals"),
                     DocInt(vote, "quorum"));
}

std::string BreakersText(const Value& breakers) {
  std::string out = fmt::format("{:<24} {:<12} {:<24} {:<7} {:<9} {:<9} {}\n", "BREAKER", "STATE",
                                "SINCE", "CALLS", "FAILURES", "SLOW", "WINDOW");
  auto pct = [](const Value& b, const char* key) {
    const Value* x = b.Find(key);
    return x && x->is_number() && x->to_double() >= 0 ? fmt::format("{:.0f}%", x->to_double())
                                                      : std::string("-");
  };
  for (const Value& b : List(breakers)) {
    const std::string since = DocText(b, "since");
    out += fmt::format("{:<24} {:<12} {:<24} {:<7} {:<9} {:<9} {}\n", DocText(b, "name"),
                       DocText(b, "state"), since.empty() ? "-" : since, DocInt(b, "calls"),
                       pct(b, "failureRate"), pct(b, "slowCallRate"), DocText(b, "window"));
    for (const Value& t : List(b, "transitions")) {
      out += fmt::format("  {}  {} -> {}  {} ({})\n", DocText(t, "time"), DocText(t, "from"), DocText(t, "to"),
                         DocText(t, "reason"), DocText(t, "who"));
    }
  }
  return out;
}

std::string BreakerOrderText(const Value& order) {
  std::string out;
  for (const Value& t : List(order, "transitions")) {
    out += fmt::format("{}: {} -> {}\n", DocText(order, "name"), DocText(t, "from"), DocText(t, "to"));
  }
  return out;
}

std::string DecisionsText(const Value& decisions) {
  std::string out;
  for (const Value& d : List(decisions)) {
    const std::string message = DocText(d, "message");
    out += fmt::format("{:<7} {}/{}{}{}\n", DocText(d, "result"), DocText(d, "policy"), DocText(d, "rule"),
                       message.empty() ? "" : ": ", message);
  }
  return out;
}

std::string AuditCheckText(const Value& check) {
  if (int64_t broken = DocInt(check, "brokenAt")) {
    return fmt::format("audit log BROKEN at record {}: {}\n", broken, DocText(check, "why"));
  }
  std::string out = fmt::format("audit log ok: {} records, head {}\n", DocInt(check, "records"),
                                DocText(check, "head"));
  if (std::string why = DocText(check, "why"); !why.empty()) out += "note: " + why + "\n";
  return out;
}

}  // namespace sluice
