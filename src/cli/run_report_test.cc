// What the end-of-run report shows of a failed task: the last lines of its stderr, and its name
// as a shell word for the `sluice logs` command.
#include "cli/run_report.h"

#include <gtest/gtest.h>

#include "common/masker.h"

namespace sluice {
namespace run_report_test {

TEST(RunReport, ShowsTheLastNonEmptyLinesOfStderrTrimmedAndMasked) {
  Masker masker({"hunter2"});
  std::string text = "starting\n  loading  \nusing token hunter2\n\nValueError: lr < 0\n\n";
  EXPECT_EQ(LastLines(text, 3, &masker),
            (std::vector<std::string>{"loading", "using token ***", "ValueError: lr < 0"}));
  EXPECT_EQ(LastLines("one line, no newline", 3, nullptr),
            std::vector<std::string>{"one line, no newline"});
  EXPECT_TRUE(LastLines("", 3, nullptr).empty());
  EXPECT_EQ(LastLines("\x1b[31mred\x1b[0m\n", 3, nullptr),
            std::vector<std::string>{"\\x1b[31mred\\x1b[0m"});
  EXPECT_EQ(LastLines(std::string(500, 'x'), 1, nullptr)[0].size(), 200u);
}

TEST(RunReport, QuotesATaskNameForTheShellOnlyWhenItMustBe) {
  EXPECT_EQ(ShellWord("train"), "train");
  EXPECT_EQ(ShellWord("flip-coin.v2"), "flip-coin.v2");
  EXPECT_EQ(ShellWord("train[2]"), "'train[2]'");
  EXPECT_EQ(ShellWord("it's"), "'it'\\''s'");
}

}  // namespace run_report_test
}  // namespace sluice
