// The sandbox's bubblewrap argv (sandbox.h): what is private, what stays the host's.
#include "exec/sandbox.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice {
namespace sandbox_test {

// Where `argv` holds `words` in a row.
std::vector<std::string>::const_iterator At(const std::vector<std::string>& argv,
                                            const std::vector<std::string>& words) {
  return std::search(argv.begin(), argv.end(), words.begin(), words.end());
}
bool Has(const std::vector<std::string>& argv, const std::vector<std::string>& words) {
  return At(argv, words) != argv.end();
}

TEST(Sandbox, PrivateTopsAreTheAttemptsAndSharedFoldersStayVisible) {
  auto argv = SandboxArgv("/usr/bin/bwrap", {"usr", "tmp", "mnt", "home", "proc"},
                          {"/mnt/out"}, "/state/runs/r/t/1",
                          {"/tmp/state/artifacts", "/home/u/.sluice/artifacts"}, {"cat", "x"});
  EXPECT_EQ(argv.front(), "/usr/bin/bwrap");
  EXPECT_TRUE(Has(argv, {"/usr/bin/bwrap", "--bind", "/state/runs/r/t/1/root", "/"}));
  EXPECT_TRUE(Has(argv, {"--ro-bind", "/usr", "/usr"}));
  EXPECT_TRUE(Has(argv, {"--ro-bind", "/home", "/home"}));
  EXPECT_FALSE(Has(argv, {"--ro-bind", "/tmp", "/tmp"}));
  // /tmp and /mnt are private: not bound from the host, so they are root/tmp and root/mnt.
  EXPECT_FALSE(Has(argv, {"--ro-bind", "/mnt", "/mnt"}));
  // The store under the private /tmp is bound, read-only; the one under the host's /home is
  // already visible.
  EXPECT_TRUE(Has(argv, {"--ro-bind", "/tmp/state/artifacts", "/tmp/state/artifacts"}));
  EXPECT_FALSE(Has(argv, {"--ro-bind", "/home/u/.sluice/artifacts", "/home/u/.sluice/artifacts"}));
  EXPECT_TRUE(Has(argv, {"--", "cat", "x"}));
}

}  // namespace sandbox_test
}  // namespace sluice
