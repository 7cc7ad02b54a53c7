// Reader: typed, located access to a parsed YAML document, shared by the loader's .cc files.
// Internal to src/spec (only loader*.cc include it). One Reader per file; not thread-safe.
#pragma once

#include "spec/yaml_tree.h"

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "common/value.h"
#include "spec/declared_names.h"
#include "spec/loader.h"
#include "spec/text_checks.h"

namespace sluice {

constexpr int kMaxValues = 100000;  // bounds alias expansion ("billion laughs")

inline std::string_view KindName(const YNode& n) {
  switch (n.type()) {
    case YNode::Type::kMap: return "a map";
    case YNode::Type::kSequence: return "a list";
    case YNode::Type::kScalar: return "a scalar";
    case YNode::Type::kNull: return "nothing";
    default: return "an undefined value";
  }
}

// A map's entries read once, for readers that ask for many optional keys (a task block is
// asked for ~30, and a million-task file has a million of them). Lookups match YNode's
// operator[] (the first scalar key that equals); a map past kMax entries is searched in place.
class MapKeys {
 public:
  explicit MapKeys(const YNode& map) : map_(map) {
    size_t n = map.size();
    if (n > kMax) return;
    for (size_t i = 0; i < n; ++i) {
      YNode::Entry e = *YNode::Iterator(map, i);
      keys_[i] = e.first.IsScalar() ? e.first.Scalar() : std::string_view();
      scalar_[i] = e.first.IsScalar();
      values_[i] = e.second;
    }
    n_ = n;
    small_ = true;
  }
  YNode operator[](std::string_view key) const {
    if (!small_) return map_[key];
    for (size_t i = 0; i < n_; ++i) {
      if (scalar_[i] && keys_[i] == key) return values_[i];
    }
    return YNode();
  }
  const YNode& node() const { return map_; }

 private:
  static constexpr size_t kMax = 32;
  YNode map_;
  size_t n_ = 0;
  bool small_ = false;
  std::string_view keys_[kMax];
  bool scalar_[kMax];
  YNode values_[kMax];
};

class Reader {
 public:
  // Values count against `budget` (shared by the files of one load) when given.
  explicit Reader(std::string file, LoadBudget* budget = nullptr)
      : file_(std::move(file)), file_name_(std::make_shared<const std::string>(file_)),
        budget_(budget) {}

  Location Loc(const YNode& n) const {
    auto m = n.Mark();
    if (m.is_null()) return Location{file_name_, 0, 0};
    return Location{file_name_, m.line + 1, m.column + 1};
  }

  // Fails on keys outside `allowed`, duplicate keys and non-string keys.
  // Runs for every map of every task, so it allocates nothing unless it fails.
  Status CheckKeys(const YNode& map, std::initializer_list<std::string_view> allowed,
                   std::string_view where) const {
    size_t n = map.size();
    for (size_t i = 0; i < n; ++i) {
      YNode::Entry e = *YNode::Iterator(map, i);
      if (!e.first.IsScalar()) return FailAt(Loc(e.first), "keys must be plain names");
      std::string_view key = e.first.Scalar();
      for (size_t j = 0; j < i; ++j) {
        if ((*YNode::Iterator(map, j)).first.Scalar() == key) {
          return FailAt(Loc(e.first), "duplicate key {} in {}", Quote(key), where);
        }
      }
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        return FailAt(Loc(e.first), "unknown key {} in {}{}", Quote(key), where,
                      DidYouMean(key, names));
      }
    }
    return {};
  }

  Status ExpectMap(const YNode& n, std::string_view what) const {
    if (!n.IsMap()) return FailAt(Loc(n), "{} must be a map, not {}", what, KindName(n));
    return {};
  }
  Status ExpectList(const YNode& n, std::string_view what) const {
    if (!n.IsSequence()) return FailAt(Loc(n), "{} must be a list, not {}", what, KindName(n));
    return {};
  }

  Result<std::string> Str(const YNode& n, std::string_view what) const {
    if (!n.IsScalar()) return FailAt(Loc(n), "{} must be a string, not {}", what, KindName(n));
    return std::string(n.Scalar());
  }

  Result<std::string> Name(const YNode& n, std::string_view what) const {
    auto s = Str(n, what);
    if (!s) return s;
    if (!IsName(*s)) {
      return FailAt(Loc(n), "{} {} must start with a letter or '_' and hold only letters, digits, "
                    "'_', '-' and '.' (at most 128)", what, Quote(*s));
    }
    return s;
  }

