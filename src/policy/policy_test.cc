// Policies: matching, rules, variables, failurePolicy, waivers.
#include "common/strings.h"
#include "policy/policy.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/loader.h"

namespace sluice {
namespace policy_test {

constexpr int64_t kNow = 1'800'000'000'000'000;  // 2027-01-15

PolicySpec Policy(const std::string& spec) {
  auto f = ParseSpecFile("/p.yaml", "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n" + spec);
  EXPECT_TRUE(f) << f.error().message;
  return std::move(f->policies.at(0));
}

std::shared_ptr<const WaiverSpec> Waiver(const std::string& spec) {
  auto f = ParseSpecFile("/w.yaml", "apiVersion: sluice/v1\nkind: Waiver\nmetadata: {name: w}\nspec:\n" + spec);
  EXPECT_TRUE(f) << f.error().message;
  return std::make_shared<const WaiverSpec>(std::move(f->waivers.at(0)));
}

Value Input(const std::string& json) { return *ParseJson(json); }

std::string Results(const std::vector<Decision>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.rule + "=" + d.result + " ";
  return out;
}

TEST(Policy, RulesVariablesAndMessages) {
  PolicySpec p = Policy(
      "  variables:\n    - {name: small, expression: \"object.tasks.filter(t, t.cpu < 1.0).map(t, t.name)\"}\n"
      "  rules:\n"
      "    - {name: enough-cpu, expression: \"size(variables.small) == 0\", "
      "messageExpression: \"'too little cpu: ' + variables.small.join(', ')\"}\n"
      "    - {name: named, expression: \"object.name.startsWith('ml-')\", action: warn, message: use ml-}\n"
      "    - {name: always, expression: \"true\", action: audit}\n");
  auto ds = EvaluatePolicy(p, Input(R"({"object": {"name": "etl", "tasks": [{"name": "a", "cpu": 0.5},
                                       {"name": "b", "cpu": 2.0}]}})"), {}, {}, kNow);
  EXPECT_EQ(Results(ds), "enough-cpu=deny named=warn always=allow ");
  EXPECT_EQ(ds[0].message, "too little cpu: a");
  EXPECT_EQ(ds[1].message, "use ml-");
  EXPECT_EQ(ds[0].policy_hash.size(), 64u);
  EXPECT_EQ(ds[0].input_digest.size(), 64u);
  EXPECT_TRUE(AnyDenied(ds));
}

TEST(Policy, AnEvaluationErrorDeniesUnlessFailurePolicyIsIgnore) {
  const char* rules = "  rules:\n    - {name: r, expression: \"object.missing > 1\"}\n";
  auto closed = EvaluatePolicy(Policy(rules), Input(R"({"object": {}})"), {}, {}, kNow);
  EXPECT_EQ(closed[0].result, "deny");
  EXPECT_NE(closed[0].message.find("evaluation error"), std::string::npos) << closed[0].message;
  auto open = EvaluatePolicy(Policy(std::string(rules) + "  failurePolicy: ignore\n"),
                             Input(R"({"object": {}})"), {}, {}, kNow);
  EXPECT_EQ(open[0].result, "allow");
  // A rule that gives a non-bool is an evaluation error too.
  auto nonbool = EvaluatePolicy(Policy("  rules:\n    - {name: r, expression: \"1\"}\n"),
                                Input(R"({"object": {}})"), {}, {}, kNow);
  EXPECT_EQ(nonbool[0].result, "deny");
}

TEST(Policy, WaiversApplyInScopeUntilTheyExpire) {
  PolicySpec p = Policy("  rules:\n    - {name: r, expression: \"false\"}\n");
  PolicyScope scope;
  scope.pipeline = "legacy-etl";
  scope.task = "load";
  auto good = Waiver("  policy: p\n  rule: r\n  scope: {pipeline: legacy-*, task: load}\n"
                     "  justification: retired next quarter\n  grantedBy: carol\n  expires: 2027-06-30\n");
  auto expired = Waiver("  policy: p\n  justification: retired last quarter\n  grantedBy: carol\n"
                        "  expires: 2026-06-30\n");
  auto elsewhere = Waiver("  policy: p\n  scope: {pipeline: other}\n  justification: not this one at all\n"
                          "  grantedBy: carol\n  expires: 2030-01-01\n");
  auto waived = EvaluatePolicy(p, Input(R"({"object": {}})"), {good}, scope, kNow);
  EXPECT_EQ(waived[0].result, "waived");
  EXPECT_EQ(waived[0].waiver, "w");
  EXPECT_NE(waived[0].message.find("carol"), std::string::npos);
  EXPECT_FALSE(AnyDenied(waived));
  EXPECT_EQ(EvaluatePolicy(p, Input("{}"), {expired, elsewhere}, scope, kNow)[0].result, "deny");
}

