#include "cli/secrets.h"

#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "spec/text_checks.h"

namespace sluice {
namespace {

constexpr size_t kMaxSecretBytes = 64 << 10;

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Digest(const std::string& salt, const std::string& value) {
  return Sha256Hex(salt + ":" + value);
}

std::string Where(const SecretDecl& d) {
  return d.loc.file ? fmt::format(" (declared at {}:{}:{})", *d.loc.file, d.loc.line, d.loc.column)
                    : "";
}

std::string TrimTrailingNewline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}


// Fetches every secret that some task of the plan names, each once.
Status FetchSecrets(Env& env, const Plan& plan, RunSecrets* out) {
  std::set<std::string> named;
  for (const auto& t : plan.tasks) {
    for (const auto& u : t.spec->secrets()) named.insert(u.name);
  }
  for (const auto& d : plan.pipeline->secrets) {
    if (!named.contains(d.name)) continue;
    auto v = FetchSecret(env, d);
    if (!v) return std::unexpected(v.error());
    out->values[d.name] = std::move(*v);
  }
  return {};
}

bool HasSecrets(const Plan& plan) {
  if (!plan.pipeline->secrets.empty()) return true;
  for (const auto& d : plan.pipeline->params) {
    if (d.secret) return true;
  }
  return false;
}

// The masker of every value the run holds.
void MakeMasker(RunSecrets& s) {
  std::vector<std::string> values;
  for (const auto& [k, v] : s.values) values.push_back(v);
  for (const auto& name : s.secret_params) {
    const Value* v = s.params.is_map() ? s.params.Find(name) : nullptr;
    if (v && v->is_string()) values.push_back(v->as_string());
  }
  s.masker = std::make_shared<const Masker>(values);
}

// `real` with each secret param that has a value shown as "***".
Value Shown(const Plan& plan, const Value& real) {
  ValueMap out;
  for (const auto& [k, v] : real.as_map()) {
    const ParamDecl* d = k.is_string() ? plan.pipeline->FindParam(k.as_string()) : nullptr;
    out.emplace_back(k, d && d->secret && !v.is_null() ? Value("***") : v);
  }
  return Value(std::move(out));
}

std::string HowToGive(const ParamDecl& d) {
  return fmt::format("-p {}=VALUE or the environment variable {}", d.name, SecretParamVar(d.name));
}

}  // namespace

Result<std::string> FetchSecret(Env& env, const SecretDecl& d) {
  auto fail = [&](const std::string& why) -> Result<std::string> {
    return Fail(ErrorCode::kInvalidInput, "secret {}: {}{}", Quote(d.name), why, Where(d));
  };
  switch (d.source) {
    case SecretDecl::Source::kEnv: {
      auto v = env.GetVar(d.env);
      if (!v) return fail(fmt::format("the environment variable {} is not set", d.env));
      if (v->empty()) return fail(fmt::format("the environment variable {} is empty", d.env));
      return *v;
    }
    case SecretDecl::Source::kFile: {
      auto v = env.files().ReadFileAtMost(d.file, kMaxSecretBytes);
      if (!v) return fail(v.error().message);
      if (Trim(*v).empty()) return fail(fmt::format("the file {} is empty", d.file));
      return *v;  // as it is: a key file keeps its last newline
    }
    case SecretDecl::Source::kCommand: {
      auto r = env.RunCommand(d.command, d.dir, d.timeout_ms * 1000, kMaxSecretBytes);
      if (!r) return fail(r.error().message);
      const std::string prog = Quote(d.command[0]);
      if (r->timed_out) {
        return fail(fmt::format("command {} did not finish within {}", prog,
                                FormatDurationMs(d.timeout_ms)));
      }
      if (r->too_long) {
        return fail(fmt::format("command {} wrote more than {} bytes", prog, kMaxSecretBytes));
      }
      if (r->signal) return fail(fmt::format("command {} was killed by signal {} (its output is "
                                             "not shown)", prog, r->signal));
      if (r->exit_code != 0) {
        return fail(fmt::format("command {} exited with status {} (its output is not shown)",
                                prog, r->exit_code));
      }
      std::string v = TrimTrailingNewline(std::move(r->out));
      if (v.empty()) return fail(fmt::format("command {} printed nothing", prog));
      return v;
    }
  }
  return fail("unknown source");
}

