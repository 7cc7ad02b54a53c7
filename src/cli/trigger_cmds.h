// `sluice trigger apply|ls|rotate|rm` on the state folder's store (docs/triggers.md, "Commands").
// They store and list webhook triggers; a trigger fires only through `sluice server`'s
// POST /api/v1/namespaces/NS/triggers/NAME. With --server the same commands ask the server
// (src/server/remote_triggers.cc).
//
// Who may change them: the state folder's owner, and accounts users.yaml grants
// "manage-triggers" (as `prune` is checked); `ls` is open to whoever may read the store.
#pragma once

#include <string>

#include "cli/commands.h"
#include "env/env.h"

namespace sluice {

// Stores the triggers of `file` (a snapshot of it and its pipelines' files) in namespace
// "default", each audited as trigger.applied. A new trigger gets a token, printed once; one
// applied again keeps its own. Exit 0, or 2 at the first bad trigger (nothing stored) or when
// the account may not.
int CmdTriggerApply(Env& env, const GlobalOptions& g, const std::string& file);
// The stored triggers: name, pipeline, token id, when it was made, who applied it. Exit 0.
int CmdTriggerLs(Env& env, const GlobalOptions& g);
// Gives trigger `name` a new token, printed once (the old one stops working), audited as
// trigger.rotated. Exit 2 when there is no such trigger or the account may not.
int CmdTriggerRotate(Env& env, const GlobalOptions& g, const std::string& name);
// Removes trigger `name`, audited as trigger.removed. Exit 2 when there is none or the account
// may not.
int CmdTriggerRm(Env& env, const GlobalOptions& g, const std::string& name);

}  // namespace sluice