TEST(Policy, MatchByPipelineTaskLabelAndComponent) {
  PolicySpec p = Policy("  match:\n    pipelines: [ml-*]\n    tasks: [deploy-*]\n"
                        "    labels: {team: ml*}\n    components: [\"registry-push@1.*\"]\n"
                        "  rules:\n    - {name: r, expression: \"true\"}\n");
  PolicyScope s{"ml-train", {{"team", "ml-platform"}}, "deploy-prod", {"registry-push@1.2.0"}, {}};
  EXPECT_TRUE(PolicyMatches(p, s));
  PolicyScope other = s;
  other.pipeline = "etl";
  EXPECT_FALSE(PolicyMatches(p, other));
  other = s;
  other.labels.clear();
  EXPECT_FALSE(PolicyMatches(p, other));
  other = s;
  other.components = {"registry-push@2.0.0"};
  EXPECT_FALSE(PolicyMatches(p, other));
  EXPECT_TRUE(GlobMatch("a*b?d", "aXXbcd"));
  EXPECT_FALSE(GlobMatch("a*b?d", "aXXbd"));
}

// match.environments: the environments a pipeline (admission) or a deploy task (gate,
// promotion) deploys to; a policy that names some matches nothing that deploys nowhere.
TEST(Policy, MatchByEnvironment) {
  PolicySpec p = Policy("  stage: promotion\n  match:\n    environments: [prod*]\n"
                        "  rules:\n    - {name: r, expression: \"true\"}\n");
  EXPECT_EQ(p.stage, "promotion");
  PolicyScope s;
  s.pipeline = "ml";
  EXPECT_FALSE(PolicyMatches(p, s));
  s.environments = {"staging"};
  EXPECT_FALSE(PolicyMatches(p, s));
  s.environments = {"staging", "prod-eu"};
  EXPECT_TRUE(PolicyMatches(p, s));
}

TEST(Policy, AdmissionInputDescribesTheCompiledPipeline) {
  MemFileSystem fs(std::map<std::string, std::string>{{"/p.yaml",
                     "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: ml, labels: {team: x}}\n"
                     "spec:\n  tasks:\n    - {name: a, run: [x], timeout: 1m, retry: 2}\n"
                     "    - {name: b, needs: [a], run: [x], compensate: {run: [y]}}\n"}});
  auto plan = LoadPlan(fs, "/p.yaml");
  ASSERT_TRUE(plan);
  Value in = AdmissionInput(**plan, Value(ValueMap{}));
  const Value& tasks = *in.Find("object")->Find("tasks");
  ASSERT_EQ(tasks.as_list().size(), 2u);
  EXPECT_EQ(tasks.as_list()[0].Find("timeout")->to_double(), 60.0);
  EXPECT_EQ(tasks.as_list()[0].Find("retry")->Find("limit")->as_int(), 2);
  EXPECT_TRUE(tasks.as_list()[1].Find("handlers")->Find("compensate")->as_bool());
  EXPECT_EQ(tasks.as_list()[1].Find("needs")->ToJson(), "[\"a\"]");
  EXPECT_EQ(AdmissionScope(**plan).labels.at("team"), "x");
}

