// Trigger files, their stored snapshots and what a webhook request makes of them (triggers.h).
#include "cli/triggers.h"

#include <algorithm>
#include <cstdio>

#include "common/sha256.h"
#include "common/strings.h"
#include "env/fake_env.h"
#include "expr/expr.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {

namespace {

// The request, as a trigger's expressions see it.
class RequestScope : public Activation {
 public:
  RequestScope(const TriggerRequest& req, const TimeZones* zones) : req_(req), zones_(zones) {}
  const TimeZones* time_zones() const override { return zones_; }
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (path[0] == "body") return Resolved{req_.body, 1};
    if (path[0] == "headers") return Resolved{req_.headers, 1};
    return Fail(ErrorCode::kInvalidInput, "{} is not known here (body, headers)", Quote(path[0]));
  }

 private:
  const TriggerRequest& req_;
  const TimeZones* zones_;
};

// `value` as the -p text of param `d`: a string param takes a string, the others JSON of
// their type.
Result<std::string> ParamText(const ParamDecl& d, const Value& value) {
  if (d.type == ParamType::kString) {
    if (!value.is_string()) {
      return Fail(ErrorCode::kInvalidInput, "param {} must be a string, got {}", Quote(d.name),
                  value.ToJson());
    }
    return value.as_string();
  }
  if (!ValueMatchesType(value, d.type)) {
    return Fail(ErrorCode::kInvalidInput, "param {} must be {}, got {}", Quote(d.name),
                ParamTypeName(d.type), value.is_string() ? Quote(value.as_string()) : value.ToJson());
  }
  return value.ToJson();
}

std::string AtUtc(int64_t us) { return FormatTimestamp(Timestamp{us / 1'000'000, 0}); }

}  // namespace

Result<std::vector<TriggerSpec>> ReadTriggerFile(FileSystem& fs, const std::string& path) {
  LoadBudget budget;
  SLUICE_TRY(content, budget.Read(fs, path));
  SLUICE_TRY(spec, ParseSpecFile(path, *content, &budget));
  if (spec->triggers.empty() || !spec->pipelines.empty() || !spec->components.empty() ||
      !spec->breakers.empty() || !spec->policies.empty() || !spec->waivers.empty() ||
      !spec->schedules.empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}: a trigger file holds only Trigger documents "
                "(kind: Trigger; its pipeline is named by spec.pipeline)", path);
  }
  for (size_t i = 0; i < spec->triggers.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (spec->triggers[i].name == spec->triggers[j].name) {
        return FailAt(spec->triggers[i].loc, "trigger {} is declared twice (also at {})",
                      Quote(spec->triggers[i].name), spec->triggers[j].loc.ToString());
      }
    }
  }
  return std::move(spec->triggers);
}

