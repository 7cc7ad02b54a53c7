// The Python-writing helpers of the Airflow and Prefect exports: literals of hostile text,
// identifiers from names, placeholders translated to Python.
#include "interop/export_python.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"

namespace sluice {
namespace export_python_test {

TEST(PyStr, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(PyStr("plain"), "\"plain\"");
  EXPECT_EQ(PyStr("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(PyStr("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(PyStr("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(PyStr(std::string("nul\0end", 7)), "\"nul\\x00end\"");
  EXPECT_EQ(PyStr("\x1b[31m\x7f"), "\"\\x1b[31m\\x7f\"");
  // Single quotes and triple quotes need nothing inside a double-quoted literal.
  EXPECT_EQ(PyStr("it's '''"), "\"it's '''\"");
}

TEST(PyStr, KeepsUtf8ButEscapesInvisibleAndBidiCodePoints) {
  EXPECT_EQ(PyStr("caf\xc3\xa9 \xe6\x97\xa5"), "\"caf\xc3\xa9 \xe6\x97\xa5\"");
  EXPECT_EQ(PyStr("a\xe2\x80\xae" "b"), "\"a\\u202eb\"");      // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(PyStr("x\xe2\x80\xa8y"), "\"x\\u2028y\"");         // LINE SEPARATOR
  EXPECT_EQ(PyStr("\xef\xbb\xbfz"), "\"\\ufeffz\"");           // BOM
  EXPECT_EQ(PyStr("\xc2\x85"), "\"\\x85\"");                   // NEL, a C1 control
}

TEST(PyStr, InvalidUtf8BecomesSurrogateEscapes) {
  EXPECT_EQ(PyStr("\xff\xfe"), "\"\\udcff\\udcfe\"");
  EXPECT_EQ(PyStr("\xc3"), "\"\\udcc3\"");              // truncated sequence
  EXPECT_EQ(PyStr("\xc0\xaf"), "\"\\udcc0\\udcaf\"");   // overlong '/'
  EXPECT_EQ(PyStr("\xed\xa0\x80"), "\"\\udced\\udca0\\udc80\"");  // an encoded surrogate
}

TEST(PyCommentText, NeverBreaksTheLine) {
  EXPECT_EQ(PyCommentText("a\nimport os\r\x0b"), "a\\nimport os\\r\\x0b");
}

TEST(PyLiteral, WritesEveryKind) {
  EXPECT_EQ(PyLiteral(Value()), "None");
  EXPECT_EQ(PyLiteral(Value(true)), "True");
  EXPECT_EQ(PyLiteral(Value(int64_t{-7})), "-7");
  EXPECT_EQ(PyLiteral(Value(0.1)), "0.1");
  EXPECT_EQ(PyLiteral(Value(2.0)), "2.0");
  EXPECT_EQ(PyLiteral(Value(1e300 * 1e10)), "float(\"inf\")");
  EXPECT_EQ(PyLiteral(Value(ValueList{Value("a\""), Value(int64_t{1})})), "[\"a\\\"\", 1]");
  EXPECT_EQ(PyLiteral(Value(ValueMap{{Value("k"), Value(false)}})), "{\"k\": False}");
}

TEST(PyNames, MakesValidUniqueIdentifiers) {
  PyNames n;
  EXPECT_EQ(n.Make("t_", "train-model"), "t_train_model");
  EXPECT_EQ(n.Make("t_", "train.model"), "t_train_model_2");
  EXPECT_EQ(n.Make("t_", "train_model"), "t_train_model_3");
  EXPECT_EQ(n.Make("", "class"), "class_");
  EXPECT_EQ(n.Make("", "9lives"), "n_9lives");
  EXPECT_EQ(n.Make("", "caf\xc3\xa9"), "caf__");
}

Result<std::shared_ptr<const Plan>> Load(std::string_view spec) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n" + std::string(spec)}});
  return LoadPlan(fs, "/p/pipeline.yaml");
}

// The Python of task `task`'s argv.
std::string ArgvOf(const Plan& plan, std::string_view task, std::vector<std::string>* unsupported) {
  return PyCommandOf(plan, *plan.Find(task), unsupported).argv;
}

TEST(PyField, TranslatesReferencesAndKeepsLiteralsQuoted) {
  auto plan = Load(
      "  params: [{name: n, type: int, default: 3}, {name: max-depth, default: x}]\n"
      "  tasks:\n"
      "    - {name: a, run: [echo], outputs: {params: [{name: v, from: {stdout: text}}]}}\n"
      "    - name: b\n"
      "      run: [echo, 'lit ${{ params.n }}', '${{ tasks.a.outputs.params.v }}',\n"
      "            '${{ params.max-depth }}', '${{ params.n * 2 > 5 && !(params.n == 4) }}',\n"
      "            '${{ pipeline.dir }}', '${{ run.id }}']\n");
  ASSERT_TRUE(plan) << plan.error().message;
  std::vector<std::string> unsupported;
  EXPECT_EQ(ArgvOf(**plan, "b", &unsupported),
            "[\"echo\", \"\".join([\"lit \", _text(P[\"n\"])]), "
            "_text(_out(up[\"a\"], \"params\", \"v\")), _text(P[\"max-depth\"]), "
            "_text((((P[\"n\"] * 2) > 5) and (not (P[\"n\"] == 4)))), \"/p\", "
            "_text(run_id)]");
  EXPECT_TRUE(unsupported.empty());
}

TEST(PyField, AnExpressionOutsideTheSubsetFailsAtRunTimeAndIsListed) {
  auto plan = Load(
      "  params: [{name: n, type: int, default: 3}]\n"
      "  tasks:\n"
      "    - {name: b, run: [echo, '${{ params.n / 2 }}']}\n");
  ASSERT_TRUE(plan) << plan.error().message;
  std::vector<std::string> unsupported;
  EXPECT_EQ(ArgvOf(**plan, "b", &unsupported), "[\"echo\", _text(_unsupported(\"params.n / 2\"))]");
  EXPECT_EQ(unsupported, std::vector<std::string>{"params.n / 2"});
}

TEST(PyCommandOf, ScriptRunsUnderItsShellAndEnvOverridesInOrder) {
  auto plan = Load(
      "  tasks:\n"
      "    - name: s\n"
      "      script: \"echo \\\"$X\\\" '{{ not jinja }}'\\n\"\n"
      "      env: {X: 'a\"b', Y: '${{ run.id }}'}\n");
  ASSERT_TRUE(plan) << plan.error().message;
  std::vector<std::string> unsupported;
  PyCommand cmd = PyCommandOf(**plan, *(*plan)->Find("s"), &unsupported);
  EXPECT_EQ(cmd.argv, "[\"sh\", \"-e\", \"-c\", \"echo \\\"$X\\\" '{{ not jinja }}'\\n\"]");
  ASSERT_EQ(cmd.env.size(), 2u);
  EXPECT_EQ(cmd.env[0].second, "\"a\\\"b\"");
  EXPECT_EQ(cmd.env[1].second, "_text(run_id)");
}

}  // namespace export_python_test
}  // namespace sluice
