// Values mean the same to a policy and to the process (issue 11, section 2): a NUL in a resolved
// argument or variable is an attempt error, never a truncated exec.
#include <gtest/gtest.h>

#include <string>

#include "engine/attempt.h"
#include "engine/decider_test_fixture.h"

namespace sluice {
namespace attempt_values_test {

const char* kTargetSpec = "  params:\n    - {name: target, type: string, default: dev}\n";
const std::string kNulTarget("prod\0-staging", 13);

TEST_F(DeciderTest, ResolveRefusesARunArgumentHoldingANul) {
  Build("    - {name: a, run: [deploy, '${{ params.target }}']}\n", kTargetSpec);
  ctx_.params = Value(ValueMap{{"target", Value(kNulTarget)}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kInvalid);
  EXPECT_NE(r.message.find("holds a NUL character"), std::string::npos) << r.message;
  EXPECT_TRUE(r.request.argv.size() < 2 || r.request.argv[1] != "prod");
}

TEST_F(DeciderTest, ResolveRefusesAnEnvValueHoldingANul) {
  Build("    - {name: a, run: [deploy], env: {TARGET: '${{ params.target }}'}}\n", kTargetSpec);
  ctx_.params = Value(ValueMap{{"target", Value(kNulTarget)}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kInvalid);
  EXPECT_EQ(r.message, "env TARGET holds a NUL character (\\u0000): the task would get only the "
                       "text before it");
}

TEST_F(DeciderTest, ResolvePassesTheSameValueWithoutANul) {
  Build("    - {name: a, run: [deploy, '${{ params.target }}']}\n", kTargetSpec);
  ctx_.params = Value(ValueMap{{"target", Value("prod-staging")}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  EXPECT_EQ(r.request.argv, (Names{"deploy", "prod-staging"}));
}

}  // namespace attempt_values_test
}  // namespace sluice