Result<BoundParams> BindRunParams(Env& env, const Plan& plan,
                                  const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> given = overrides;
  for (const auto& d : plan.pipeline->params) {
    if (!d.secret || given.contains(d.name)) continue;
    if (auto v = env.GetVar(SecretParamVar(d.name))) {
      given[d.name] = *v;
    } else if (d.required) {
      return Fail(ErrorCode::kInvalidInput, "secret param {} is required (pass {})", Quote(d.name),
                  HowToGive(d));
    }
  }
  auto real = BindParams(plan, given);
  if (!real) return std::unexpected(real.error());
  BoundParams out;
  out.digests = Value(ValueMap{});
  if (!HasSecrets(plan)) {
    out.stored = std::move(*real);
    return out;
  }
  auto secrets = std::make_shared<RunSecrets>();
  ValueMap digests;
  for (const auto& d : plan.pipeline->params) {
    if (!d.secret) continue;
    secrets->secret_params.insert(d.name);
    const Value* v = real->Find(d.name);
    if (!v || v->is_null()) continue;
    std::string salt = Hex(env.RandomBytes(16));
    digests.emplace_back(d.name, Value(ValueMap{{"salt", Value(salt)},
                                                {"sha256", Value(Digest(salt, v->as_string()))}}));
  }
  out.stored = Shown(plan, *real);
  out.digests = Value(std::move(digests));
  secrets->params = std::move(*real);
  out.secrets = std::move(secrets);
  return out;
}

Status FetchRunSecrets(Env& env, const Plan& plan, RunSecrets* secrets) {
  if (!secrets) return {};
  if (auto s = FetchSecrets(env, plan, secrets); !s) return s;
  MakeMasker(*secrets);
  return {};
}

Result<std::shared_ptr<RunSecrets>> RebindSecrets(Env& env, const Plan& plan, const Value& stored,
                                                  const Value& digests,
                                                  const std::map<std::string, std::string>& given) {
  for (const auto& [name, value] : given) {
    const ParamDecl* d = plan.pipeline->FindParam(name);
    if (!d || !d->secret) {
      return Fail(ErrorCode::kInvalidInput, "-p {}: only secret params are given again; the "
                  "others keep the values the run was submitted with", name);
    }
  }
  if (!HasSecrets(plan)) return std::shared_ptr<RunSecrets>();
  auto secrets = std::make_shared<RunSecrets>();
  ValueMap real;
  for (const auto& [k, v] : stored.as_map()) {
    const ParamDecl* d = k.is_string() ? plan.pipeline->FindParam(k.as_string()) : nullptr;
    if (!d || !d->secret) {
      real.emplace_back(k, v);
      continue;
    }
    secrets->secret_params.insert(d->name);
    const Value* digest = digests.is_map() ? digests.Find(d->name) : nullptr;
    if (!digest) {  // submitted without a value
      real.emplace_back(k, Value());
      continue;
    }
    std::optional<std::string> value;
    if (auto it = given.find(d->name); it != given.end()) value = it->second;
    else value = env.GetVar(SecretParamVar(d->name));
    if (!value) {
      return Fail(ErrorCode::kInvalidInput, "secret param {} is needed again: its value was never "
                  "stored (pass {})", Quote(d->name), HowToGive(*d));
    }
    const Value* salt = digest->Find("salt");
    const Value* sum = digest->Find("sha256");
    if (!salt || !sum || !salt->is_string() || !sum->is_string() ||
        Digest(salt->as_string(), *value) != sum->as_string()) {
      return Fail(ErrorCode::kInvalidInput, "secret param {} differs from the value the run was "
                  "submitted with (a run's params never change; start a new run for a new value)",
                  Quote(d->name));
    }
    real.emplace_back(k, Value(*value));
  }
  if (auto s = FetchSecrets(env, plan, secrets.get()); !s) return std::unexpected(s.error());
  secrets->params = Value(std::move(real));
  MakeMasker(*secrets);
  return secrets;
}

std::vector<std::string> TaskBaseEnvironment(Env& env, const Plan& plan) {
  // Sluice's own credentials never reach a task: the store's URL (it may hold a password), the
  // API token and server of the CLI against a server.
  std::set<std::string> hidden{"SLUICE_STORE", "SLUICE_TOKEN", "SLUICE_SERVER", kServedEngineVar};
  for (const auto& d : plan.pipeline->secrets) {
    if (d.source == SecretDecl::Source::kEnv) hidden.insert(d.env);
  }
  // An engine a server started got libpq's PG* variables for the server's store only.
  const bool served = env.GetVar(kServedEngineVar).has_value();
  std::vector<std::string> out = env.Environment();
  std::erase_if(out, [&](const std::string& kv) {
    std::string name = kv.substr(0, kv.find('='));
    return hidden.contains(name) || StartsWith(name, "SLUICE_PARAM_") ||
           (served && StartsWith(name, "PG"));
  });
  return out;
}

}  // namespace sluice