  // A plain scalar as YAML 1.2's core schema reads it; a quoted one is always a string.
  static Value ScalarValue(const YNode& n) {
    std::string_view s = n.Scalar();  // NUL-terminated: strtoll/strtod may read it
    if (n.IsQuotedOrString()) return Value(std::string(s));
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Value();
    if (s == "true" || s == "True" || s == "TRUE") return Value(true);
    if (s == "false" || s == "False" || s == "FALSE") return Value(false);
    if (IsIntText(s)) {
      errno = 0;
      long long v = std::strtoll(s.data(), nullptr, 10);
      if (errno == 0) return Value(static_cast<int64_t>(v));
    }
    if (IsFloatText(s)) return Value(std::strtod(s.data(), nullptr));
    if (s == ".inf" || s == "+.inf") return Value(INFINITY);
    if (s == "-.inf") return Value(-INFINITY);
    if (s == ".nan") return Value(NAN);
    return Value(std::string(s));
  }

  Result<Value> ToValue(const YNode& n, int depth = 0) const {
    if (depth > kMaxNesting) return FailAt(Loc(n), "nested too deeply (more than {} levels)", kMaxNesting);
    if (++values_ > kMaxValues) {
      return FailAt(Loc(n), "too many values (more than {}; aliases expanding?)", kMaxValues);
    }
    if (budget_ && !budget_->TakeValue()) {
      return FailAt(Loc(n), "too many values in this pipeline's files together (more than {}; "
                    "aliases expanding?)", LoadBudget::kMaxValues);
    }
    switch (n.type()) {
      case YNode::Type::kNull: return Value();
      case YNode::Type::kScalar: return ScalarValue(n);
      case YNode::Type::kSequence: {
        ValueList l;
        for (const auto& e : n) {
          auto v = ToValue(e, depth + 1);
          if (!v) return v;
          l.push_back(std::move(*v));
        }
        return Value(std::move(l));
      }
      case YNode::Type::kMap: {
        ValueMap m;
        std::set<std::string> seen;
        for (auto it = n.begin(); it != n.end(); ++it) {
          if (!it->first.IsScalar()) return FailAt(Loc(it->first), "keys must be plain names");
          if (!seen.insert(std::string(it->first.Scalar())).second) {
            return FailAt(Loc(it->first), "duplicate key {}", Quote(it->first.Scalar()));
          }
          auto v = ToValue(it->second, depth + 1);
          if (!v) return v;
          m.emplace_back(std::string(it->first.Scalar()), std::move(*v));
        }
        return Value(std::move(m));
      }
      default: return FailAt(Loc(n), "undefined value");
    }
  }

