// Policies from the command line: admission at `run` and `validate`, `sluice policy eval` and
// `sluice policy test`.
#include "cli/policy_cmds.h"

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/render.h"
#include "common/strings.h"
#include "policy/policy.h"
#include "expr/expr.h"
#include "spec/yaml_tree.h"

namespace sluice {

namespace {

// Adds `extra` to `set`. A policy's name is unique across its sources: a pipeline's or a
// --policies policy named like a central one is refused, so no decision, waiver or reader can
// take one for the other. Promotion policies are central only: the pipeline a promotion rule
// judges must not be where the rule is written.
Status AddPolicies(PolicySet& set, const PolicySet& extra) {
  for (const auto& p : extra.policies) {
    if (p->stage == "promotion") {
      return FailAt(p->loc, "policy {} has stage promotion, which only a central policy may have "
                    "(STATE/policies): an environment's promotion rules are not the pipeline's "
                    "to write", Quote(p->name));
    }
    for (const auto& other : set.policies) {
      if (other->name != p->name) continue;
      const bool central = other->origin == PolicyOrigin::kCentral ||
                           p->origin == PolicyOrigin::kCentral;
      const PolicySpec& mine = other->origin == PolicyOrigin::kCentral ? *p : *other;
      const PolicySpec& theirs = other->origin == PolicyOrigin::kCentral ? *other : *p;
      if (central) {
        return FailAt(mine.loc, "policy {} has the name of a central policy ({}); rename it",
                      Quote(p->name), theirs.loc.ToString());
      }
      return FailAt(p->loc, "policy {} is declared twice (also at {})", Quote(p->name),
                    other->loc.ToString());
    }
    set.policies.push_back(p);
  }
  set.waivers.insert(set.waivers.end(), extra.waivers.begin(), extra.waivers.end());
  return {};
}

}  // namespace

Result<std::vector<Decision>> Admit(FileSystem& fs, const Plan& plan, const Value& params,
                                    const PolicySet& central, const std::string& policies_dir,
                                    int64_t now_us, const TimeZones* zones) {
  PolicySet set = central;
  SLUICE_TRY_STATUS(AddPolicies(set, PolicySet{plan.policies, plan.waivers}));
  if (!policies_dir.empty()) {
    SLUICE_TRY(extra, LoadPolicies(fs, policies_dir, PolicyOrigin::kFlag));
    SLUICE_TRY_STATUS(AddPolicies(set, *extra));
  }
  PolicyScope scope = AdmissionScope(plan);
  std::vector<const PolicySpec*> admitting;
  for (const auto& p : set.policies) {
    if (p->stage == "admission" && PolicyMatches(*p, scope)) admitting.push_back(p.get());
  }
  std::vector<Decision> out;
  if (admitting.empty()) return out;
  // Built only when a policy will read it: ~1.7 KB a task, which a 100,000-task run without
  // admission policies paid in memory (175 MB) and time (~0.2 s) for nothing.
  Value input = AdmissionInput(plan, params);
  for (const PolicySpec* p : admitting) {
    auto ds = EvaluatePolicy(*p, input, set.waivers, scope, now_us, zones);
    out.insert(out.end(), ds.begin(), ds.end());
  }
  return out;
}

Result<PolicySet> CentralPolicies(Env& env, const GlobalOptions& g, Store* store) {
  SLUICE_TRY(set, LoadCentralPolicies(env.files(), g.state_dir));
  if (store) {
    SLUICE_TRY(granted, GrantedWaivers(*store));
    set->waivers.insert(set->waivers.end(), granted->begin(), granted->end());
  }
  return set;
}

void PrintDecisions(const std::vector<Decision>& ds, bool all) {
  for (const auto& d : ds) {
    if (!all && d.result == "allow") continue;
    std::fprintf(stderr, "policy %-7s %s/%s%s%s%s\n", d.result.c_str(), d.policy.c_str(),
                 d.rule.c_str(), d.task.empty() ? "" : (" on " + d.task).c_str(),
                 d.message.empty() ? "" : ": ", d.message.c_str());
  }
}

std::vector<DecisionRow> DecisionRows(const std::vector<Decision>& ds, const std::string& run_id,
                                      const std::string& stage, int64_t now_us) {
  std::vector<DecisionRow> rows;
  for (const auto& d : ds) {
    rows.push_back({now_us, run_id, stage, d.task, d.policy, d.rule, d.policy_hash, d.input_digest,
                    d.result, d.message, d.waiver});
  }
  return rows;
}

// The scope an ad-hoc input stands for: the pipeline (object.name at admission,
// object.pipeline at a gate) and the task.
PolicyScope ScopeOf(const Value& input) {
  PolicyScope scope;
  const Value* object = input.is_map() ? input.Find("object") : nullptr;
  auto text = [&](const char* k) -> std::string {
    const Value* v = object && object->is_map() ? object->Find(k) : nullptr;
    return v && v->is_string() ? v->as_string() : "";
  };
  scope.pipeline = !text("pipeline").empty() ? text("pipeline") : text("name");
  scope.task = text("task");
  return scope;
}

std::vector<Decision> EvaluateInput(Env& env, const PolicySet& set, const Value& input) {
  PolicyScope scope = ScopeOf(input);
  std::vector<Decision> all;
  for (const auto& p : set.policies) {
    auto ds = EvaluatePolicy(*p, input, set.waivers, scope, env.clock().NowUs(), env.time_zones());
    all.insert(all.end(), ds.begin(), ds.end());
  }
  return all;
}

// The policies `sluice policy eval` judges with: the file's, or without one the state folder's
// central policies and granted waivers, as POST /api/v1/policy/eval judges with the server's.
static Result<PolicySet> PoliciesToEval(Env& env, const GlobalOptions& g, const std::string& file) {
  if (!file.empty()) return LoadPolicies(env.files(), file, PolicyOrigin::kFlag);
  SLUICE_TRY(store, OpenStore(env, g, false));
  return CentralPolicies(env, g, store->get());
}

Result<Value> ReadPolicyInput(Env& env, const std::string& path) {
  auto text = env.files().ReadFile(path);
  if (!text) return Fail(ErrorCode::kInvalidInput, "{}", text.error().message);
  auto input = ParseJson(*text);
  if (!input || !input->is_map() || !input->Find("object")) {
    return Fail(ErrorCode::kInvalidInput, "{}: the input is a JSON object with an \"object\" field{}",
                path, input ? "" : ": " + input.error().message);
  }
  return input;
}

int CmdPolicyEval(Env& env, const GlobalOptions& g, const std::string& file,
                  const std::string& input_path) {
  auto set = PoliciesToEval(env, g, file);
  if (!set) return Report(set.error());
  auto input = ReadPolicyInput(env, input_path);
  if (!input) return Report(input.error());
  const std::vector<Decision> all = EvaluateInput(env, *set, *input);
  ValueList l;
  for (const auto& d : all) l.push_back(DecisionToValue(d));
  const Value list(std::move(l));
  // The text is drawn from the JSON, as it is against a server (render.h).
  std::fputs(g.json ? (list.ToJson() + "\n").c_str() : DecisionsText(list).c_str(), stdout);
  return AnyDenied(all) ? 1 : 0;
}

namespace {

// One test file: `policies` (paths, relative to it) and `cases`, each with an input (inline
// or `inputFile`), an optional `now` for waiver expiry, and `expect`: POLICY/RULE -> result.
struct TestOutcome {
  int passed = 0, failed = 0;
};

class NoVariables : public Activation {
 public:
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    return Fail(ErrorCode::kInvalidInput, "unknown name {}", Quote(path[0]));
  }
};

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

Status RunTestFile(Env& env, const std::string& path, TestOutcome* out) {
  FileSystem& fs = env.files();
  SLUICE_TRY(text, fs.ReadFile(path));
  SLUICE_TRY(tree, YamlTree::Parse(*text));
  auto at = [&](const YNode& n, std::string why) {
    return Fail(ErrorCode::kInvalidInput, "{}:{}:{}: {}", path, n.Mark().line + 1,
                n.Mark().column + 1, why);
  };
  if ((*tree)->documents().empty()) return at(YNode(), "empty test file");
  const YNode& doc = (*tree)->documents()[0];
  if (!doc.IsMap() || !doc["cases"].IsSequence() || !doc["policies"].IsSequence()) {
    return at(doc, "a policy test file holds `policies:` (paths) and `cases:` (a list)");
  }
  PolicySet set;
  for (const auto& p : doc["policies"]) {
    if (!p.IsScalar()) return at(p, "a policies entry is a path");
    SLUICE_TRY(loaded, LoadPolicies(fs, PathJoin(Dirname(path), p.Scalar()), PolicyOrigin::kFlag));
    set.policies.insert(set.policies.end(), loaded->policies.begin(), loaded->policies.end());
    set.waivers.insert(set.waivers.end(), loaded->waivers.begin(), loaded->waivers.end());
  }
  for (const auto& c : doc["cases"]) {
    std::string name = c["name"].IsScalar() ? std::string(c["name"].Scalar()) : "(unnamed)";
    Value input;
    if (c["inputFile"].IsScalar()) {
      SLUICE_TRY(json, fs.ReadFile(PathJoin(Dirname(path), c["inputFile"].Scalar())));
      SLUICE_TRY(v, ParseJson(*json));
      input = *v;
    } else if (c["input"].IsScalar()) {
      SLUICE_TRY(v, ParseJson(c["input"].Scalar()));
      input = *v;
    } else {
      return at(c, "a case needs input (a JSON text) or inputFile");
    }
    if (!c["expect"].IsMap()) return at(c, "a case needs expect: {POLICY/RULE: result}");
    int64_t now = env.clock().NowUs();
    if (c["now"].IsScalar()) {
      auto t = Expression::Parse(fmt::format("int(timestamp('{}'))", c["now"].Scalar()));
      auto v = t ? t->Evaluate(NoVariables()) : Result<Value>(std::unexpected(t.error()));
      if (!v || !v->is_int()) return at(c["now"], "now is an RFC 3339 time, e.g. 2026-12-01T00:00:00Z");
      now = v->as_int() * 1'000'000;
    }
    PolicyScope scope = ScopeOf(input);
    std::map<std::string, std::string> got;
    for (const auto& p : set.policies) {
      for (const auto& d : EvaluatePolicy(*p, input, set.waivers, scope, now)) {
        got[d.policy + "/" + d.rule] = d.result;
      }
    }
    std::vector<std::string> wrong;
    for (auto it = c["expect"].begin(); it != c["expect"].end(); ++it) {
      std::string key(it->first.Scalar()), want(it->second.Scalar());
      auto g = got.find(key);
      if (g == got.end()) wrong.push_back(fmt::format("{}: no such rule was evaluated", key));
      else if (g->second != want) wrong.push_back(fmt::format("{}: {} (expected {})", key, g->second, want));
    }
    if (wrong.empty()) {
      ++out->passed;
      std::printf("ok   %s: %s\n", BaseName(path).c_str(), name.c_str());
    } else {
      ++out->failed;
      std::printf("FAIL %s: %s\n", BaseName(path).c_str(), name.c_str());
      for (const auto& w : wrong) std::printf("     %s\n", w.c_str());
    }
  }
  return {};
}

}  // namespace

