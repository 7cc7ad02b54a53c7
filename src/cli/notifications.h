// `sluice notifications ls [--failed]` (docs/notifications.md): the deliveries of the webhooks
// `sluice server` calls, read from the store here or over the API with --server
// (GET /api/v1/notifications). One document, NotificationsJson, serves both.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/value.h"
#include "store/store.h"

namespace sluice {

// The rows as the API and `-o json` give them: a list of {id, hook, event, source, run, state,
// attempts, lastStatus, lastError, created, next, delivered, text}, times in UTC ("" when
// none).
Value NotificationsJson(const std::vector<NotificationRow>& rows);
// That list as the text table `notifications ls` prints.
std::string NotificationsText(const Value& items);
// Reads the newest `limit` deliveries (only the failed ones with `failed_only`) from the store
// and prints them. Returns the exit code: 0, or the store's error's.
int CmdNotificationsLs(Env& env, const GlobalOptions& g, bool failed_only, int limit);

}  // namespace sluice
