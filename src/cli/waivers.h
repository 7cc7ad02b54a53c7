// Waivers of central policies (waivers.cc): the steps of `sluice waiver grant|list|revoke` after
// the granter is settled, shared with the API's waiver routes (server/waivers_api.cc), which
// take them for the token's user, and the texts both print.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/value.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

// What a grant recorded: its waiver.granted audit record, and when the waiver expires.
struct WaiverGranted {
  int64_t audit_seq = 0;
  int64_t expires_us = 0;
};
// Grants `w` by `actor`, who the caller found may grant: checks that it waives a central policy
// (and rule) of the state folder and expires in the future, then stores its row with its audit
// record in one transaction. On failure (kInvalidInput naming what is wrong, kConflict for a
// name in use, the store's error) nothing is recorded.
Result<WaiverGranted> GrantWaiverBy(Env& env, const GlobalOptions& g, Store& store,
                                    const WaiverGrant& w, const std::string& actor);
// "granted waiver NAME of POLICY[/RULE] until EXPIRES (audit record N)\n".
std::string WaiverGrantedText(const std::string& name, const std::string& policy,
                              const std::string& rule, const std::string& expires,
                              int64_t audit_seq);
// Revokes waiver `name` by `actor`, audited: its audit record's sequence number, or the store's
// error (kNotFound for no such waiver); nothing is recorded then.
Result<int64_t> RevokeWaiverBy(Env& env, Store& store, const std::string& name,
                               const std::string& actor);
// "revoked waiver NAME (audit record N)\n".
std::string WaiverRevokedText(const std::string& name, int64_t audit_seq);
// The waivers of `rows` as `waiver list -o json` and GET /api/v1/waivers show them at `now_us`:
// name, state (in-force, expired, revoked, unverified), grantedBy, granted, and the document's
// policy, rule, pipeline, task, expires and justification.
Value WaiversJson(const std::vector<WaiverRow>& rows, int64_t now_us);
// The text of `waiver list`: a line per item of WaiversJson, or "no waivers granted".
std::string WaiversText(const Value& items);

}  // namespace sluice
