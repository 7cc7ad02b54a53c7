// The resilience report (issue 15, docs/chaos-report.md): one or more chaos journals
// (docs/chaos.md, "The journal") turned into one self-contained HTML page and a Markdown
// summary for reviewers.
//
// The page loads nothing: inline CSS and inline SVG only, no script, no link, no remote image,
// and a Content-Security-Policy that forbids all of them, so a string that escaping missed still
// could not run. Every string from a journal is untrusted (experiment names, probe outputs,
// messages) and is escaped where it is written. Pure functions: no clock, no file system; the
// caller reads the journals and writes the results.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"

namespace sluice {

struct ReportOptions {
  // The report's title.
  std::string title = "Resilience report";
  // The journals' names (file paths), parallel to `journals`, for messages and the report; a
  // journal without one is called "journal N".
  std::vector<std::string> sources;
};

// The HTML page. On success the whole document; on failure (a journal of the wrong shape) one
// line naming the journal and the field, and no page.
Result<std::string> ResilienceHtml(const std::vector<Value>& journals,
                                   const ReportOptions& options);

// The Markdown summary: the same figures and findings, without the chart. Fails as
// ResilienceHtml does.
Result<std::string> ResilienceMarkdown(const std::vector<Value>& journals,
                                       const ReportOptions& options);

// Parses a journal file's text (ParseJson) and checks its shape, so a caller can fail before
// reading the next file. On failure one line "SOURCE: what is wrong".
Result<Value> ParseResilienceJournal(std::string_view text, std::string_view source);

// Text escaped for HTML element content and quoted attribute values (& < > " '), with invalid
// UTF-8 and NUL replaced by U+FFFD.
std::string EscapeHtml(std::string_view s);

}  // namespace sluice
