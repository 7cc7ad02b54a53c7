#include "env/faults.h"

#include <cstdlib>

#include "common/sha256.h"
#include "common/strings.h"

namespace sluice {

namespace {

struct KindEntry {
  std::string_view name;
  FaultRule::Kind kind;
  bool has_value;
};
constexpr KindEntry kKinds[] = {
    {"spawn-fail", FaultRule::Kind::kSpawnFail, false}, {"exit", FaultRule::Kind::kExit, true},
    {"signal", FaultRule::Kind::kSignal, true},         {"hang", FaultRule::Kind::kHang, false},
    {"delay", FaultRule::Kind::kDelay, true},           {"commit-fail", FaultRule::Kind::kCommitFail, false},
    {"fsync-fail", FaultRule::Kind::kFsyncFail, false}, {"disk-full", FaultRule::Kind::kDiskFull, false}};

std::string EnvValue(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& kv : env) {
    if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=') {
      return kv.substr(key.size() + 1);
    }
  }
  return "";
}

}  // namespace

Result<FaultPlan> FaultPlan::Parse(std::string_view text) {
  FaultPlan plan;
  for (const auto& raw : Split(text, ',')) {
    std::string entry(Trim(raw));
    if (entry.empty()) continue;
    auto bad = [&](std::string_view why) {
      return Fail(ErrorCode::kInvalidInput, "SLUICE_FAULTS: {}: {} (see docs/failure-handling.md)",
                  Quote(entry), why);
    };
    size_t at = entry.find('@');
    if (at == std::string::npos) return bad("give where it strikes: @N or @task:NAME");
    std::string what = entry.substr(0, at), where = entry.substr(at + 1);
    std::string name = what.substr(0, what.find('='));
    const KindEntry* k = nullptr;
    for (const auto& c : kKinds) {
      if (c.name == name) k = &c;
    }
    if (!k) return bad("unknown fault; known: spawn-fail, exit=N, signal=N, hang, delay=D, commit-fail, fsync-fail, disk-full");
    FaultRule r;
    r.kind = k->kind;
    r.text = entry;
    bool has_value = what.find('=') != std::string::npos;
    if (has_value != k->has_value) return bad(k->has_value ? "it needs a value (=N)" : "it takes no value");
    if (has_value) {
      std::string v = what.substr(what.find('=') + 1);
      if (r.kind == FaultRule::Kind::kDelay) {
        auto ms = ParseDurationMs(v);
        if (!ms) return bad("delay must be a duration such as 500ms");
        r.value = static_cast<int>(*ms);
      } else {
        int max = r.kind == FaultRule::Kind::kExit ? 255 : 64;
        if (!AllDigits(v) || v.empty() || v.size() > 3 || std::stoi(v) < 1 || std::stoi(v) > max) {
          return bad(fmt::format("the value must be from 1 to {}", max));
        }
        r.value = std::stoi(v);
      }
    }
    bool by_count_only = r.kind == FaultRule::Kind::kCommitFail || r.kind == FaultRule::Kind::kFsyncFail ||
                         r.kind == FaultRule::Kind::kDiskFull;
    if (size_t tilde = where.find('~'); tilde != std::string::npos) {
      const std::string rate = where.substr(tilde + 1);
      char* end = nullptr;
      const double p = std::strtod(rate.c_str(), &end);
      if (rate.empty() || *end != '\0' || !(p > 0 && p <= 1)) {
        return bad("~RATE must be a number above 0 and at most 1");
      }
      if (!StartsWith(where, "task:")) return bad("~RATE applies to @task:NAME only");
      r.rate = p;
      where = where.substr(0, tilde);
    }
    if (StartsWith(where, "task:")) {
      if (by_count_only) return bad("store faults strike the Nth commit or fsync: @N");
      std::string task = where.substr(5);
      if (size_t hash = task.find('#'); hash != std::string::npos) {
        std::string n = task.substr(hash + 1);
        if (!AllDigits(n) || n.empty() || n.size() > 6) return bad("#ATTEMPT must be a number");
        r.attempt = std::stoi(n);
        task = task.substr(0, hash);
      }
      if (task.empty()) return bad("task: needs a name");
      r.task = task;
    } else if (AllDigits(where) && !where.empty() && where.size() <= 9 && std::stoi(where) >= 1) {
      r.nth = std::stoi(where);
    } else {
      return bad("give where it strikes: @N (1, 2, ...) or @task:NAME[#ATTEMPT]");
    }
    plan.rules.push_back(std::move(r));
  }
  return plan;
}

int FaultPlan::CountFor(FaultRule::Kind kind) const {
  for (const auto& r : rules) {
    if (r.kind == kind && r.nth > 0) return r.nth;
  }
  return 0;
}

Result<int> FaultyLauncher::Spawn(const SpawnRequest& req) {
  ++spawns_;
  std::string task = EnvValue(req.env, "SLUICE_TASK");
  std::string attempt = EnvValue(req.env, "SLUICE_ATTEMPT");
  const FaultRule* hit = nullptr;
  for (const auto& r : plan_.rules) {
    if (r.kind == FaultRule::Kind::kCommitFail || r.kind == FaultRule::Kind::kFsyncFail ||
        r.kind == FaultRule::Kind::kDiskFull) {
      continue;
    }
    bool match = r.nth ? r.nth == spawns_
                       : GlobMatch(r.task, task) &&
                             (r.attempt == 0 || std::to_string(r.attempt) == attempt);
    if (match && r.rate < 1) {
      // Drawn from the attempt's identity, not a clock: a journal can name what was struck.
      const std::string digest = Sha256Hex(fmt::format(
          "{}\n{}\n{}\n{}", EnvValue(req.env, "SLUICE_RUN_ID"), task, attempt, r.text));
      match = static_cast<double>(std::stoull(digest.substr(0, 13), nullptr, 16)) /
                  static_cast<double>(1ULL << 52) < r.rate;
    }
    if (match) {
      hit = &r;
      break;
    }
  }
  if (!hit) return real_.Spawn(req);
  SpawnRequest stand_in = req;
  auto shell = [&](std::string script) {
    stand_in.argv = {"/bin/sh", "-c", std::move(script)};
  };
  switch (hit->kind) {
    case FaultRule::Kind::kSpawnFail:
      return Fail(ErrorCode::kIo, "cannot start {}: injected fault {}", req.argv.empty() ? "" : req.argv[0],
                  hit->text);
    case FaultRule::Kind::kExit: shell(fmt::format("exit {}", hit->value)); break;
    case FaultRule::Kind::kSignal: shell(fmt::format("kill -{} $$", hit->value)); break;
    case FaultRule::Kind::kHang: shell("exec sleep 2147483647"); break;
    case FaultRule::Kind::kDelay:
      // Late, not blocking: the stand-in sleeps, then becomes the attempt's own command.
      stand_in.argv = {"/bin/sh", "-c", fmt::format("sleep {:.3f}; exec \"$@\"", hit->value / 1000.0),
                       "sh"};
      stand_in.argv.insert(stand_in.argv.end(), req.argv.begin(), req.argv.end());
      break;
    default: break;
  }
  return real_.Spawn(stand_in);
}

Status FaultySink::Commit() {
  if (++commits_ == fail_commit_) {
    return Fail(ErrorCode::kStore, "store: commit {} failed (injected fault commit-fail@{})",
                commits_, fail_commit_);
  }
  return real_.Commit();
}

}  // namespace sluice
