// What the command files share (cli_support.h): error reporting, opening the store, run ids,
// folders and shown statuses, audit records, faults and params files.
#include "cli/cli_support.h"

#include <cstdio>

#include <fmt/format.h>

#include "cli/identity.h"
#include "common/outcome.h"
#include "common/strings.h"
#include "common/value.h"
#include "env/faults.h"
#include "spec/params_file.h"
#include "store/store.h"

namespace sluice {

Result<Principal> OwnerOrGranted(Env& env, const GlobalOptions& g, std::string_view right,
                                 std::string_view doing) {
  SLUICE_TRY(who, NewEmbeddedIdentity(env, g.state_dir, g.as)->Current());
  const FileInfo state = env.files().Stat(g.state_dir);
  if (state.exists && state.uid != env.Uid() && !who->Has(right)) {
    return Fail(ErrorCode::kInvalidInput, "{} may not {} here: only the state folder's owner and "
                "accounts users.yaml grants \"{}\" may", who->Actor(), doing, right);
  }
  return *who;
}

static int ExitCodeFor(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidInput:
    case ErrorCode::kNotFound:
    case ErrorCode::kConflict: return 2;
    case ErrorCode::kCancelled: return 1;
    default: return 3;
  }
}

int Report(const Error& e) {
  if (e.code == ErrorCode::kInvalidInput) {
    std::fprintf(stderr, "%s\n", e.message.c_str());
  } else {
    std::fprintf(stderr, "sluice: %s\n", e.message.c_str());
  }
  return ExitCodeFor(e);
}

std::string NewRunId(Env& env) {
  int64_t us = env.clock().NowUs();
  std::string ts = FormatTimestampMs(us / 1000);  // 2026-11-29T00:55:00.123Z
  std::string compact;
  for (char c : ts.substr(0, 19)) {
    if (c != '-' && c != ':') compact += c == 'T' ? '-' : c;
  }
  return fmt::format("{}-{:08x}", compact, static_cast<uint32_t>(env.Random64() >> 32));
}

// The set-group-id bit on the state folder says it is shared through its Unix group.
void ProtectStateFiles(Env& env, const std::string& state_dir) {
  FileInfo info = env.files().Stat(state_dir);
  env.RestrictNewFiles(info.is_dir && (info.mode & 02000) != 0);
}

// A state folder made by an older sluice (0755, its files 0644) is closed when it is opened:
// others lose every permission on the folder (and the group too, unless it is shared), which
// closes everything inside it. Best effort: only the folder's owner may change it.
static void CloseStateFolder(Env& env, const std::string& state_dir) {
  FileSystem& fs = env.files();
  FileInfo info = fs.Stat(state_dir);
  const bool shared = (info.mode & 02000) != 0;
  const int allowed = shared ? 07770 : 07700;
  if (info.is_dir && (info.mode & ~allowed) != 0 && fs.Stat(PathJoin(state_dir, "sluice.db")).exists) {
    (void)fs.SetMode(state_dir, info.mode & allowed);
  }
}

// The store --store (or $SLUICE_STORE) names: postgresql://... or sqlite:PATH.
static Result<std::unique_ptr<Store>> OpenNamedStore(const std::string& store, const StoreFaults& faults) {
  if (store.starts_with("postgresql://") || store.starts_with("postgres://")) {
    return Store::Open(store, faults);
  }
  if (!store.starts_with("sqlite:") || store.size() == 7) {
    return Fail(ErrorCode::kInvalidInput, "--store takes postgresql://... or sqlite:PATH, not {}",
                Quote(store));
  }
  return Store::Open(store.substr(7), faults);
}

std::string DefaultStateDir(Env& env) {
  auto home = env.GetVar("SLUICE_HOME");
  return home && !home->empty() ? *home : ".sluice";
}

Result<std::unique_ptr<Store>> OpenStore(Env& env, const GlobalOptions& g, bool create,
                                         const StoreFaults& faults) {
  FileSystem& fs = env.files();
  if (!fs.Stat(g.state_dir).is_dir) {
    if (!create && !g.store.empty()) return OpenNamedStore(g.store, faults);
    if (!create) {
      return Fail(ErrorCode::kNotFound, "no state in {} (nothing has run here yet; --state-dir "
                  "or SLUICE_HOME choose another place)", g.state_dir);
    }
    if (auto s = fs.MakeDirs(g.state_dir); !s) return std::unexpected(s.error());
  }
  CloseStateFolder(env, g.state_dir);
  // --store: the runs are elsewhere; the state folder still holds logs, journals and artifacts.
  if (!g.store.empty()) return OpenNamedStore(g.store, faults);
  const std::string db = PathJoin(g.state_dir, "sluice.db");
  // Made here, as the umask allows (0600, or 0660 shared), rather than by SQLite (0644 before
  // the umask): its -wal and -shm files take the database's mode.
  if (!fs.Stat(db).exists) {
    if (auto f = fs.OpenAppend(db); !f) return std::unexpected(f.error());
  }
  return Store::Open(db, faults);
}

