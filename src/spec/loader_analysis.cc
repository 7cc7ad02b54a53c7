// Reading `kind: AnalysisTemplate` documents (analysis_spec.h) with the loader's Reader: every
// error is one FILE:LINE:COL line, and everything that can be checked before a rollout is
// (conditions parse and type-check, placeholders name declared args, limits can be reached).
#include <algorithm>
#include <cstdio>

#include "common/strings.h"
#include "expr/check.h"
#include "spec/analysis_spec.h"
#include "spec/text_checks.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

using ArgNames = std::vector<std::string>;

// What conditions and placeholders know before a run: every arg is a string (Argo's args are),
// `result` is whatever the provider answers.
class ArgTypes : public TypeEnv {
 public:
  explicit ArgTypes(const ArgNames& args) : args_(args) {}
  std::optional<std::pair<StaticType, size_t>> Lookup(
      std::span<const std::string> path) const override {
    if (path.size() >= 2 && path[0] == "args" &&
        std::find(args_.begin(), args_.end(), path[1]) != args_.end()) {
      return std::make_pair(StaticType::kString, size_t{2});
    }
    return std::nullopt;
  }

 private:
  const ArgNames& args_;
};

// "column N: MESSAGE" from src/expr as "MESSAGE (in the WHERE, column N + shift)".
std::unexpected<Error> ColumnError(const Location& loc, const std::string& message,
                                   std::string_view where, int shift) {
  int col = 0;
  if (std::sscanf(message.c_str(), "column %d:", &col) == 1) {
    return FailAt(loc, "{} (in the {}, column {})", message.substr(message.find(':') + 2), where,
                  col + shift);
  }
  return FailAt(loc, "{}", message);
}

// A reference to args.NAME names a declared arg.
Status CheckArgRef(const Location& loc, const Reference& ref, const ArgNames& args,
                   std::string_view where, int shift) {
  if (ref.path.size() < 2) {
    return FailAt(loc, "args alone is not a value; write args.NAME (in the {}, column {})", where,
                  ref.column + shift);
  }
  if (std::find(args.begin(), args.end(), ref.path[1]) == args.end()) {
    return FailAt(loc, "unknown arg {}: spec.args declares {}{} (in the {}, column {})",
                  Quote(ref.path[1]), args.empty() ? "none" : Join(args, ", "),
                  DidYouMean(ref.path[1], args), where, ref.column + shift);
  }
  return {};
}

// Argo writes `{{args.NAME}}`; in Sluice that text would reach Prometheus as it is. Points at
// the `{{` in scalar `n`, whose text is `text`.
Status NoArgoPlaceholder(const Reader& r, const YNode& n, std::string_view text) {
  for (size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at + 2)) {
    if (at > 0 && text[at - 1] == '$') continue;
    std::string_view rest = Trim(text.substr(at + 2));
    if (!StartsWith(rest, "args.")) continue;
    size_t end = text.find("}}", at);
    std::string body(Trim(text.substr(at + 2, end == std::string_view::npos ? 0 : end - at - 2)));
    return FailAt(r.TextLoc(n, text, at), "{{{{{}}}}} is Argo's placeholder; Sluice's is "
                  "\"${{{{ {} }}}}\"", body, body);
  }
  return {};
}

Result<AnalysisText> Text(const Reader& r, const YNode& n, std::string_view what,
                          const ArgNames& args) {
  SLUICE_TRY(s, r.Str(n, what));
  AnalysisText t;
  t.loc = r.Loc(n);
  SLUICE_TRY_STATUS(NoArgoPlaceholder(r, n, *s));
  auto tmpl = Template::Parse(*s);
  if (!tmpl) return FailAt(t.loc, "in {}: {}", what, tmpl.error().message);
  ArgTypes types(args);
  for (const auto& piece : tmpl->pieces()) {
    if (!piece.expr) continue;
    for (const auto& ref : piece.expr->references()) {
      if (ref.path[0] != "args") {
        return FailAt(t.loc, "unknown name {}: placeholders of an AnalysisTemplate see args only "
                      "(in the placeholder, column {})", Quote(ref.path[0]),
                      ref.column + piece.offset);
      }
      SLUICE_TRY_STATUS(CheckArgRef(t.loc, ref, args, "placeholder", piece.offset));
    }
    if (auto st = CheckExpression(*piece.expr, types); !st) {
      return ColumnError(t.loc, st.error().message, "placeholder", piece.offset);
    }
  }
  t.tmpl = std::move(*tmpl);
  return t;
}

