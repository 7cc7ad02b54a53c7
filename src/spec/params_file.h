// A params file (`sluice run --params-file params.yaml`): a YAML or JSON map of param name to
// value, read against the pipeline's param declarations. Kept in src/spec, where YAML is parsed.
#pragma once

#include <map>
#include <string>

#include "common/error.h"
#include "env/env.h"
#include "spec/plan.h"

namespace sluice {

// Reads the params file at `path` through `fs` for `plan`'s declared params. On success returns
// each value as the text `-p NAME=TEXT` would give for it (a string param: its text; any other
// type: its JSON), so that BindParams reads both the same way and `-p` can override an entry.
// On failure (unreadable file, YAML syntax, not a map, an unknown name, a value that does not
// match its param's type) returns one error located at FILE:LINE:COL.
Result<std::map<std::string, std::string>> ReadParamsFile(FileSystem& fs, const Plan& plan,
                                                          const std::string& path);

}  // namespace sluice