AuditRecord AuditOf(Env& env, std::string actor, std::string action, std::string run_id,
                    std::string subject, const Value& details) {
  AuditRecord r;
  r.time_us = env.clock().NowUs();
  r.actor = std::move(actor);
  r.action = std::move(action);
  r.run_id = std::move(run_id);
  r.subject = std::move(subject);
  r.details = CanonicalJson(details);
  return r;
}

Result<AuditRecord> AuditBy(Env& env, const GlobalOptions& g, std::string action,
                            std::string run_id, std::string subject, const Value& details) {
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return std::unexpected(who.error());
  return AuditOf(env, who->Actor(), std::move(action), std::move(run_id), std::move(subject), details);
}

Status Audit(Env& env, const GlobalOptions& g, Store& store, std::string action,
             std::string run_id, std::string subject, const Value& details) {
  auto r = AuditBy(env, g, std::move(action), std::move(run_id), std::move(subject), details);
  if (!r) return std::unexpected(r.error());
  auto appended = store.AppendAudit(std::move(*r));
  if (!appended) return std::unexpected(appended.error());
  return {};
}

std::string RunDir(Env& env, const GlobalOptions& g, const std::string& id) {
  return env.files().Absolute(fmt::format("{}/runs/{}", g.state_dir, id));
}

std::string ShownStatus(Env& env, const GlobalOptions& g, const RunRecord& run) {
  if ((run.status == "running" || run.status == "pending") &&
      !env.IsLocked(RunDir(env, g, run.id) + "/lock", nullptr)) {
    return "interrupted";
  }
  return run.status;
}

bool IsFinishedRun(std::string_view status) {
  auto s = ParseRunStatus(status);
  return s && IsFinished(*s);
}

void PublishLeftJournal(Env& env, const GlobalOptions& g, Store& store, const RunRecord& run) {
  if (IsFinishedRun(run.status)) return;  // a finished run's journal was published and removed
  FileSystem& fs = env.files();
  std::string dir = RunDir(env, g, run.id);
  if (!fs.Stat(dir + "/journal").exists) return;
  auto lock = env.TryLock(dir + "/lock", std::to_string(env.Pid()));
  if (!lock || !*lock) return;  // executed by a live process, or a folder this user cannot write
  if (store.OpenJournal(fs, dir + "/journal", run.id)) (void)store.CloseJournal();
}

// The faults $SLUICE_FAULTS asks to inject (env/faults.h), for tests and chaos experiments.
StoreFaults StoreFaultsOf(const FaultPlan& plan) {
  return {plan.CountFor(FaultRule::Kind::kFsyncFail), plan.CountFor(FaultRule::Kind::kDiskFull)};
}

Result<FaultPlan> FaultsFromEnv(Env& env) {
  auto text = env.GetVar("SLUICE_FAULTS");
  if (!text || text->empty()) return FaultPlan{};
  auto plan = FaultPlan::Parse(*text);
  if (plan) std::fprintf(stderr, "sluice: injecting faults: %s\n", text->c_str());
  return plan;
}

std::string Ts(int64_t us) { return FormatTimestampMs(us / 1000); }

Result<std::map<std::string, std::string>> ParamsWithFile(
    Env& env, const Plan& plan, const std::string& params_file,
    const std::map<std::string, std::string>& overrides) {
  if (params_file.empty()) return overrides;
  SLUICE_TRY(from_file, ReadParamsFile(env.files(), plan, params_file));
  for (const auto& [name, text] : overrides) (*from_file)[name] = text;  // -p wins
  return std::move(*from_file);
}

Status AddImageMaps(const std::vector<std::string>& args, ArgoImportOptions& argo) {
  for (const auto& m : args) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
      return Fail(ErrorCode::kInvalidInput, "sluice: --image-map expects IMAGE=PROGRAM, got \"{}\"",
                  m);
    }
    argo.image_map.emplace_back(m.substr(0, eq), m.substr(eq + 1));
  }
  return {};
}

}  // namespace sluice
