// Retention (prune.h): pruning finished runs and collecting the artifacts nothing refers to.
#include "cli/prune.h"

#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "cli/cli_support.h"
#include "common/strings.h"

namespace sluice {

namespace {

// The tombstone left of `run`: who pruned it, when, and what it was.
Event TombstoneOf(const RunRecord& run, const PruneOptions& o, int64_t now_us) {
  Event e;
  e.run_id = run.id;
  e.time_us = now_us;
  e.kind = EventKind::kRunPruned;
  e.status = run.status;
  e.message = fmt::format("pruned by {} on {} ({}; it {} on {})", o.actor, Ts(now_us), o.reason,
                          run.status, Ts(run.finished_us));
  e.data = Value(ValueMap{{Value("by"), Value(o.actor)},
                          {Value("pipeline"), Value(run.pipeline)},
                          {Value("namespace"), Value(run.ns)},
                          {Value("status"), Value(run.status)},
                          {Value("created_us"), Value(run.created_us)},
                          {Value("finished_us"), Value(run.finished_us)}})
               .ToJson();
  return e;
}

// Prunes one run: its lock taken first (a run some process holds is kept, and none can reopen
// it meanwhile), then its records, then its folder. False when it was kept as busy.
Result<bool> PruneOne(Env& env, const GlobalOptions& g, Store& store, const RunRecord& run,
                      const PruneOptions& o, PruneReport* report) {
  const std::string dir = RunDir(env, g, run.id);
  std::unique_ptr<FileLock> lock;
  if (env.files().Stat(dir).is_dir) {
    auto taken = env.TryLock(dir + "/lock", std::to_string(env.Pid()));
    if (!taken) return std::unexpected(taken.error());
    if (!*taken) return false;
    lock = std::move(*taken);
  }
  const int64_t now = env.clock().NowUs();
  Value details(ValueMap{{Value("reason"), Value(o.reason)},
                         {Value("status"), Value(run.status)},
                         {Value("pipeline"), Value(run.pipeline)}});
  auto pruned = store.PruneRun(run.id, TombstoneOf(run, o, now),
                               AuditOf(env, o.actor, "run.pruned", run.id, "", details));
  if (!pruned) {
    // Reopened (a retry) since it was listed: kept, as a busy one is.
    if (pruned.error().code == ErrorCode::kConflict) return false;
    return std::unexpected(pruned.error());
  }
  if (auto s = env.files().RemoveAll(dir); !s) report->warnings.push_back(s.error().message);
  return true;
}

// The digest folders under STATE/artifacts/sha256 that no path in `keep` is inside and that are
// older than the grace time: removed (or, for a dry run, counted).
void CollectArtifacts(Env& env, const GlobalOptions& g, const std::vector<std::string>& keep,
                      bool dry_run, PruneReport* report) {
  FileSystem& fs = env.files();
  const std::string root = fs.Absolute(g.state_dir) + "/artifacts/sha256";
  // The "XX/DIGEST" of every referenced path. Matched by digest, not by the whole path: the
  // state folder may be named otherwise now (a trailing slash, a symbolic link, a move).
  std::set<std::string> kept;
  for (const auto& path : keep) {
    const size_t at = path.rfind("/sha256/");
    if (at == std::string::npos) continue;
    const size_t xx = at + 8;
    const size_t end = path.find('/', path.find('/', xx) + 1);
    kept.insert(path.substr(xx, end == std::string::npos ? std::string::npos : end - xx));
  }
  const int64_t old = env.clock().NowUs() - kArtifactGraceUs;
  auto prefixes = fs.ListDir(root);
  if (!prefixes) return;  // no artifacts yet
  for (const auto& xx : *prefixes) {
    auto digests = fs.ListDir(root + "/" + xx);
    if (!digests) continue;
    for (const auto& d : *digests) {
      const std::string dir = root + "/" + xx + "/" + d;
      const FileInfo f = fs.Stat(dir);
      if (!f.is_dir || kept.count(xx + "/" + d) || f.mtime_us > old) continue;
      if (!dry_run) {
        if (auto s = fs.RemoveAll(dir); !s) {
          report->warnings.push_back(s.error().message);
          continue;
        }
      }
      ++report->artifacts_removed;
    }
  }
}

// Prunes the finished runs of namespace `ns` ("" = every one) that ended before `cutoff_us`,
// in batches, into `report`.
Status PrunePass(Env& env, const GlobalOptions& g, Store& store, const PruneOptions& o,
                 const std::string& ns, int64_t cutoff_us, PruneReport* report) {
  constexpr int kBatch = 500;
  std::set<std::string> busy;
  for (;;) {
    const size_t asked = kBatch + busy.size();  // the kept ones come back each time
    SLUICE_TRY(runs, store.FinishedRunsBefore(cutoff_us, static_cast<int>(asked), ns));
    bool any = false;
    for (const auto& run : *runs) {
      if (busy.count(run.id)) continue;
      any = true;
      if (o.dry_run) {
        report->pruned.push_back(run);
        continue;
      }
      SLUICE_TRY(done, PruneOne(env, g, store, run, o, report));
      if (*done) {
        report->pruned.push_back(run);
        if (o.max_runs > 0 && report->pruned.size() >= static_cast<size_t>(o.max_runs)) {
          report->more = true;
          return {};
        }
      } else {
        busy.insert(run.id);
        report->busy.push_back(run.id);
      }
    }
    if (!any || o.dry_run || runs->size() < asked) return {};
  }
}

}  // namespace

Result<PruneReport> PruneRuns(Env& env, const GlobalOptions& g, Store& store,
                              const PruneOptions& o) {
  PruneReport report;
  const int64_t now = env.clock().NowUs();
  if (o.namespace_older_than_us.empty()) {
    SLUICE_TRY_STATUS(PrunePass(env, g, store, o, "", now - o.older_than_us, &report));
  } else {
    // Each namespace by its own policy, else by the default (0: kept).
    SLUICE_TRY(namespaces, store.RunNamespaces());
    for (const auto& ns : *namespaces) {
      auto own = o.namespace_older_than_us.find(ns);
      const int64_t age = own != o.namespace_older_than_us.end() ? own->second : o.older_than_us;
      if (age > 0) SLUICE_TRY_STATUS(PrunePass(env, g, store, o, ns, now - age, &report));
      if (report.more) return report;
    }
  }
  if (report.more) return report;
  // (A dry run still counts what the runs it lists refer to as kept: its artifact count is
  // what goes at least.)
  SLUICE_TRY(keep, store.ReferencedArtifacts());
  CollectArtifacts(env, g, *keep, o.dry_run, &report);
  return report;
}

int CmdPrune(Env& env, const GlobalOptions& g, const std::string& older_than, bool dry_run) {
  auto ms = ParseDurationMs(older_than);
  if (!ms || *ms < 0) {
    return Report(Error{ErrorCode::kInvalidInput,
                        fmt::format("--older-than {}: not a duration (30d, 12h, 90m)",
                                    Quote(older_than))});
  }
  // Pruning deletes the records of other people's runs.
  auto who = OwnerOrGranted(env, g, kRightPrune, "prune runs");
  if (!who) return Report(who.error());
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  PruneOptions o;
  o.older_than_us = *ms * 1000;
  o.dry_run = dry_run;
  o.actor = who->Actor();
  o.reason = "sluice prune --older-than " + older_than;
  auto report = PruneRuns(env, g, **store, o);
  if (!report) return Report(report.error());
  return PrintPruned(g.json, PruneAnswer(*report, dry_run), older_than);
}

Value PruneAnswer(const PruneReport& report, bool dry_run) {
  ValueList ids, busy, pruned, warnings;
  for (const auto& r : report.pruned) {
    ids.push_back(Value(r.id));
    pruned.push_back(Value(ValueMap{{"id", Value(r.id)}, {"pipeline", Value(r.pipeline)},
                                    {"status", Value(r.status)},
                                    {"finished", Value(Ts(r.finished_us))}}));
  }
  for (const auto& id : report.busy) busy.push_back(Value(id));
  for (const auto& w : report.warnings) warnings.push_back(Value(w));
  return Value(ValueMap{{Value("dry_run"), Value(dry_run)},
                        {Value("runs"), Value(std::move(ids))},
                        {Value("busy"), Value(std::move(busy))},
                        {Value("artifacts"), Value(int64_t{report.artifacts_removed})},
                        {Value("pruned"), Value(std::move(pruned))},
                        {Value("warnings"), Value(std::move(warnings))}});
}

int PrintPruned(bool json, const Value& answer, const std::string& older_than) {
  auto field = [&](const char* k) {
    const Value* f = answer.is_map() ? answer.Find(k) : nullptr;
    return f ? *f : Value();
  };
  auto text = [](const Value& v, const char* k) {
    const Value* f = v.is_map() ? v.Find(k) : nullptr;
    return f && f->is_string() ? f->as_string() : std::string();
  };
  const Value warnings = field("warnings"), busy = field("busy"), pruned = field("pruned");
  for (const Value& w : warnings.is_list() ? warnings.as_list() : ValueList{}) {
    std::fprintf(stderr, "sluice: warning: %s\n", w.ToText().c_str());
  }
  const bool dry_run = field("dry_run").is_bool() && field("dry_run").as_bool();
  if (json) {  // the document of `prune -o json`: without the details the text shows
    ValueMap doc;
    for (const char* k : {"dry_run", "runs", "busy", "artifacts"}) doc.emplace_back(Value(k), field(k));
    std::printf("%s\n", Value(std::move(doc)).ToJson().c_str());
    return 0;
  }
  const char* verb = dry_run ? "would prune" : "pruned";
  const ValueList runs = pruned.is_list() ? pruned.as_list() : ValueList{};
  for (const Value& r : runs) {
    std::printf("%s %s (%s, %s, finished %s)\n", verb, text(r, "id").c_str(),
                text(r, "pipeline").c_str(), text(r, "status").c_str(), text(r, "finished").c_str());
  }
  for (const Value& id : busy.is_list() ? busy.as_list() : ValueList{}) {
    std::printf("kept %s: a process holds it\n", id.ToText().c_str());
  }
  const Value artifacts = field("artifacts");
  std::printf("%s %zu runs finished more than %s ago; %s %lld unreferenced artifacts\n", verb,
              runs.size(), older_than.c_str(), dry_run ? "would collect at least" : "collected",
              static_cast<long long>(artifacts.is_int() ? artifacts.as_int() : 0));
  return 0;
}

}  // namespace sluice
