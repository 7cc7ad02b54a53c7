// The experiments of a state folder (experiments.h).
#include "chaos/experiments.h"

#include <fmt/format.h>

#include <algorithm>

#include "chaos/report.h"
#include "common/strings.h"

namespace sluice {
namespace {

// A journal larger than this is not read (as `sluice chaos report` reads them); the listing, which
// reads every journal of the folder, stops at a quarter of it.
constexpr int64_t kMaxJournalBytes = int64_t{256} << 20;
constexpr int64_t kMaxListedJournalBytes = int64_t{64} << 20;

std::string ChaosRoot(Env& env, const std::string& state_dir) {
  return env.files().Absolute(PathJoin(state_dir, "chaos"));
}

}  // namespace

ValueList ListExperiments(Env& env, const std::string& state_dir) {
  const std::string root = ChaosRoot(env, state_dir);
  auto names = env.files().ListDir(root);
  std::vector<std::string> ids = names ? *names : std::vector<std::string>{};
  std::sort(ids.rbegin(), ids.rend());
  ValueList items;
  for (const auto& id : ids) {
    auto text = env.files().ReadFileAtMost(PathJoin(PathJoin(root, id), "journal.json"),
                                           kMaxListedJournalBytes);
    auto j = text ? ParseJson(*text) : Result<Value>(Value());
    if (!j || !j->is_map()) continue;
    const Value* sl = j->Find("sluice");
    items.push_back(
        Value(ValueMap{{"id", Value(id)},
                       {"name", sl && sl->Find("name") ? *sl->Find("name") : Value("")},
                       {"start", j->Find("start") ? *j->Find("start") : Value("")},
                       {"status", j->Find("status") ? *j->Find("status") : Value("")},
                       {"deviated", j->Find("deviated") ? *j->Find("deviated") : Value(false)}}));
  }
  return items;
}

Result<std::string> ExperimentJournalPath(Env& env, const std::string& state_dir,
                                          const std::string& id) {
  const std::string root = ChaosRoot(env, state_dir);
  auto names = env.files().ListDir(root);
  // Only a name the folder lists is joined to it: "..", "a/b" and "" never are.
  const bool listed = names && id != "." && id != ".." &&
                      std::find(names->begin(), names->end(), id) != names->end();
  const std::string path = PathJoin(PathJoin(root, id), "journal.json");
  if (!listed || !env.files().Stat(path).exists) {
    return Fail(ErrorCode::kNotFound, "no experiment {} (sluice chaos ls)", Quote(id));
  }
  return path;
}

Result<Value> ReadExperimentJournal(Env& env, const std::string& state_dir, const std::string& id) {
  SLUICE_TRY(path, ExperimentJournalPath(env, state_dir, id));
  SLUICE_TRY(text, env.files().ReadFileAtMost(*path, kMaxJournalBytes));
  return ParseResilienceJournal(*text, id);
}

Result<std::string> ExperimentReport(Env& env, const std::string& state_dir, const std::string& id,
                                     ReportFormat format) {
  SLUICE_TRY(journal, ReadExperimentJournal(env, state_dir, id));
  ReportOptions ro;
  ro.sources.push_back(id);
  const std::vector<Value> journals{std::move(*journal)};
  return format == ReportFormat::kHtml ? ResilienceHtml(journals, ro)
                                       : ResilienceMarkdown(journals, ro);
}

}  // namespace sluice
