#include "access/access.h"

#include <gtest/gtest.h>

#include "store/store.h"

namespace sluice {
namespace access_test {

std::string Random40(char c) { return std::string(40, c); }

TEST(Access, ATokenChecksAgainstItsRowAndNothingElse) {
  NewToken t = MakeToken(Random40('\x07'));
  auto parts = SplitToken(t.text);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->first, t.id);
  TokenRow row{t.id, t.secret_hash, "alice", R"({"default":"operator"})", "root", 1, 0, 0};
  auto who = CheckToken(row, parts->second, 2);
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who->user, "alice");
  EXPECT_TRUE(who->Can(Action::kSubmit, "default"));
  EXPECT_FALSE(who->Can(Action::kApprove, "default"));
  EXPECT_FALSE(who->Can(Action::kRead, "ml"));
  // The text never holds the hash, and another secret does not match.
  EXPECT_EQ(t.text.find(t.secret_hash), std::string::npos);
  std::string other = parts->second;
  other[0] = other[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(CheckToken(row, other, 2));
}

TEST(Access, RevokedExpiredAndMalformedTokensAreRefused) {
  NewToken t = MakeToken(Random40('\x01'));
  auto parts = SplitToken(t.text);
  ASSERT_TRUE(parts);
  TokenRow row{t.id, t.secret_hash, "bob", R"({"*":"viewer"})", "root", 1, 100, 0};
  EXPECT_TRUE(CheckToken(row, parts->second, 99));
  EXPECT_FALSE(CheckToken(row, parts->second, 100)) << "expired at 100";
  row.expires_us = 0;
  row.revoked_us = 50;
  EXPECT_FALSE(CheckToken(row, parts->second, 99)) << "revoked";
  row.revoked_us = 0;
  row.roles = R"({"default":"superuser"})";
  EXPECT_FALSE(CheckToken(row, parts->second, 99)) << "unknown role";
  for (const std::string& bad : std::vector<std::string>{"", "sluice.", "sluice.xyz.abc", "bearer " + t.text, t.text + "x",
                          "sluice." + t.id + "." + std::string(43, '!')}) {
    EXPECT_FALSE(SplitToken(bad)) << bad;
  }
}

// The role table of docs/server.md: an operator runs things but does not vote, an approver votes
// but does not run things, only an admin administers.
TEST(Access, RolesFollowTheTableOfDocsServer) {
  struct Row {
    Role role;
    bool read, submit, operate, approve, admin;
  };
  for (const Row& r : {Row{Role::kViewer, true, false, false, false, false},
                       Row{Role::kOperator, true, true, true, false, false},
                       Row{Role::kApprover, true, false, false, true, false},
                       Row{Role::kAdmin, true, true, true, true, true}}) {
    EXPECT_EQ(Allows(r.role, Action::kRead), r.read) << RoleName(r.role);
    EXPECT_EQ(Allows(r.role, Action::kSubmit), r.submit) << RoleName(r.role);
    EXPECT_EQ(Allows(r.role, Action::kOperate), r.operate) << RoleName(r.role);
    EXPECT_EQ(Allows(r.role, Action::kApprove), r.approve) << RoleName(r.role);
    EXPECT_EQ(Allows(r.role, Action::kAdmin), r.admin) << RoleName(r.role);
  }
}

TEST(Access, ANamespacedRoleWinsOverTheWildcard) {
  ApiPrincipal p{"carol", {{"*", Role::kViewer}, {"ml", Role::kAdmin}}};
  EXPECT_TRUE(p.Can(Action::kAdmin, "ml"));
  EXPECT_FALSE(p.Can(Action::kSubmit, "web"));
  EXPECT_TRUE(p.Can(Action::kRead, "web"));
  auto back = ParseRolesJson(RolesJson(p.roles));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, p.roles);
}

}  // namespace access_test
}  // namespace sluice