// A successCondition or failureCondition: CEL over result and args, checked now so that a typo
// is an error when the template is read, not an Error measurement in the middle of a rollout.
Result<std::shared_ptr<const Expression>> Condition(const Reader& r, const YNode& n,
                                                    std::string_view what, const ArgNames& args) {
  SLUICE_TRY(e, r.Cel(n, what));
  const Location loc = r.Loc(n);
  static const std::vector<std::string> kTypeNames = {"int", "uint", "double", "bool", "string",
                                                      "bytes", "list", "map", "null_type", "type"};
  for (const auto& ref : (*e)->references()) {
    const std::string& root = ref.path[0];
    if (root == "result") continue;
    if (root == "args") {
      SLUICE_TRY_STATUS(CheckArgRef(loc, ref, args, "expression", 0));
      continue;
    }
    if (std::find(kTypeNames.begin(), kTypeNames.end(), root) != kTypeNames.end()) continue;
    static const std::vector<std::string> kRoots = {"result", "args"};
    return FailAt(loc, "unknown name {}: conditions see result and args{} (in the expression, "
                  "column {})", Quote(root), DidYouMean(root, kRoots), ref.column);
  }
  ArgTypes types(args);
  if (auto st = CheckExpression(**e, types); !st) {
    return ColumnError(loc, st.error().message, "expression", 0);
  }
  return e;
}

Result<int64_t> Timeout(const Reader& r, const YNode& block, int64_t fallback) {
  if (!block["timeout"]) return fallback;
  return r.Duration(block["timeout"], "timeout");
}

Status ReadArgv(const Reader& r, const YNode& run, const ArgNames& args,
                std::vector<AnalysisText>* out) {
  if (!run.IsSequence() || run.size() == 0) {
    return FailAt(r.Loc(run), "run must be a non-empty list (the program and its arguments), "
                  "not {}", run.IsSequence() ? "an empty list" : KindName(run));
  }
  for (const auto& a : run) {
    SLUICE_TRY(t, Text(r, a, "run", args));
    out->push_back(std::move(*t));
  }
  return {};
}

Status ReadPrometheus(const Reader& r, const YNode& n, const ArgNames& args, AnalysisProvider* p) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "prometheus"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"address", "query", "timeout"}, "prometheus"));
  if (!n["address"] || !n["query"]) {
    return FailAt(r.Loc(n), "prometheus needs address (e.g. http://127.0.0.1:9090) and query");
  }
  SLUICE_TRY(address, Text(r, n["address"], "address", args));
  const std::string& a = address->tmpl.text();
  if (!address->tmpl.has_placeholders() && !StartsWith(a, "http://") &&
      !StartsWith(a, "https://")) {
    return FailAt(address->loc, "address {} must start with http:// or https://", Quote(a));
  }
  SLUICE_TRY(query, Text(r, n["query"], "query", args));
  SLUICE_TRY(timeout, Timeout(r, n, kDefaultPrometheusTimeoutMs));
  p->kind = AnalysisProvider::Kind::kPrometheus;
  p->address = std::move(*address);
  p->query = std::move(*query);
  p->timeout_ms = *timeout;
  return {};
}

Status ReadWeb(const Reader& r, const YNode& n, const ArgNames& args, AnalysisProvider* p) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "web"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"url", "method", "headers", "body", "jsonPath", "timeout"},
                                "web"));
  if (!n["url"]) return FailAt(r.Loc(n), "web needs url");
  SLUICE_TRY(url, Text(r, n["url"], "url", args));
  const std::string& u = url->tmpl.text();
  if (!url->tmpl.has_placeholders() && !StartsWith(u, "http://") && !StartsWith(u, "https://")) {
    return FailAt(url->loc, "url {} must start with http:// or https://", Quote(u));
  }
  p->url = std::move(*url);
  if (const auto& m = n["method"]) {
    SLUICE_TRY(method, r.Str(m, "method"));
    if (*method != "GET" && *method != "POST" && *method != "PUT") {
      return FailAt(r.Loc(m), "method must be GET, POST or PUT, not {}", Quote(*method));
    }
    p->method = *method;
  }
  if (const auto& hs = n["headers"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(hs, "headers"));
    for (auto it = hs.begin(); it != hs.end(); ++it) {
      SLUICE_TRY(name, r.Str(it->first, "a header name"));
      SLUICE_TRY(value, Text(r, it->second, "a header value", args));
      p->headers.emplace_back(*name, std::move(*value));
    }
  }
  if (const auto& b = n["body"]) {
    if (p->method == "GET") return FailAt(r.Loc(b), "a body needs method: POST or PUT");
    SLUICE_TRY(body, Text(r, b, "body", args));
    p->body = std::move(*body);
  }
  if (const auto& jp = n["jsonPath"]) {
    SLUICE_TRY(path, r.Str(jp, "jsonPath"));
    auto steps = ParseJsonPath(*path);
    if (!steps) return FailAt(r.Loc(jp), "jsonPath {}: {}", Quote(*path), steps.error().message);
    p->json_path = *path;
  }
  SLUICE_TRY(timeout, Timeout(r, n, kDefaultWebTimeoutMs));
  p->kind = AnalysisProvider::Kind::kWeb;
  p->timeout_ms = *timeout;
  return {};
}

