// Checks on raw spec text that need no YAML parser: names, versions, numbers, nesting depth.
// Hand-written rather than std::regex, which recurses per character and can overflow the
// stack on long hostile strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

constexpr int kMaxNesting = 64;

bool IsIdentStart(char c);
bool IsIdentChar(char c);
// Task, param, component and output names: [A-Za-z_][A-Za-z0-9_.-]*, at most 128.
bool IsName(std::string_view s);
bool IsEnvName(std::string_view s);
// The variable a secret param may be given through instead of -p: SLUICE_PARAM_ and its name
// in upper case, other characters than letters and digits as '_' ("api-token" ->
// SLUICE_PARAM_API_TOKEN).
std::string SecretParamVar(std::string_view param);
// "1", "1.2", "1.2.3" with at most 9 digits a part and no leading zeros; fills `parts`.
bool ParseVersionParts(std::string_view s, size_t max_parts, std::vector<int>* parts);
// NAME or NAME@VERSION as `uses:` takes it.
bool IsUsesRef(std::string_view s);
bool IsIntText(std::string_view s);
bool IsFloatText(std::string_view s);
// A `{{ ... }}` written without the `$` of a placeholder, whose content starts with a variable
// that placeholders read (params, tasks, item, run, task, error, component, pipeline, secrets)
// or one of Argo's (inputs, outputs, workflow, steps): text that was meant as a placeholder
// and would otherwise reach the task as it is. Other `{{ }}` (Go templates such as
// `{{.State}}`, Jinja) are left alone. `offset` is that of its `{{`; `body` its trimmed content.
struct BareTemplate {
  size_t offset = 0;
  std::string_view body;
};
std::optional<BareTemplate> FindBareTemplate(std::string_view text);
// Rejects text nested deeper than kMaxNesting (flow brackets plus indentation levels) before a
// recursive parser sees it. On failure the error is located at the first offending character.
Status CheckNesting(const std::string& path, std::string_view text);

}  // namespace sluice
