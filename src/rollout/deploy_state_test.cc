// The promotion rules a rollout checks before it starts (deploy_state.cc): `after` + `soak`
// against the releases of the environment that must come first, and freeze windows in a time
// zone.
#include <gtest/gtest.h>

#include "rollout/deploy_state.h"

namespace sluice {
namespace deploy_state_test {

constexpr int64_t kMinute = 60'000'000;

EnvironmentSpec Prod(int64_t soak_ms) {
  EnvironmentSpec e;
  e.name = "prod";
  e.promotion.after = "staging";
  e.promotion.soak_ms = soak_ms;
  return e;
}

ReleaseRow Staged(const std::string& digest, int64_t since_us, int64_t until_us = 0) {
  ReleaseRow r;
  r.environment = "staging";
  r.digest = digest;
  r.since_us = since_us;
  r.until_us = until_us;
  return r;
}

TEST(PromotionRefusal, NeedsTheModelToHaveSoakedInTheEnvironmentBefore) {
  const EnvironmentSpec prod = Prod(10 * 60'000);
  const std::string d(64, 'a');
  const int64_t now = 100 * kMinute;
  EXPECT_NE(PromotionRefusal(prod, {}, d, "v2", now).find("was never released to staging"),
            std::string::npos);
  std::string soon = PromotionRefusal(prod, {Staged(d, now - 2 * kMinute)}, d, "v2", now);
  EXPECT_NE(soon.find("has soaked in staging for 2m00s, and prod needs 10m00s"), std::string::npos)
      << soon;
  EXPECT_EQ(PromotionRefusal(prod, {Staged(d, now - 11 * kMinute)}, d, "v2", now), "");
  // A model that was there long enough and was replaced since still counts its time there.
  EXPECT_EQ(PromotionRefusal(prod, {Staged(d, 0, 30 * kMinute)}, d, "v2", now), "");
  // Another model's time does not count.
  EXPECT_NE(PromotionRefusal(prod, {Staged(std::string(64, 'b'), 0)}, d, "v2", now), "");
  EXPECT_EQ(PromotionRefusal(EnvironmentSpec{}, {}, d, "v2", now), "") << "no rule, no refusal";
}

TEST(FrozenUntil, IsTheEndOfTheFreezeWindowTheTimeIsIn) {
  auto zones = NewSystemTimeZones();
  EnvironmentSpec e;
  e.freeze.push_back(FreezeWindow{"0 17 * * 5", "Europe/Paris", 63 * 3'600'000, {}});
  // Friday 2026-12-04 17:00 in Paris is 16:00 UTC (1796400000 s).
  const int64_t friday_17 = 1796400000LL * 1'000'000;
  EXPECT_EQ(FrozenUntil(e, zones.get(), friday_17 - kMinute), 0) << "a minute before";
  EXPECT_EQ(FrozenUntil(e, zones.get(), friday_17), friday_17 + 63LL * 60 * kMinute);
  EXPECT_EQ(FrozenUntil(e, zones.get(), friday_17 + 62LL * 60 * kMinute),
            friday_17 + 63LL * 60 * kMinute);
  EXPECT_EQ(FrozenUntil(e, zones.get(), friday_17 + 63LL * 60 * kMinute), 0) << "it has ended";
}

}  // namespace deploy_state_test
}  // namespace sluice