Status ReadProcess(const Reader& r, const YNode& n, std::string_view kind, const ArgNames& args,
                   AnalysisProvider* p) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, kind));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"run", "timeout"}, kind));
  if (!n["run"]) {
    return FailAt(r.Loc(n), "{} needs run: the command as a list, e.g. [sh, -c, \"...\"]", kind);
  }
  SLUICE_TRY_STATUS(ReadArgv(r, n["run"], args, &p->run));
  const bool job = kind == "job";
  SLUICE_TRY(timeout, Timeout(r, n, job ? kDefaultJobTimeoutMs : kDefaultCommandTimeoutMs));
  p->kind = job ? AnalysisProvider::Kind::kJob : AnalysisProvider::Kind::kCommand;
  p->timeout_ms = *timeout;
  return {};
}

Status ReadProvider(const Reader& r, const YNode& n, const ArgNames& args, AnalysisProvider* p) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "provider"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"prometheus", "web", "command", "job"}, "provider"));
  if (n.size() == 0) {
    return FailAt(r.Loc(n), "provider needs one of prometheus, web, command or job");
  }
  if (n.size() > 1) {
    YNode::Entry first = *YNode::Iterator(n, 0);
    YNode::Entry second = *YNode::Iterator(n, 1);
    return FailAt(r.Loc(second.first), "a metric has one provider, not both {} and {}",
                  first.first.Scalar(), second.first.Scalar());
  }
  YNode::Entry e = *YNode::Iterator(n, 0);
  std::string_view kind = e.first.Scalar();
  if (kind == "prometheus") return ReadPrometheus(r, e.second, args, p);
  if (kind == "web") return ReadWeb(r, e.second, args, p);
  return ReadProcess(r, e.second, kind, args, p);
}

Status ReadLimits(const Reader& r, const YNode& n, AnalysisMetric* m) {
  auto limit = [&](const char* key, int* out) -> Status {
    if (!n[key]) return {};
    SLUICE_TRY(v, r.Int(n[key], key, 0, 1'000'000));
    *out = static_cast<int>(*v);
    return {};
  };
  SLUICE_TRY_STATUS(limit("failureLimit", &m->failure_limit));
  SLUICE_TRY_STATUS(limit("inconclusiveLimit", &m->inconclusive_limit));
  SLUICE_TRY_STATUS(limit("consecutiveErrorLimit", &m->consecutive_error_limit));
  if (const auto& c = n["count"]) {
    SLUICE_TRY(v, r.Int(c, "count", 1, 1'000'000));
    m->count = static_cast<int>(*v);
    if (*v > 1 && m->interval_ms == 0) {
      return FailAt(r.Loc(c), "count {} needs an interval between the measurements", *v);
    }
  }
  // A limit at or above the number of measurements can never be passed: the metric would never
  // fail (or pause), which is what dryRun says openly.
  if (auto total = m->EffectiveCount()) {
    if (m->failure_limit >= *total) {
      return FailAt(r.Loc(n["failureLimit"]), "failureLimit {} lets all {} measurement{} fail, "
                    "so the metric could never fail; lower it, or use dryRun: true to only "
                    "report", m->failure_limit, *total, *total == 1 ? "" : "s");
    }
    if (m->inconclusive_limit >= *total) {
      return FailAt(r.Loc(n["inconclusiveLimit"]), "inconclusiveLimit {} is not below the {} "
                    "measurement{}, so the metric could never be inconclusive",
                    m->inconclusive_limit, *total, *total == 1 ? "" : "s");
    }
  }
  return {};
}

