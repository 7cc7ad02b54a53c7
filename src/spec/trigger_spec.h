// `kind: Trigger` documents (docs/triggers.md): a webhook that starts a run of a named pipeline.
// Its params may be `${{ }}` expressions over the request (`body`, `headers`), and `when` a
// condition over the same. Read by the loader (loader_trigger.cc) with the file:line:col errors
// of every other document; fired only by `sluice server` (POST .../triggers/NAME).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "spec/model.h"

namespace sluice {

class Reader;
class YNode;

// One param the trigger gives its pipeline: a typed literal, or a template over the request.
struct TriggerParam {
  std::string name;
  TemplateField value;  // value.loc: where it is written
};

struct TriggerSpec {
  std::string name;
  Location loc;  // of metadata.name
  std::string description;
  std::map<std::string, std::string> labels;
  std::string file;      // the trigger's file (absolute)
  std::string pipeline;  // as written: relative to the trigger file's folder
  Location pipeline_loc;
  std::vector<TriggerParam> params;
  std::shared_ptr<const TemplateField> when;  // null: every request starts a run
  // How a sender may prove it holds the trigger's token besides `Authorization: Bearer`:
  // "github" (X-Hub-Signature-256, an HMAC-SHA256 of the body keyed with the token's signing
  // secret), "gitlab" (X-Gitlab-Token: the token itself), or "" (the bearer header only).
  std::string signature;

  // The pipeline file's path: `pipeline` read from the trigger file's folder.
  std::string PipelinePath() const;
};

// The variables a trigger's expressions may read: the request's JSON body, and its headers by
// lower-case name (headers["x-github-event"]).
inline constexpr const char* kTriggerVariables[] = {"body", "headers"};

// Reads one Trigger document (its header already checked). Internal to src/spec. Unknown keys,
// wrong types, a bad expression or one that reads anything but body and headers fail at
// FILE:LINE:COL.
Result<TriggerSpec> ReadTrigger(const Reader& r, const YNode& doc);

}  // namespace sluice
