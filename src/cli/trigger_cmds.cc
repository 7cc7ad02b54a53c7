// The local trigger commands (trigger_cmds.h).
#include "cli/trigger_cmds.h"

#include <cstdio>

#include "access/access.h"
#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/triggers.h"
#include "common/strings.h"

namespace sluice {

namespace {

constexpr const char* kNamespace = "default";

// The current user's audit actor when they may change triggers here: the state folder's owner,
// or an account users.yaml grants manage-triggers. kInvalidInput saying who may otherwise.
Result<std::string> TriggerOperator(Env& env, const GlobalOptions& g) {
  SLUICE_TRY(who, NewEmbeddedIdentity(env, g.state_dir, g.as)->Current());
  const FileInfo state = env.files().Stat(g.state_dir);
  if (state.exists && state.uid != env.Uid() && !who->Has(kRightManageTriggers)) {
    return Fail(ErrorCode::kInvalidInput, "{} may not change triggers here: only the state "
                "folder's owner and accounts users.yaml grants \"{}\" may", who->Actor(),
                kRightManageTriggers);
  }
  return who->Actor();
}

}  // namespace

int CmdTriggerApply(Env& env, const GlobalOptions& g, const std::string& file) {
  auto actor = TriggerOperator(env, g);
  if (!actor) return Report(actor.error());
  const int64_t now = env.clock().NowUs();
  auto rows = SnapshotTriggers(env.files(), env.files().Absolute(file), kNamespace, *actor, now);
  if (!rows) return Report(rows.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  ValueList applied;
  for (TriggerRow& row : *rows) {
    const NewToken token = MakeToken(env.RandomBytes(40));
    row.token_id = token.id;
    row.token_hash = token.secret_hash;
    auto audit = AuditOf(env, *actor, "trigger.applied", "", row.name,
                         Value(ValueMap{{"namespace", Value(row.ns)}, {"file", Value(row.file)}}));
    auto created = (*store)->ApplyTrigger(row, std::move(audit));
    if (!created) return Report(created.error());
    applied.push_back(TriggerTokenItem(row.name, *created, token, *created));
  }
  PrintTriggerTokens(Value(ValueMap{{"applied", Value(std::move(applied))}}), g.json);
  if (!g.json) std::printf("it fires only through a `sluice server` on this state folder\n");
  return 0;
}

int CmdTriggerLs(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  auto rows = (*store)->ListTriggers(kNamespace);
  if (!rows) return Report(rows.error());
  ValueList items;
  for (const TriggerRow& row : *rows) {
    auto t = LoadStoredTrigger(row);
    if (!t) return Report(t.error());
    items.push_back(TriggerJson(*t));
  }
  const Value listed(std::move(items));
  if (g.json) std::printf("%s\n", listed.ToJson().c_str());
  else std::fputs(TriggersText(listed).c_str(), stdout);
  return 0;
}

int CmdTriggerRotate(Env& env, const GlobalOptions& g, const std::string& name) {
  auto actor = TriggerOperator(env, g);
  if (!actor) return Report(actor.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  const NewToken token = MakeToken(env.RandomBytes(40));
  auto audit = AuditOf(env, *actor, "trigger.rotated", "", name,
                       Value(ValueMap{{"namespace", Value(kNamespace)}, {"tokenId", Value(token.id)}}));
  auto done = (*store)->RotateTrigger(kNamespace, name, token.id, token.secret_hash,
                                      env.clock().NowUs(), std::move(audit));
  if (!done) return Report(done.error());
  ValueList applied;
  applied.push_back(TriggerTokenItem(name, false, token, true));
  PrintTriggerTokens(Value(ValueMap{{"applied", Value(std::move(applied))}}), g.json);
  return 0;
}

int CmdTriggerRm(Env& env, const GlobalOptions& g, const std::string& name) {
  auto actor = TriggerOperator(env, g);
  if (!actor) return Report(actor.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  auto audit = AuditOf(env, *actor, "trigger.removed", "", name,
                       Value(ValueMap{{"namespace", Value(kNamespace)}}));
  auto done = (*store)->RemoveTrigger(kNamespace, name, std::move(audit));
  if (!done) return Report(done.error());
  if (g.json) std::printf("%s\n", Value(ValueMap{{"removed", Value(name)}}).ToJson().c_str());
  else std::printf("removed trigger %s\n", name.c_str());
  return 0;
}

}  // namespace sluice