Result<AnalysisMetric> ReadMetric(const Reader& r, const YNode& n, const ArgNames& args) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "a metric"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "interval", "initialDelay", "count", "failureLimit",
                                    "inconclusiveLimit", "consecutiveErrorLimit",
                                    "successCondition", "failureCondition", "dryRun",
                                    "provider"}, "a metric"));
  if (!n["name"] || !n["provider"]) return FailAt(r.Loc(n), "a metric needs name and provider");
  AnalysisMetric m;
  SLUICE_TRY(name, r.Name(n["name"], "metric name"));
  m.name = *name;
  m.loc = r.Loc(n["name"]);
  if (const auto& i = n["interval"]) {
    SLUICE_TRY(ms, r.Duration(i, "interval"));
    m.interval_ms = *ms;
  }
  if (const auto& d = n["initialDelay"]) {
    SLUICE_TRY(ms, r.Duration(d, "initialDelay"));
    m.initial_delay_ms = *ms;
  }
  SLUICE_TRY_STATUS(ReadLimits(r, n, &m));
  if (const auto& s = n["successCondition"]) {
    SLUICE_TRY(e, Condition(r, s, "successCondition", args));
    m.success_condition = *e;
  }
  if (const auto& f = n["failureCondition"]) {
    SLUICE_TRY(e, Condition(r, f, "failureCondition", args));
    m.failure_condition = *e;
  }
  if (const auto& d = n["dryRun"]) {
    SLUICE_TRY(b, r.Bool(d, "dryRun"));
    m.dry_run = *b;
  }
  SLUICE_TRY_STATUS(ReadProvider(r, n["provider"], args, &m.provider));
  if (m.provider.kind == AnalysisProvider::Kind::kJob &&
      (m.success_condition || m.failure_condition)) {
    const YNode& c = n["successCondition"] ? n["successCondition"] : n["failureCondition"];
    return FailAt(r.Loc(c), "a job metric is decided by its exit status (0: Successful, else "
                  "Failed); use command: for a result that conditions read");
  }
  return m;
}

Status ReadArgs(const Reader& r, const YNode& list, std::vector<AnalysisArg>* out) {
  SLUICE_TRY_STATUS(r.ExpectList(list, "args"));
  for (const auto& a : list) {
    SLUICE_TRY_STATUS(r.ExpectMap(a, "an arg"));
    SLUICE_TRY_STATUS(r.CheckKeys(a, {"name", "value"}, "an arg"));
    if (!a["name"]) return FailAt(r.Loc(a), "an arg needs a name");
    AnalysisArg arg;
    SLUICE_TRY(name, r.Str(a["name"], "arg name"));
    arg.loc = r.Loc(a["name"]);
    const bool ident = !name->empty() && name->size() <= 128 && IsIdentStart((*name)[0]) &&
                       std::all_of(name->begin(), name->end(), IsIdentChar);
    if (!ident) {
      return FailAt(arg.loc, "arg name {} must start with a letter or '_' and hold only letters, "
                    "digits and '_' (conditions read it as args.NAME, where '-' subtracts)",
                    Quote(*name));
    }
    arg.name = *name;
    for (const auto& other : *out) {
      if (other.name == arg.name) {
        return FailAt(arg.loc, "duplicate arg {} (also at {})", Quote(arg.name),
                      other.loc.ToString());
      }
    }
    if (const auto& v = a["value"]) {
      SLUICE_TRY(value, r.Str(v, "an arg's value"));
      arg.value = *value;
    }
    out->push_back(std::move(arg));
  }
  return {};
}

// apiVersion sluice/v1, kind AnalysisTemplate, metadata {name, description} and a spec map.
Status Header(const Reader& r, const YNode& doc) {
  if (!doc.IsMap()) return FailAt(r.Loc(doc), "an AnalysisTemplate document is a map");
  SLUICE_TRY_STATUS(r.CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"},
                                "an AnalysisTemplate document"));
  if (!doc["apiVersion"] || !doc["kind"] || !doc["metadata"] || !doc["spec"]) {
    return FailAt(r.Loc(doc), "an AnalysisTemplate needs apiVersion: sluice/v1, kind: "
                  "AnalysisTemplate, metadata.name and spec");
  }
  SLUICE_TRY(api, r.Str(doc["apiVersion"], "apiVersion"));
  if (*api != "sluice/v1") {
    return FailAt(r.Loc(doc["apiVersion"]), "unsupported apiVersion {}; expected sluice/v1",
                  Quote(*api));
  }
  SLUICE_TRY(kind, r.Str(doc["kind"], "kind"));
  if (*kind != "AnalysisTemplate") {
    return FailAt(r.Loc(doc["kind"]), "kind must be AnalysisTemplate, not {}", Quote(*kind));
  }
  const auto& md = doc["metadata"];
  SLUICE_TRY_STATUS(r.ExpectMap(md, "metadata"));
  SLUICE_TRY_STATUS(r.CheckKeys(md, {"name", "description"}, "metadata"));
  if (!md["name"]) return FailAt(r.Loc(md), "an AnalysisTemplate needs metadata.name");
  SLUICE_TRY_STATUS(r.ExpectMap(doc["spec"], "spec"));
  return r.CheckKeys(doc["spec"], {"args", "metrics"}, "an AnalysisTemplate spec");
}

}  // namespace