  Result<bool> Bool(const YNode& n, std::string_view what) const {
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (v.is_bool()) return v.as_bool();
    }
    return FailAt(Loc(n), "{} must be true or false", what);
  }

  Result<int64_t> Int(const YNode& n, std::string_view what, int64_t min, int64_t max) const {
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (v.is_int() && v.as_int() >= min && v.as_int() <= max) return v.as_int();
    }
    return FailAt(Loc(n), "{} must be a whole number from {} to {}", what, min, max);
  }

  Result<double> Number(const YNode& n, std::string_view what) const {
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (v.is_number() && std::isfinite(v.to_double()) && v.to_double() >= 0) {
        return v.to_double();
      }
    }
    return FailAt(Loc(n), "{} must be a non-negative number", what);
  }

  Result<int64_t> Duration(const YNode& n, std::string_view what) const {
    if (n.IsScalar()) {
      if (auto ms = ParseDurationMs(n.Scalar()); ms && *ms > 0) return *ms;
    }
    return FailAt(Loc(n), "{} must be a positive duration such as 30s, 5m or 1h30m", what);
  }

  // A duration that may be 0 ("0s"): delays and soaks.
  Result<int64_t> Delay(const YNode& n, std::string_view what) const {
    if (n.IsScalar()) {
      if (auto ms = ParseDurationMs(n.Scalar()); ms && *ms >= 0) return *ms;
    }
    return FailAt(Loc(n), "{} must be a duration such as 0s, 30s or 5m", what);
  }

  // A string that may hold placeholders; non-string YAML values are kept as typed literals
  // when `typed` is set, and otherwise read as their text (argv and env are text).
  Result<TemplateField> Field(const YNode& n, std::string_view what, bool typed) const {
    TemplateField f;
    f.loc = Loc(n);
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (typed && !v.is_string()) {
        f.literal = v;
        return f;
      }
      SLUICE_TRY_STATUS(NoBareTemplate(n, n.Scalar(), false));
      auto t = Template::Parse(n.Scalar(), names_);
      if (!t) return FailAt(f.loc, "in {}: {}", what, t.error().message);
      f.tmpl = std::move(*t);
      return f;
    }
    if (!typed || n.IsNull()) {
      // [echo, a: b] reads as a list holding the map {a: b}.
      return FailAt(f.loc, "{} must be a string, not {}{}", what, KindName(n),
                    n.IsMap() && n.size() == 1 ? "; hint: text that holds \": \" must be quoted "
                                                 "(\"a: b\")" : "");
    }
    auto v = ToValue(n);
    if (!v) return std::unexpected(v.error());
    f.literal = *v;
    return f;
  }

  Result<std::vector<ParamDecl>> Params(const YNode& n) const;
  // A `type:` of a param or an output param: string, int, number, bool, list or map.
  Result<ParamType> TypeOf(const YNode& n) const;
  // workingDir: attempt or pipeline.
  Result<WorkingDir> WorkingDirOf(const YNode& n) const;
  Result<std::string> ImageOf(const YNode& n) const;  // image: of a task or component
  Result<RetryPolicy> Retry(const YNode& n) const;
  Result<std::vector<ErrorMatch>> ErrorMatches(const YNode& n, std::string_view what) const;
  Result<Resources> ResourcesOf(const YNode& n) const;
  // executor: local|worker|slurm, placement: {labels: {KEY: VALUE}} and slurm: {...} of the
  // block `n` (a task, a component's spec, defaults) into `p`.
  Status PlacementOf(const YNode& n, Placement* p) const;
  Status SlurmOf(const YNode& n, Placement* p) const;
  Result<CacheSpec> Cache(const YNode& n) const;
  Result<OutputsDecl> Outputs(const YNode& n) const;
  Result<std::vector<std::pair<std::string, TemplateField>>> Env(const YNode& n) const;
  // spec.secrets and a task's secrets: (loader_secrets.cc).
  Status Secrets(const YNode& n, std::vector<SecretDecl>* out) const;
  Status TaskSecrets(const YNode& n, std::vector<SecretUse>* out) const;
  // `n` is the block holding the body's keys, `k` its keys; errors name it "WHAT \"NAME\"".
  Status BodyOf(const YNode& n, const MapKeys& k, Body* body, bool allow_uses,
                std::string_view what, std::string_view name) const;
  // The three kinds of body; `shell` and `with` are the block's keys of those names (may be
  // undefined).
  Status RunBody(const YNode& run, Body* body) const;
  Status ScriptBody(const YNode& script, const YNode& shell, Body* body) const;
  // Refuses a placeholder inside the code an interpreter of `run` is given (sh -c, python -c;
  // spec/inline_code.h), unless inline_code_placeholders_allowed_.
  Status NoPlaceholderInInlineCode(const YNode& run, const Body& body) const;
  Status UsesBody(const YNode& uses, const YNode& with, Body* body) const;
  Status DeployBody(const YNode& deploy, Body* body) const;  // loader_deploy.cc
  // What a task block is: a task of spec.tasks or spec.finally, or a handler of `owner`.
  enum class TaskKind { kMain, kFinally, kCatch, kFallback, kCompensate };
  Result<TaskSpec> Task(const YNode& n, TaskKind kind = TaskKind::kMain,
                        const std::string& owner = "") const;
  // The same, into `t` (a fresh TaskSpec, e.g. the pipeline's next): no 448-byte move a task.
  Status TaskInto(const YNode& n, TaskSpec* t, TaskKind kind = TaskKind::kMain,
                  const std::string& owner = "") const;
  // The parts of a task, in the order TaskInto reads them.
  Status TaskIdentity(const YNode& n, const MapKeys& k, TaskSpec* t, TaskKind kind,
                      const std::string& owner) const;
  Status Needs(const YNode& needs, std::vector<std::pair<std::string, Location>>* out) const;
  Status Depends(const YNode& depends, TaskSpec* t) const;
  Status When(const YNode& when, TaskSpec* t) const;
  Status ForEach(const YNode& fe, TaskSpec* t) const;
  Status TaskScheduling(const MapKeys& k, TaskSpec* t) const;
  // A main task's catch, fallback, compensate, breaker, approval and gate (loader_handlers.cc).
  Result<std::unique_ptr<TaskHandlers>> Handlers(const YNode& n, const std::string& owner) const;
  Status Catches(const YNode& c, const std::string& owner, std::vector<CatchSpec>* out) const;
  Result<std::unique_ptr<ApprovalSpec>> Approval(const YNode& a) const;
  Status Gate(const YNode& g, std::vector<std::pair<std::string, Location>>* out) const;
  // A breaker's settings from `n` (a spec.breakers entry, or a Breaker document's spec).
  Status BreakerSettings(const YNode& n, BreakerSpec* b) const;
  Result<BreakerSpec> Breaker(const YNode& doc) const;
  Result<PolicySpec> Policy(const YNode& doc) const;
  // The parts of a Policy document's spec, in the order Policy reads them.
  Status PolicyMatch(const YNode& m, PolicySpec* p) const;
  Status PolicyVariables(const YNode& vs, PolicySpec* p) const;
  Status PolicyRules(const YNode& rules, PolicySpec* p) const;
  Result<WaiverSpec> Waiver(const YNode& doc) const;
  Result<std::shared_ptr<const Expression>> Cel(const YNode& n, std::string_view what) const;
  Result<PipelineSpec> Pipeline(const YNode& doc) const;
  // The parts of a Pipeline document, in the order Pipeline reads them.
  Status PipelineMetadata(const YNode& md, PipelineSpec* p) const;
  // The metadata of a Schedule or Trigger document (loader_schedule.cc): its name (`what`
  // names it in errors) and that name's location, description and labels.
  Status KindMetadata(const YNode& md, std::string_view what, std::string* name, Location* loc,
                      std::string* description, std::map<std::string, std::string>* labels) const;
  // The head of a file the server or state folder owns (Notifications, Pools): apiVersion
  // sluice/v1, kind `kind`, optional metadata {name, description}, and a spec map whose keys
  // are among `spec_keys` (own_file.cc).
  Status OwnFileHeader(const YNode& doc, std::string_view kind,
                       std::initializer_list<std::string_view> spec_keys) const;
  Status Groups(const YNode& gs, std::vector<GroupSpec>* out) const;
  Status Breakers(const YNode& bs, std::vector<BreakerSpec>* out) const;
  Status PipelineFailure(const YNode& spec, PipelineSpec* p) const;
  Status Defaults(const YNode& d, TaskDefaults* p) const;
  Status Pools(const YNode& pools, std::map<std::string, double>* out) const;
  // spec.resources (loader_pools.cc): central pools only; after spec.pools is read.
  Status RunPools(const YNode& n, PipelineSpec* p) const;
  Status PipelineTasks(const YNode& spec, PipelineSpec* p) const;
  Result<ComponentSpec> Component(const YNode& doc) const;
  Status DagTemplate(const YNode& spec, ComponentSpec* c) const;
  Status ComponentKeys(const YNode& spec) const;
  Status PrivatePaths(const YNode& list, ComponentSpec* c) const;

  const std::string& file() const { return file_; }
  void set_source(std::string_view source) { source_ = source; }

  // Where the first placeholder of a script scalar sits in the source file: for a block scalar
  // (| or >) the text starts on the line after the indicator.
  Location PlaceholderLoc(const YNode& n, const std::string& text) const {
    return TextLoc(n, text, text.find("${{"));
  }

  // Where byte `off` of scalar `n`'s text (`text`, two characters from `off` on being what to
  // point at) sits in the source file; the scalar's own location when it cannot be found.
  Location TextLoc(const YNode& n, std::string_view text, size_t off) const {
    Location loc = Loc(n);
    if (off == std::string_view::npos || off + 2 > text.size()) return loc;
    int line_in_text = static_cast<int>(std::count(text.begin(), text.begin() + off, '\n'));
    size_t line_start = off == 0 ? 0 : text.rfind('\n', off - 1);
    line_start = line_start == std::string_view::npos ? 0 : line_start + (line_in_text > 0);
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start <= source_.size()) {
      size_t nl = source_.find('\n', start);
      lines.push_back(source_.substr(start, nl == std::string_view::npos ? nl : nl - start));
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
    if (loc.line <= 0 || loc.line > static_cast<int>(lines.size())) return loc;
    std::string_view first = lines[loc.line - 1].substr(std::min<size_t>(loc.column - 1, lines[loc.line - 1].size()));
    bool block = !first.empty() && (first[0] == '|' || first[0] == '>');
    int target = loc.line + line_in_text + (block ? 1 : 0);
    if (target > static_cast<int>(lines.size())) return loc;
    // On the scalar's own line, past the scalar's start (a flow list has other items before it).
    size_t from = target == loc.line ? static_cast<size_t>(loc.column - 1) : 0;
    // The text of that line up to the spot, as written; else (escapes, folding) the spot alone.
    std::string_view line = lines[target - 1];
    std::string_view upto = text.substr(line_start, off + 2 - line_start);
    size_t col = line.find(upto, from);
    if (col != std::string_view::npos) col += off - line_start;
    else col = line.find(text.substr(off, 2), from);
    if (col == std::string_view::npos) return loc;
    return Location{file_name_, target, static_cast<int>(col) + 1};
  }

  // Fails on a `{{ params.x }}` written without its `$` (FindBareTemplate) in `text`, the text
  // of scalar `n`, with the fix: the `${{ }}` form, or for a script, env:.
  Status NoBareTemplate(const YNode& n, std::string_view text, bool script) const {
    auto bare = FindBareTemplate(text);
    if (!bare) return {};
    std::string shown(text.substr(bare->offset, text.find("}}", bare->offset) + 2 - bare->offset));
    if (script) {
      return FailAt(TextLoc(n, text, bare->offset), "{} is not a placeholder, and a script "
                    "cannot hold one: pass the value through env: (e.g. env: {{X: \"${{{{ {} }}}}\"}}) "
                    "and read \"$X\" in the script", Quote(shown), bare->body);
    }
    return FailAt(TextLoc(n, text, bare->offset), "{} is not a placeholder: placeholders start "
                  "with $, write \"${{{{ {} }}}}\"", Quote(shown), bare->body);
  }

  // While it lives, placeholders read the names that document `spec` declares.
  class ScopedNames {
   public:
    ScopedNames(const Reader& r, const YNode& spec) : r_(r), names_(spec), saved_(r.names_) {
      r_.names_ = &names_;
    }
    ~ScopedNames() { r_.names_ = saved_; }
    ScopedNames(const ScopedNames&) = delete;
    ScopedNames& operator=(const ScopedNames&) = delete;

   private:
    const Reader& r_;
    SpecNames names_;
    const DeclaredNames* saved_;
  };

 private:
  std::string file_;
  std::shared_ptr<const std::string> file_name_;  // shared by every Location it makes
  std::string_view source_;
  // The names of the document being read (ScopedNames), for hyphenated names in placeholders.
  mutable const DeclaredNames* names_ = nullptr;
  mutable int values_ = 0;
  LoadBudget* budget_;
  // Set while a component with argoSubstitution: true is read (Component()): imported Argo
  // documents keep Argo's substitution into `sh -c` text, the one exception to that rule.
  mutable bool inline_code_placeholders_allowed_ = false;
};