// A rule over every task (e.g. each has a timeout) must not be lifted by moving a task into a
// DAG template: admission sees the template's tasks too, named after it.
TEST(Policy, AdmissionInputListsTheTasksOfDagTemplates) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: ml}\n"
                  "spec:\n  imports: [/lib.yaml]\n  tasks:\n    - {name: a, uses: t@1}\n"},
      {"/lib.yaml", "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: t, version: 1.0.0}\n"
                    "spec:\n  tasks:\n    - {name: hidden, run: [x]}\n"}});
  auto plan = LoadPlan(fs, "/p.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  Value in = AdmissionInput(**plan, Value(ValueMap{}));
  const auto& tasks = in.Find("object")->Find("tasks")->as_list();
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[1].Find("name")->as_string(), "t@1.0.0/hidden");
  EXPECT_EQ(tasks[1].Find("template")->as_string(), "t@1.0.0");
  EXPECT_EQ(tasks[1].Find("timeout")->to_double(), 0.0);
}

// The reported attack: a pipeline's own waiver (grantedBy its submitter, expiring 2099) lifted
// a central deny. A waiver covers only policies of its own origin.
TEST(Policy, AWaiverCoversOnlyPoliciesOfItsOwnOrigin) {
  PolicySpec central = Policy("  rules:\n    - {name: r, expression: \"false\"}\n");
  central.origin = PolicyOrigin::kCentral;
  auto own = Waiver("  policy: p\n  justification: the submitter says so\n  grantedBy: dave\n"
                    "  expires: 2099-01-01\n");
  auto flag = std::make_shared<WaiverSpec>(*own);
  flag->origin = PolicyOrigin::kFlag;
  auto ds = EvaluatePolicy(central, Input(R"({"object": {}})"), {own, flag}, {}, kNow);
  EXPECT_EQ(Results(ds), "r=deny ");
  EXPECT_EQ(ds[0].source, "central");
  auto granted = std::make_shared<WaiverSpec>(*own);
  granted->origin = PolicyOrigin::kCentral;
  granted->granted_by = "carol";
  ds = EvaluatePolicy(central, Input(R"({"object": {}})"), {own, granted}, {}, kNow);
  EXPECT_EQ(Results(ds), "r=waived ");
  EXPECT_EQ(ds[0].waiver_granted_by, "carol");
  Value v = DecisionToValue(ds[0]);
  EXPECT_EQ(v.Find("grantedBy")->as_string(), "carol");
  EXPECT_EQ(v.Find("source")->as_string(), "central");
  // And a pipeline's waiver still covers the pipeline's own policy.
  PolicySpec mine = Policy("  rules:\n    - {name: r, expression: \"false\"}\n");
  EXPECT_EQ(Results(EvaluatePolicy(mine, Input(R"({"object": {}})"), {own}, {}, kNow)), "r=waived ");
}

// STATE/policies/ is trusted as users.yaml is: owned by the state folder's owner, writable by
// no one else, no symbolic link. Anything else refuses, with one line naming the file.
TEST(Policy, CentralPoliciesAreReadOnlyFromATrustedFolder) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.WriteFile("/s/sluice.db", ""));
  EXPECT_TRUE(LoadCentralPolicies(fs, "/s")->policies.empty());  // no folder: none
  ASSERT_TRUE(fs.WriteFile("/s/policies/a.yaml",
                           "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: a}\nspec:\n"
                           "  rules: [{name: r, expression: \"true\"}]\n"));
  ASSERT_TRUE(fs.WriteFile("/s/policies/notes.txt", "ignored"));
  auto set = LoadCentralPolicies(fs, "/s");
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->policies.size(), 1u);
  EXPECT_EQ(set->policies[0]->origin, PolicyOrigin::kCentral);
  fs.SetOwner("/s/policies/a.yaml", 1000, 0664);
  auto bad = LoadCentralPolicies(fs, "/s");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("/s/policies/a.yaml is not trusted"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("mode 0664"), std::string::npos) << bad.error().message;
  fs.SetOwner("/s/policies/a.yaml", 1001, 0644);
  EXPECT_FALSE(LoadCentralPolicies(fs, "/s"));
  fs.SetOwner("/s/policies/a.yaml", 1000, 0644);
  fs.SetOwner("/s/policies", 1000, 0777);
  EXPECT_FALSE(LoadCentralPolicies(fs, "/s"));
  fs.SetOwner("/s/policies", 1000, 0755);
  EXPECT_TRUE(LoadCentralPolicies(fs, "/s"));
}

}  // namespace policy_test
}  // namespace sluice