Result<std::vector<JsonPathStep>> ParseJsonPath(std::string_view path) {
  std::string_view p = Trim(path);
  if (p.size() >= 2 && p.front() == '{' && p.back() == '}') p = Trim(p.substr(1, p.size() - 2));
  if (p.empty() || p[0] != '$') return Fail(ErrorCode::kInvalidInput, "must start with $");
  std::vector<JsonPathStep> steps;
  size_t i = 1;
  while (i < p.size()) {
    if (p[i] == '.') {
      size_t end = i + 1;
      while (end < p.size() && p[end] != '.' && p[end] != '[') ++end;
      if (end == i + 1) return Fail(ErrorCode::kInvalidInput, "empty name at offset {}", i + 1);
      steps.push_back({std::string(p.substr(i + 1, end - i - 1)), -1});
      i = end;
    } else if (p[i] == '[') {
      size_t close = p.find(']', i);
      if (close == std::string_view::npos) {
        return Fail(ErrorCode::kInvalidInput, "unclosed [ at offset {}", i);
      }
      std::string_view inner = p.substr(i + 1, close - i - 1);
      if (inner.size() >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner.back() == inner[0]) {
        steps.push_back({std::string(inner.substr(1, inner.size() - 2)), -1});
      } else if (!inner.empty() && inner.size() <= 9 && AllDigits(inner)) {
        steps.push_back({"", std::stoll(std::string(inner))});
      } else {
        return Fail(ErrorCode::kInvalidInput, "[{}] is not an index or a quoted name (this "
                    "subset has $.a.b, $.a[0] and $['a b'])", inner);
      }
      i = close + 1;
    } else {
      return Fail(ErrorCode::kInvalidInput, "unexpected {} at offset {}", Quote(p.substr(i, 1)), i);
    }
  }
  return steps;
}

Result<AnalysisTemplate> ReadAnalysisTemplate(const Reader& r, const YNode& doc) {
  SLUICE_TRY_STATUS(Header(r, doc));
  const auto& md = doc["metadata"];
  AnalysisTemplate t;
  SLUICE_TRY(name, r.Name(md["name"], "template name"));
  t.name = *name;
  t.loc = r.Loc(md["name"]);
  const auto& spec = doc["spec"];
  if (const auto& args = spec["args"]) SLUICE_TRY_STATUS(ReadArgs(r, args, &t.args));
  ArgNames names;
  for (const auto& a : t.args) names.push_back(a.name);
  const auto& metrics = spec["metrics"];
  if (!metrics) return FailAt(r.Loc(spec), "an AnalysisTemplate needs metrics");
  SLUICE_TRY_STATUS(r.ExpectList(metrics, "metrics"));
  if (metrics.size() == 0) return FailAt(r.Loc(metrics), "an AnalysisTemplate needs at least one metric");
  for (const auto& n : metrics) {
    SLUICE_TRY(m, ReadMetric(r, n, names));
    for (const auto& other : t.metrics) {
      if (other.name == m->name) {
        return FailAt(m->loc, "duplicate metric {} (also at {})", Quote(m->name),
                      other.loc.ToString());
      }
    }
    t.metrics.push_back(std::move(*m));
  }
  return t;
}

Result<std::vector<AnalysisTemplate>> ParseAnalysisTemplates(const std::string& path,
                                                             std::string_view text) {
  std::vector<AnalysisTemplate> out;
  SLUICE_TRY_STATUS(ForEachDocument(path, text, [&](const Reader& r, const YNode& doc) -> Status {
    SLUICE_TRY(t, ReadAnalysisTemplate(r, doc));
    for (const auto& other : out) {
      if (other.name == t->name) {
        return FailAt(t->loc, "duplicate AnalysisTemplate {} (also at {})", Quote(t->name),
                      other.loc.ToString());
      }
    }
    out.push_back(std::move(*t));
    return {};
  }));
  if (out.empty()) return Fail(ErrorCode::kInvalidInput, "{}: no AnalysisTemplate document", path);
  return out;
}

Status ReadAnalysisProvider(const Reader& r, const YNode& n,
                            const std::vector<std::string>& args, AnalysisProvider* p) {
  return ReadProvider(r, n, args, p);
}

}  // namespace sluice
