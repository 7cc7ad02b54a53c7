// What the loader refuses so that a policy and a process see the same thing (issue 11, section
// 2): code that would splice a placeholder (sh -c, python -c), NUL characters in strings and
// params, and policy rules naming fields their input can never have.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "policy/policy.h"
#include "spec/inline_code.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {
namespace trust_checks_test {

// The index FindInlineCode reports for a run list, or -1.
int CodeAt(std::vector<std::string_view> args) {
  auto c = FindInlineCode(args);
  return c ? static_cast<int>(c->index) : -1;
}

TEST(InlineCode, FindsTheCommandStringOfShellsThroughFlagsAndWrappers) {
  EXPECT_EQ(CodeAt({"sh", "-c", "echo x"}), 2);
  EXPECT_EQ(CodeAt({"/bin/sh", "-ec", "echo x"}), 2);
  EXPECT_EQ(CodeAt({"bash", "-xc", "echo x", "name", "arg"}), 2);
  EXPECT_EQ(CodeAt({"bash", "-euo", "pipefail", "-c", "echo x"}), 4);
  EXPECT_EQ(CodeAt({"bash", "-o", "pipefail", "-c", "echo x"}), 4);
  EXPECT_EQ(CodeAt({"/usr/bin/env", "bash", "-c", "echo x"}), 3);
  EXPECT_EQ(CodeAt({"env", "-i", "A=1", "zsh", "-c", "echo x"}), 5);
  EXPECT_EQ(CodeAt({"timeout", "5", "nice", "dash", "-c", "echo x"}), 5);
  EXPECT_EQ(CodeAt({"ksh", "-c", "--", "echo x"}), 3);
  EXPECT_EQ(CodeAt({"sh", "script.sh", "-c", "x"}), -1);  // a script's own arguments
  EXPECT_EQ(CodeAt({"sh", "-e", "script.sh"}), -1);
  EXPECT_EQ(CodeAt({"echo", "-c", "x"}), -1);
}

TEST(InlineCode, FindsTheCodeOfPythonPerlRubyNodePhpAndAwk) {
  EXPECT_EQ(CodeAt({"python3", "-c", "print(1)"}), 2);
  EXPECT_EQ(CodeAt({"/usr/bin/python3.12", "-Bc", "print(1)"}), 2);
  EXPECT_EQ(CodeAt({"python", "-cprint(1)"}), 1);
  EXPECT_EQ(CodeAt({"python3", "-W", "ignore", "-c", "print(1)"}), 4);
  EXPECT_EQ(CodeAt({"python3", "-m", "tool", "-c", "x"}), -1);
  EXPECT_EQ(CodeAt({"python3", "train.py", "-c", "x"}), -1);
  EXPECT_EQ(CodeAt({"python3", "train.py", "--c", "x"}), -1);
  EXPECT_EQ(CodeAt({"perl", "-ne", "print"}), 2);
  EXPECT_EQ(CodeAt({"ruby", "-e", "puts 1"}), 2);
  EXPECT_EQ(CodeAt({"node", "--eval", "x"}), 2);
  EXPECT_EQ(CodeAt({"node", "--eval=x"}), 1);
  EXPECT_EQ(CodeAt({"php", "-r", "echo 1;"}), 2);
  EXPECT_EQ(CodeAt({"awk", "-F", ",", "{print $1}", "f"}), 3);
  EXPECT_EQ(CodeAt({"awk", "-f", "prog.awk", "f"}), -1);
}

Result<SpecFile> Pipeline(std::string_view spec) {
  return ParseSpecFile("/p.yaml", fmt::format("apiVersion: sluice/v1\nkind: Pipeline\n"
                                              "metadata: {{name: p}}\nspec:\n{}", spec));
}

TEST(InlineCode, TheLoaderRefusesAPlaceholderInTheCodeWithItsPlace) {
  auto f = Pipeline("  params: [{name: msg, default: hi}]\n  tasks:\n"
                    "    - {name: a, run: [sh, -c, \"echo ${{ params.msg }}\"]}\n");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message.substr(0, 16), "/p.yaml:7:37: a ");
  EXPECT_NE(f.error().message.find("the code that `sh -c` runs"), std::string::npos);
  EXPECT_NE(f.error().message.find("env: {MSG: \"${{ params.msg }}\"}"), std::string::npos)
      << f.error().message;
  // After the code (sh -c's $0 and $1), through env:, or in a script file's arguments: fine.
  EXPECT_TRUE(Pipeline("  params: [{name: msg, default: hi}]\n  tasks:\n"
                       "    - {name: a, run: [sh, -c, 'echo \"$1\"', sh, '${{ params.msg }}']}\n"
                       "    - {name: b, run: [sh, -c, 'echo \"$MSG\"'], env: {MSG: '${{ params.msg }}'}}\n"
                       "    - {name: c, run: [python3, t.py, '${{ params.msg }}']}\n"));
  auto py = Pipeline("  params: [{name: msg, default: hi}]\n  tasks:\n"
                     "    - name: a\n      run:\n        - python3\n        - -c\n"
                     "        - print('${{ params.msg }}')\n");
  ASSERT_FALSE(py);
  EXPECT_NE(py.error().message.find("/p.yaml:11:18: a ${{ }} placeholder in the code that "
                                    "`python3 -c` runs"), std::string::npos) << py.error().message;
}

