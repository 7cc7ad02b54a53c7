// Retention's pass (prune.cc) on a real store: a server's pass stops after its batch and says
// more are due, and a namespace's own age replaces the default one.
#include "cli/prune.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>

#include "cli/cli_support.h"
#include "env/fake_env.h"

namespace sluice {
namespace prune_test {

constexpr int64_t kDayUs = 86'400'000'000;

class Prune : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-prune-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    g_.state_dir = dir_ + "/state";
    ASSERT_TRUE(files_->MakeDirs(g_.state_dir));
    auto s = Store::Open(g_.state_dir + "/sluice.db");
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A run of namespace `ns` that succeeded `days` ago.
  void Finished(const std::string& id, const std::string& ns, int days) {
    RunRecord r;
    r.id = id;
    r.ns = ns;
    r.pipeline = "p";
    r.status = "pending";
    r.created_us = env_.clock().NowUs() - days * kDayUs;
    Event e;
    e.run_id = id;
    e.time_us = r.created_us;
    e.kind = EventKind::kRunCreated;
    ASSERT_TRUE(store_->CreateRun(r, {}, e));
    e.kind = EventKind::kRunFinished;
    e.status = "succeeded";
    store_->Append(e);
    ASSERT_TRUE(store_->Commit());
  }
  std::vector<std::string> Kept() {
    std::vector<std::string> ids;
    auto runs = store_->ListRuns(100);
    for (const auto& r : *runs) ids.push_back(r.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  std::string dir_;
  std::unique_ptr<FileSystem> files_ = NewPosixFileSystem();
  FakeEnv env_{*files_};
  GlobalOptions g_;
  std::unique_ptr<Store> store_;
};

TEST_F(Prune, AServersPassStopsAfterItsBatchAndSaysMoreAreDue) {
  for (int i = 0; i < 5; ++i) Finished("r" + std::to_string(i), "default", 40);
  PruneOptions o;
  o.older_than_us = 30 * kDayUs;
  o.max_runs = 2;
  o.actor = "sluice";
  std::vector<size_t> batches;
  for (;;) {
    auto report = PruneRuns(env_, g_, *store_, o);
    ASSERT_TRUE(report) << report.error().message;
    batches.push_back(report->pruned.size());
    if (!report->more) break;
  }
  EXPECT_EQ(batches, (std::vector<size_t>{2, 2, 1}));
  EXPECT_TRUE(Kept().empty());
}

TEST_F(Prune, ANamespacesOwnAgeReplacesTheDefault) {
  Finished("a-old", "team-a", 10);
  Finished("a-new", "team-a", 2);
  Finished("k-old", "keep", 400);
  Finished("d-old", "default", 40);
  Finished("d-new", "default", 10);
  PruneOptions o;
  o.older_than_us = 30 * kDayUs;
  o.namespace_older_than_us = {{"team-a", 7 * kDayUs}, {"keep", 0}};
  o.actor = "sluice";
  auto report = PruneRuns(env_, g_, *store_, o);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->more);
  EXPECT_EQ(Kept(), (std::vector<std::string>{"a-new", "d-new", "k-old"}));
}

}  // namespace prune_test
}  // namespace sluice
