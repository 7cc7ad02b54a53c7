// The experiments run on a state folder, as `sluice chaos ls` and `sluice chaos report` read
// them and as the server's API serves them (docs/chaos.md, docs/api.md "Chaos experiments").
//
// An experiment is the folder STATE/chaos/ID that holds its journal (journal.json, written when
// the experiment ends). An id is never a path: it names an experiment only when it is one of the
// folder names listed under STATE/chaos and that folder holds a journal, so an id from a URL
// ("../x", "a/b", "", ".") cannot reach any other file.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "env/env.h"

namespace sluice {

// The experiments of `state_dir`, newest first (ids begin with their start time): each
// {"id", "name", "start", "status", "deviated"}. An experiment still running (no journal yet) or
// whose journal is not a JSON object is left out. No chaos folder: an empty list.
ValueList ListExperiments(Env& env, const std::string& state_dir);

// The journal file of experiment `id` of `state_dir`. On failure kNotFound ("no experiment ID")
// when `id` is not an experiment of that state folder: not one of its folder names, or a folder
// without a journal.
Result<std::string> ExperimentJournalPath(Env& env, const std::string& state_dir,
                                          const std::string& id);

// The journal of experiment `id`, parsed and its shape checked (ParseResilienceJournal).
// Fails as ExperimentJournalPath does, or with the journal's one-line problem (kInvalidInput).
Result<Value> ReadExperimentJournal(Env& env, const std::string& state_dir, const std::string& id);

enum class ReportFormat { kHtml, kMarkdown };
// The resilience report of experiment `id` alone, exactly as `sluice chaos report ID` writes it
// (report.h): the HTML page or the Markdown summary. Fails as ReadExperimentJournal does.
Result<std::string> ExperimentReport(Env& env, const std::string& state_dir, const std::string& id,
                                     ReportFormat format);

}  // namespace sluice