TEST(NulCharacters, AYamlStringHoldingANulIsRefusedWhereItIs) {
  auto f = Pipeline("  params: [{name: target, default: \"prod\\0-staging\"}]\n  tasks:\n"
                    "    - {name: a, run: [deploy, '${{ params.target }}']}\n");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "/p.yaml:5:36: a string holds a NUL character (\\0), which no "
                               "program argument, variable or file name can carry");
  EXPECT_FALSE(Pipeline("  tasks:\n    - {name: a, run: [deploy], env: {X: \"a\\x00b\"}}\n"));
  EXPECT_FALSE(Pipeline("  tasks:\n    - {name: a, run: [\"dep\\0loy\"]}\n"));
}

TEST(NulCharacters, BindingRefusesAParamValueHoldingANul) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.WriteFile("/p.yaml",
                           "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                           "  params:\n    - {name: targets, type: list, default: []}\n"
                           "    - {name: target, type: string, default: dev}\n"
                           "  tasks:\n    - {name: a, run: [deploy, '${{ params.target }}']}\n"));
  auto plan = LoadPlan(fs, "/p.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  auto bound = BindParams(**plan, {{"targets", "[\"prod\\u0000-staging\"]"}});
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().message, "param \"targets\": its value holds a NUL character (\\u0000), "
                                   "which no program argument, variable or file name can carry");
  EXPECT_FALSE(BindParams(**plan, {{"target", std::string("prod\0-staging", 13)}}));
  EXPECT_TRUE(BindParams(**plan, {{"target", "prod-staging"}}));
}

PolicySpec AdmissionPolicy(const std::string& expression, bool* ok, std::string* error) {
  auto f = ParseSpecFile("/pol.yaml", "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: p}\n"
                                      "spec:\n  rules:\n    - {name: r, expression: \"" +
                                          expression + "\"}\n");
  EXPECT_TRUE(f) << f.error().message;
  Status checked = CheckPolicyReferences(f->policies.at(0));
  *ok = static_cast<bool>(checked);
  if (!checked) *error = checked.error().message;
  return std::move(f->policies.at(0));
}

TEST(PolicyShape, AFieldNoTaskCanHaveIsALoadErrorEvenInsideAComprehension) {
  bool ok = false;
  std::string error;
  AdmissionPolicy("object.tasks.all(t, t.aproval != null)", &ok, &error);
  ASSERT_FALSE(ok);
  EXPECT_EQ(error, "/pol.yaml:6:29: a task of object.tasks has no field \"aproval\"; it has name, "
                   "template, finally, kind, uses, argoSubstitution, component, retry, timeout, deadline, "
                   "resources, cache, breaker, forEach, handlers, gate, needs, approval, when "
                   "(did you mean "
                   "\"approval\"?) (in the expression, column 23)");
  AdmissionPolicy("object.tasks.exists(t, t.approval.quorom > 1)", &ok, &error);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("a task's approval has no field \"quorom\""), std::string::npos) << error;
  AdmissionPolicy("object.tasks.filter(x, x.kind == 'run').all(y, y.wen == null)", &ok, &error);
  EXPECT_FALSE(ok);
  AdmissionPolicy("object.tasks[0].timeot > 0.0", &ok, &error);
  EXPECT_FALSE(ok);
  // Fields that exist, and maps of any keys (labels, params), pass.
  AdmissionPolicy("object.tasks.all(t, t.approval == null || t.approval.quorum >= 2) && "
                  "object.tasks.all(t, t.when == null) && object.params.anything == 1 && "
                  "object.labels.exists(k, k.size() > 0)", &ok, &error);
  EXPECT_TRUE(ok) << error;
}

TEST(PolicyShape, TheAdmissionInputCarriesEachTasksApprovalAndWhen) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.WriteFile("/p.yaml",
                           "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                           "  tasks:\n    - {name: a, run: [echo], when: \"${{ 1 == 1 }}\"}\n"
                           "    - name: ship\n      needs: [a]\n"
                           "      approval: {approvers: [bob, group:ops], quorum: 2, timeout: 1h}\n"));
  auto plan = LoadPlan(fs, "/p.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  Value in = AdmissionInput(**plan, Value(ValueMap{}));
  const ValueList& tasks = in.Find("object")->Find("tasks")->as_list();
  EXPECT_EQ(tasks[0].Find("when")->as_string(), "${{ 1 == 1 }}");
  EXPECT_TRUE(tasks[0].Find("approval")->is_null());
  EXPECT_TRUE(tasks[1].Find("when")->is_null());
  EXPECT_EQ(tasks[1].Find("approval")->ToJson(),
            "{\"approvers\":[\"bob\",\"group:ops\"],\"quorum\":2,\"forbidSelfApproval\":true,"
            "\"timeout\":3600.0}");
}

}  // namespace trust_checks_test
}  // namespace sluice
