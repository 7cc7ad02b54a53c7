// `sluice audit verify|export` and `sluice whoami`.
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/render.h"
#include "cli/views.h"
#include "common/strings.h"
#include "common/value.h"

namespace sluice {

int CmdAuditVerify(Env& env, const GlobalOptions& g, const std::string& head) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto c = (*store)->VerifyAudit(head);
  if (!c) return Report(c.error());
  const Value check = AuditCheckJson(*c);
  // The text is drawn from the JSON, as it is against a server (render.h).
  std::fputs(g.json ? (check.ToJson() + "\n").c_str() : AuditCheckText(check).c_str(), stdout);
  return c->broken_at ? 1 : 0;
}

int CmdAuditExport(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto records = (*store)->ListAudit();
  if (!records) return Report(records.error());
  for (const auto& r : *records) std::printf("%s\n", AuditRecordJson(r).ToJson().c_str());
  return 0;
}

int CmdWhoami(Env& env, const GlobalOptions& g) {
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return Report(who.error());
  auto list = [](const std::vector<std::string>& names) {
    ValueList out;
    for (const auto& x : names) out.push_back(Value(x));
    return Value(std::move(out));
  };
  if (g.json) {
    std::printf("%s\n", Value(ValueMap{{"name", Value(who->name)},
                                       {"account", Value(who->account)},
                                       {"groups", list(who->groups)},
                                       {"rights", list(who->rights)}})
                            .ToJson()
                            .c_str());
  } else {
    std::printf("%s%s%s\n", who->Actor().c_str(),
                who->groups.empty() ? "" : (" (groups: " + Join(who->groups, ", ") + ")").c_str(),
                who->rights.empty() ? "" : (" (rights: " + Join(who->rights, ", ") + ")").c_str());
  }
  return 0;
}

}  // namespace sluice