// A file the state folder's owner writes (Notifications, Pools), parsed: `doc` is its one
// document, owned by `tree`.
struct OwnFile {
  std::unique_ptr<YamlTree> tree;
  const YNode* doc = nullptr;
};
// Checks `content` (UTF-8, nesting), parses it and checks that it is one document of kind `kind`
// (Reader::OwnFileHeader), reading with `r` (its source set to `content`, which must outlive
// it). Errors are FILE:LINE:COL where there is one.
Result<OwnFile> ParseOwnFile(const std::string& path, std::string_view content, Reader& r,
                             std::string_view kind,
                             std::initializer_list<std::string_view> spec_keys);

// Reads a file of documents outside a pipeline (environments, AnalysisTemplates, experiments):
// UTF-8 text, bounded nesting, YAML; `each(reader, doc)` gets every document that is not empty,
// in order, and its first error is the file's.
template <typename Each>
Status ForEachDocument(const std::string& path, std::string_view content, Each&& each) {
  if (!IsTextUtf8(content)) {
    return Fail(ErrorCode::kInvalidInput, "{}: not a text file (binary data or invalid UTF-8)", path);
  }
  SLUICE_TRY_STATUS(CheckNesting(path, content));
  auto tree = YamlTree::Parse(content);
  if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
  Reader r(path);
  r.set_source(content);
  for (const YNode& doc : (*tree)->documents()) {
    if (!doc.IsNull()) SLUICE_TRY_STATUS(each(static_cast<const Reader&>(r), doc));
  }
  return {};
}

}  // namespace sluice