int CmdPolicyTest(Env& env, const GlobalOptions& g, const std::string& dir) {
  std::string root = env.files().Absolute(dir);
  auto names = env.files().ListDir(root);
  if (!names) return Report(Error(ErrorCode::kInvalidInput, names.error().message));
  TestOutcome out;
  int files = 0;
  for (const auto& n : *names) {
    if (!n.ends_with(".yaml") && !n.ends_with(".yml")) continue;
    ++files;
    if (auto s = RunTestFile(env, PathJoin(root, n), &out); !s) return Report(s.error());
  }
  if (files == 0) {
    return Report(Error(ErrorCode::kInvalidInput, fmt::format("{}: no test files (*.yaml)", root)));
  }
  std::printf("policy tests: %d passed, %d failed\n", out.passed, out.failed);
  return out.failed ? 1 : 0;
}

Result<Admission> AdmitNewRun(Env& env, Store& store, const std::string& actor, const Plan& plan,
                              const Value& params, const PolicySet& central,
                              const std::string& policies_dir) {
  Admission out;
  SLUICE_TRY(decisions, Admit(env.files(), plan, params, central, policies_dir,
                              env.clock().NowUs(), env.time_zones()));
  out.decisions = std::move(*decisions);
  out.denied = AnyDenied(out.decisions);
  if (!out.denied) return out;
  // Refused: no run is created; the audit log keeps who tried what, and why it was denied.
  ValueList denied;
  for (const auto& d : out.decisions) {
    if (d.result == "deny") denied.push_back(DecisionToValue(d));
  }
  auto audit = AuditOf(env, actor, "run.denied", "", plan.pipeline->name,
                       Value(ValueMap{{"specDigest", Value(plan.digest)},
                                      {"decisions", Value(std::move(denied))}}));
  if (auto a = store.AppendAudit(std::move(audit)); !a) return std::unexpected(a.error());
  return out;
}

}  // namespace sluice
