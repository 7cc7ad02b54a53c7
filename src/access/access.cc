// Tokens and roles (access.h).
#include "access/access.h"

#include <algorithm>

#include "common/sha256.h"
#include "common/strings.h"
#include "common/value.h"
#include "store/store.h"

namespace sluice {

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kApprover: return "approver";
    case Role::kAdmin: return "admin";
    case Role::kWorker: return "worker";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view s) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kApprover, Role::kAdmin, Role::kWorker}) {
    if (RoleName(r) == s) return r;
  }
  return std::nullopt;
}

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kRead: return "read";
    case Action::kSubmit: return "submit";
    case Action::kOperate: return "operate";
    case Action::kApprove: return "approve";
    case Action::kAdmin: return "admin";
    case Action::kWork: return "work";
  }
  return "read";
}

// The table of docs/server.md: an approver votes but does not run things, an operator runs
// things but does not vote (separation of duties), an admin does both and manages the server.
// A worker's token only works: a stolen one leases attempts (and their requests) but reads no
// run, submits nothing and votes on nothing.
bool Allows(Role r, Action a) {
  if (r == Role::kWorker) return a == Action::kWork;
  switch (a) {
    case Action::kRead: return true;
    case Action::kWork: return r == Role::kAdmin;
    case Action::kSubmit:
    case Action::kOperate: return r == Role::kOperator || r == Role::kAdmin;
    case Action::kApprove: return r == Role::kApprover || r == Role::kAdmin;
    case Action::kAdmin: return r == Role::kAdmin;
  }
  return false;
}

bool IsNamespaceName(std::string_view ns) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (ns.empty() || ns.size() > 63 || !alnum(ns.front()) || !alnum(ns.back())) return false;
  return std::all_of(ns.begin(), ns.end(), [&](char c) { return alnum(c) || c == '-'; });
}

std::optional<Role> ApiPrincipal::RoleIn(const std::string& ns) const {
  if (auto it = roles.find(ns); it != roles.end()) return it->second;
  if (auto it = roles.find("*"); it != roles.end()) return it->second;
  return std::nullopt;
}

bool ApiPrincipal::Can(Action a, const std::string& ns) const {
  auto r = RoleIn(ns);
  return r && Allows(*r, a);
}

namespace {

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = acc << 8 | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

bool IsHex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Equal strings in a time that depends only on their lengths.
bool SameTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

NewToken MakeToken(std::string_view random40) {
  NewToken t;
  t.id = Hex(random40.substr(0, 8));
  const std::string secret = Base64Url(random40.substr(8, 32));
  t.secret_hash = Sha256Hex(secret);
  t.text = "sluice." + t.id + "." + secret;
  return t;
}

std::optional<std::pair<std::string, std::string>> SplitToken(std::string_view text) {
  constexpr std::string_view kPrefix = "sluice.";
  if (!text.starts_with(kPrefix)) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  const size_t dot = text.find('.');
  if (dot != 16 || !IsHex(text.substr(0, 16))) return std::nullopt;
  std::string_view secret = text.substr(17);
  if (secret.size() != 43 ||
      secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
          std::string_view::npos) {
    return std::nullopt;
  }
  return std::make_pair(std::string(text.substr(0, 16)), std::string(secret));
}

Result<ApiPrincipal> CheckToken(const TokenRow& row, std::string_view secret, int64_t now_us) {
  if (!SameTime(Sha256Hex(secret), row.secret_hash)) {
    return Fail(ErrorCode::kInvalidInput, "the token's secret does not match");
  }
  if (row.revoked_us != 0) return Fail(ErrorCode::kInvalidInput, "the token was revoked");
  if (row.expires_us != 0 && now_us >= row.expires_us) {
    return Fail(ErrorCode::kInvalidInput, "the token expired");
  }
  auto roles = ParseRolesJson(row.roles);
  if (!roles) return std::unexpected(roles.error());
  return ApiPrincipal{row.user, std::move(*roles)};
}

bool SecretMatches(std::string_view secret, std::string_view hash) {
  return SameTime(Sha256Hex(secret), hash);
}

std::string RolesJson(const std::map<std::string, Role>& roles) {
  ValueMap m;
  for (const auto& [ns, r] : roles) m.emplace_back(Value(ns), Value(std::string(RoleName(r))));
  return CanonicalJson(Value(std::move(m)));
}

Result<std::map<std::string, Role>> ParseRolesJson(std::string_view json) {
  auto v = ParseJson(json);
  if (!v || !v->is_map()) return Fail(ErrorCode::kInvalidInput, "roles are not a JSON object");
  std::map<std::string, Role> out;
  for (const auto& [k, r] : v->as_map()) {
    auto role = r.is_string() ? ParseRole(r.as_string()) : std::nullopt;
    if (!k.is_string() || !role) {
      return Fail(ErrorCode::kInvalidInput, "roles: bad entry {}", Quote(CanonicalJson(r)));
    }
    out[k.as_string()] = *role;
  }
  return out;
}

}  // namespace sluice