Result<std::vector<TriggerRow>> SnapshotTriggers(FileSystem& fs, const std::string& path,
                                                 const std::string& ns, const std::string& actor,
                                                 int64_t now_us) {
  SLUICE_TRY(specs, ReadTriggerFile(fs, path));
  SLUICE_TRY(document, fs.ReadFile(path));
  std::vector<TriggerRow> rows;
  for (const TriggerSpec& t : *specs) {
    const std::string pipeline = t.PipelinePath();
    if (!fs.Stat(pipeline).exists) {
      return FailAt(t.pipeline_loc, "pipeline {} does not exist (a path relative to the "
                    "trigger file)", Quote(pipeline));
    }
    SLUICE_TRY(plan, LoadPlan(fs, pipeline));
    for (const auto& p : (*plan)->pipeline->params) {
      if (p.secret) {
        return FailAt(t.pipeline_loc, "trigger {}: param {} of its pipeline is secret, which a "
                      "webhook cannot give; run such pipelines with sluice run", Quote(t.name),
                      Quote(p.name));
      }
    }
    SLUICE_TRY_STATUS(TriggerParamTexts(t, **plan, nullptr, nullptr));
    ValueMap sources;
    for (const auto& [file, text] : (*plan)->sources) sources.emplace_back(Value(file), Value(text));
    TriggerRow row;
    row.ns = ns;
    row.name = t.name;
    row.file = path;
    row.document = *document;
    row.sources = Value(std::move(sources)).ToJson();
    row.applied_by = actor;
    row.applied_us = now_us;
    row.rotated_us = now_us;
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<LoadedTrigger> LoadStoredTrigger(const TriggerRow& row) {
  auto fail = [&](const Error& e) {
    return Fail(ErrorCode::kConflict, "trigger {}: its stored snapshot does not load ({}); "
                "apply it again", Quote(row.name), e.message);
  };
  auto sources = ParseJson(row.sources);
  if (!sources || !sources->is_map()) {
    return fail(Error(ErrorCode::kInvalidInput, "its sources are not a JSON object"));
  }
  std::map<std::string, std::string> files;
  for (const auto& [k, v] : sources->as_map()) files[k.as_string()] = v.is_string() ? v.as_string() : "";
  files[row.file] = row.document;
  MemFileSystem mem(std::move(files));
  auto specs = ReadTriggerFile(mem, row.file);
  if (!specs) return fail(specs.error());
  LoadedTrigger out;
  out.row = row;
  auto it = std::find_if(specs->begin(), specs->end(),
                         [&](const TriggerSpec& t) { return t.name == row.name; });
  if (it == specs->end()) return fail(Error(ErrorCode::kNotFound, "its file no longer defines it"));
  out.spec = std::move(*it);
  auto plan = LoadPlan(mem, out.spec.PipelinePath());
  if (!plan) return fail(plan.error());
  out.plan = *plan;
  return out;
}

Result<std::optional<std::string>> TriggerSkipReason(const TriggerSpec& t, const TriggerRequest& req,
                                                     const TimeZones* zones) {
  if (!t.when) return std::optional<std::string>();
  RequestScope scope(req, zones);
  auto v = t.when->Evaluate(scope);
  if (!v) return Fail(ErrorCode::kInvalidInput, "when: {}", v.error().message);
  auto holds = AsCondition(*v);
  if (!holds) return Fail(ErrorCode::kInvalidInput, "when: {}", holds.error().message);
  if (*holds) return std::optional<std::string>();
  return std::optional<std::string>(fmt::format("when {} is false", Quote(t.when->tmpl.text())));
}

Result<std::map<std::string, std::string>> TriggerParamTexts(const TriggerSpec& t, const Plan& plan,
                                                             const TriggerRequest* req,
                                                             const TimeZones* zones) {
  std::vector<std::string> names;
  for (const auto& d : plan.pipeline->params) names.push_back(d.name);
  std::map<std::string, std::string> out;
  for (const TriggerParam& p : t.params) {
    auto d = std::find_if(plan.pipeline->params.begin(), plan.pipeline->params.end(),
                          [&](const ParamDecl& decl) { return decl.name == p.name; });
    if (d == plan.pipeline->params.end()) {
      return FailAt(p.value.loc, "unknown param {}{}; pipeline {} declares: {}", Quote(p.name),
                    DidYouMean(p.name, names), plan.pipeline->name,
                    names.empty() ? "none" : Join(names, ", "));
    }
    if (!p.value.literal && p.value.has_placeholders() && !req) continue;  // known at a fire
    const TriggerRequest none{};
    RequestScope scope(req ? *req : none, zones);
    auto v = p.value.Evaluate(scope);
    if (!v) return Fail(ErrorCode::kInvalidInput, "param {}: {}", Quote(p.name), v.error().message);
    auto text = ParamText(*d, *v);
    if (!text && !req) return FailAt(p.value.loc, "{}", text.error().message);
    if (!text) return std::unexpected(text.error());
    out[p.name] = *text;
  }
  return out;
}

Value TriggerRunLabels(const TriggerSpec& t) {
  ValueMap labels;
  for (const auto& [k, v] : t.labels) {
    if (k != "sluice.trigger") labels.emplace_back(Value(k), Value(v));
  }
  labels.emplace_back(Value("sluice.trigger"), Value(t.name));
  return Value(std::move(labels));
}

std::string TriggerActor(const std::string& name) { return "trigger:" + name; }

std::string TriggerRunId(const std::string& ns, const std::string& name, const std::string& key) {
  return fmt::format("trig-{}-{}", name, Sha256Hex(ns + "/" + name + "/" + key).substr(0, 16));
}

Value TriggerJson(const LoadedTrigger& t) {
  ValueList params;
  for (const auto& p : t.spec.params) params.push_back(Value(p.name));
  ValueMap labels;
  for (const auto& [k, v] : t.spec.labels) labels.emplace_back(Value(k), Value(v));
  return Value(ValueMap{{"namespace", Value(t.row.ns)},
                        {"name", Value(t.row.name)},
                        {"pipeline", Value(t.plan->pipeline->name)},
                        {"params", Value(std::move(params))},
                        {"when", t.spec.when ? Value(t.spec.when->tmpl.text()) : Value()},
                        {"tokenId", Value(t.row.token_id)},
                        {"appliedBy", Value(t.row.applied_by)},
                        {"appliedAt", Value(AtUtc(t.row.applied_us))},
                        {"rotatedAt", Value(AtUtc(t.row.rotated_us))},
                        {"labels", Value(std::move(labels))}});
}

std::string TriggersText(const Value& items) {
  std::string text = fmt::format("{:<24} {:<24} {:<16} {:<21} {}\n", "NAME", "PIPELINE", "TOKEN",
                                 "ROTATED", "APPLIED BY");
  if (!items.is_list()) return text;
  for (const Value& v : items.as_list()) {
    auto field = [&](const char* k) {
      const Value* f = v.is_map() ? v.Find(k) : nullptr;
      return f && !f->is_null() ? f->ToText() : std::string("-");
    };
    text += fmt::format("{:<24} {:<24} {:<16} {:<21} {}\n", field("name"), field("pipeline"),
                        field("tokenId"), field("rotatedAt"), field("appliedBy"));
  }
  return text;
}

Value TriggerTokenItem(const std::string& name, bool created, const NewToken& token, bool shown) {
  ValueMap item{{"name", Value(name)}, {"created", Value(created)}};
  if (shown) {
    item.emplace_back(Value("token"), Value(token.text));
    item.emplace_back(Value("signingSecret"), Value(token.secret_hash));
  }
  return Value(std::move(item));
}

void PrintTriggerTokens(const Value& answer, bool json) {
  if (json) {
    std::printf("%s\n", answer.ToJson().c_str());
    return;
  }
  const Value* applied = answer.is_map() ? answer.Find("applied") : nullptr;
  if (!applied || !applied->is_list()) return;
  for (const Value& a : applied->as_list()) {
    const Value* name = a.is_map() ? a.Find("name") : nullptr;
    const Value* token = a.is_map() ? a.Find("token") : nullptr;
    const Value* signing = a.is_map() ? a.Find("signingSecret") : nullptr;
    if (!name) continue;
    if (token && token->is_string()) {
      std::printf("%s %s\n", name->ToText().c_str(), token->as_string().c_str());
      std::fprintf(stderr, "trigger %s: keep its token now, it is not shown again\n",
                   name->ToText().c_str());
      if (signing && signing->is_string()) {  // docs/triggers.md, "Senders that sign"
        std::fprintf(stderr, "trigger %s: a sender that signs (signature: github) takes %s as "
                     "its webhook secret\n", name->ToText().c_str(), signing->as_string().c_str());
      }
    } else {
      std::printf("%s (its token is unchanged)\n", name->ToText().c_str());
    }
  }
}

}  // namespace sluice
