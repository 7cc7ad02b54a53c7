// YAML -> model. All yaml-cpp use is confined to this file; its exceptions become Errors here.
#include "spec/loader.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <set>

#include "common/strings.h"

namespace sluice {
namespace {

constexpr int kMaxNesting = 64;
constexpr int kMaxValues = 100000;  // bounds alias expansion ("billion laughs")

// Hand-written matchers: std::regex recurses per character and can overflow the stack on long
// hostile strings.
bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 128 || !IsIdentStart(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsIdentChar(c) || c == '-' || c == '.'; });
}

bool IsEnvName(std::string_view s) {
  return !s.empty() && s.size() <= 256 && IsIdentStart(s[0]) &&
         std::all_of(s.begin(), s.end(), IsIdentChar);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "1", "1.2", "1.2.3" with at most 9 digits a part; fills `parts`.
bool ParseVersionParts(std::string_view s, size_t max_parts, std::vector<int>* parts) {
  parts->clear();
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!AllDigits(part) || part.size() > 9 || (part.size() > 1 && part[0] == '0')) return false;
    parts->push_back(std::stoi(std::string(part)));
    if (parts->size() > max_parts) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsUsesRef(std::string_view s) {
  size_t at = s.find('@');
  std::string_view name = s.substr(0, at);
  if (!IsName(name)) return false;
  if (at == std::string_view::npos) return true;
  std::vector<int> parts;
  return ParseVersionParts(s.substr(at + 1), 3, &parts);
}

bool IsIntText(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return AllDigits(s);
}

bool IsFloatText(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t i = 0, digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == e) return false;
  }
  return i == s.size();
}

std::string_view KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing";
    default: return "an undefined value";
  }
}

// Rejects nesting deeper than kMaxNesting before yaml-cpp sees the text, so that no parser
// recursion can be driven by hostile input. Counts flow brackets and indentation levels.
Status CheckNesting(const std::string& path, std::string_view text) {
  int depth = 0, line = 1, col = 0;
  char quote = 0;
  bool comment = false;
  std::vector<int> indents;
  bool line_start = true;
  int indent = 0;
  char prev = ' ';
  for (char c : text) {
    char before = prev;
    prev = c;
    ++col;
    if (c == '\n') {
      ++line;
      col = 0;
      comment = false;
      line_start = true;
      indent = 0;
      continue;
    }
    if (line_start) {
      if (c == ' ' || c == '-') {
        ++indent;
        continue;
      }
      line_start = false;
      if (c != '#' && quote == 0) {
        while (!indents.empty() && indents.back() >= indent) indents.pop_back();
        indents.push_back(indent);
        if (static_cast<int>(indents.size()) > kMaxNesting) {
          return FailAt(Location{path, line, col}, "nested too deeply (more than {} levels)",
                        kMaxNesting);
        }
      }
    }
    if (comment) continue;
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '#') {
      comment = true;
    } else if (c == '"' || c == '\'') {
      // A quote opens a string only where a token starts ("it's" inside [...] is plain text).
      if (depth > 0 && (before == '[' || before == '{' || before == ',' || before == ':' || before == ' ')) {
        quote = c;
      }
    } else if (c == '[' || c == '{') {
      if (++depth + static_cast<int>(indents.size()) > kMaxNesting) {
        return FailAt(Location{path, line, col}, "nested too deeply (more than {} levels)",
                      kMaxNesting);
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return {};
}

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Location Loc(const YAML::Node& n) const {
    auto m = n.Mark();
    if (m.is_null()) return Location{file_, 0, 0};
    return Location{file_, m.line + 1, m.column + 1};
  }

  // Fails on keys outside `allowed`, duplicate keys and non-string keys.
  Status CheckKeys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                   std::string_view where) const {
    std::vector<std::string> names(allowed.begin(), allowed.end());
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) return FailAt(Loc(it->first), "keys must be plain names");
      const std::string& key = it->first.Scalar();
      if (!seen.insert(key).second) {
        return FailAt(Loc(it->first), "duplicate key {} in {}", Quote(key), where);
      }
      if (std::find(names.begin(), names.end(), key) == names.end()) {
        return FailAt(Loc(it->first), "unknown key {} in {}{}", Quote(key), where,
                      DidYouMean(key, names));
      }
    }
    return {};
  }

  Status ExpectMap(const YAML::Node& n, std::string_view what) const {
    if (!n.IsMap()) return FailAt(Loc(n), "{} must be a map, not {}", what, KindName(n));
    return {};
  }
  Status ExpectList(const YAML::Node& n, std::string_view what) const {
    if (!n.IsSequence()) return FailAt(Loc(n), "{} must be a list, not {}", what, KindName(n));
    return {};
  }

  Result<std::string> Str(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) return FailAt(Loc(n), "{} must be a string, not {}", what, KindName(n));
    return n.Scalar();
  }

  Result<std::string> Name(const YAML::Node& n, std::string_view what) const {
    auto s = Str(n, what);
    if (!s) return s;
    if (!IsName(*s)) {
      return FailAt(Loc(n), "{} {} must start with a letter or '_' and hold only letters, digits, "
                    "'_', '-' and '.' (at most 128)", what, Quote(*s));
    }
    return s;
  }

  // A plain scalar as YAML 1.2's core schema reads it; a quoted one is always a string.
  static Value ScalarValue(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return Value(s);
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Value();
    if (s == "true" || s == "True" || s == "TRUE") return Value(true);
    if (s == "false" || s == "False" || s == "FALSE") return Value(false);
    if (IsIntText(s)) {
      errno = 0;
      long long v = std::strtoll(s.c_str(), nullptr, 10);
      if (errno == 0) return Value(static_cast<int64_t>(v));
    }
    if (IsFloatText(s)) return Value(std::strtod(s.c_str(), nullptr));
    if (s == ".inf" || s == "+.inf") return Value(INFINITY);
    if (s == "-.inf") return Value(-INFINITY);
    if (s == ".nan") return Value(NAN);
    return Value(s);
  }

  Result<Value> ToValue(const YAML::Node& n, int depth = 0) const {
    if (depth > kMaxNesting) return FailAt(Loc(n), "nested too deeply (more than {} levels)", kMaxNesting);
    if (++values_ > kMaxValues) {
      return FailAt(Loc(n), "too many values (more than {}; aliases expanding?)", kMaxValues);
    }
    switch (n.Type()) {
      case YAML::NodeType::Null: return Value();
      case YAML::NodeType::Scalar: return ScalarValue(n);
      case YAML::NodeType::Sequence: {
        ValueList l;
        for (const auto& e : n) {
          auto v = ToValue(e, depth + 1);
          if (!v) return v;
          l.push_back(std::move(*v));
        }
        return Value(std::move(l));
      }
      case YAML::NodeType::Map: {
        ValueMap m;
        std::set<std::string> seen;
        for (auto it = n.begin(); it != n.end(); ++it) {
          if (!it->first.IsScalar()) return FailAt(Loc(it->first), "keys must be plain names");
          if (!seen.insert(it->first.Scalar()).second) {
            return FailAt(Loc(it->first), "duplicate key {}", Quote(it->first.Scalar()));
          }
          auto v = ToValue(it->second, depth + 1);
          if (!v) return v;
          m.emplace_back(it->first.Scalar(), std::move(*v));
        }
        return Value(std::move(m));
      }
      default: return FailAt(Loc(n), "undefined value");
    }
  }

  Result<bool> Bool(const YAML::Node& n, std::string_view what) const {
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (v.is_bool()) return v.as_bool();
    }
    return FailAt(Loc(n), "{} must be true or false", what);
  }

  Result<int64_t> Int(const YAML::Node& n, std::string_view what, int64_t min, int64_t max) const {
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (v.is_int() && v.as_int() >= min && v.as_int() <= max) return v.as_int();
    }
    return FailAt(Loc(n), "{} must be a whole number from {} to {}", what, min, max);
  }

  Result<double> Number(const YAML::Node& n, std::string_view what) const {
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (v.is_number() && std::isfinite(v.to_double()) && v.to_double() >= 0) {
        return v.to_double();
      }
    }
    return FailAt(Loc(n), "{} must be a non-negative number", what);
  }

  Result<int64_t> Duration(const YAML::Node& n, std::string_view what) const {
    if (n.IsScalar()) {
      if (auto ms = ParseDurationMs(n.Scalar()); ms && *ms > 0) return *ms;
    }
    return FailAt(Loc(n), "{} must be a positive duration such as 30s, 5m or 1h30m", what);
  }

  // A string that may hold placeholders; non-string YAML values are kept as typed literals
  // when `typed` is set, and otherwise read as their text (argv and env are text).
  Result<TemplateField> Field(const YAML::Node& n, std::string_view what, bool typed) const {
    TemplateField f;
    f.loc = Loc(n);
    if (n.IsScalar()) {
      Value v = ScalarValue(n);
      if (typed && !v.is_string()) {
        f.literal = v;
        return f;
      }
      auto t = Template::Parse(n.Scalar());
      if (!t) return FailAt(f.loc, "in {}: {}", what, t.error().message);
      f.tmpl = std::move(*t);
      return f;
    }
    if (!typed || n.IsNull()) {
      return FailAt(f.loc, "{} must be a string, not {}", what, KindName(n));
    }
    auto v = ToValue(n);
    if (!v) return std::unexpected(v.error());
    f.literal = *v;
    return f;
  }

  Result<std::vector<ParamDecl>> Params(const YAML::Node& n) const;
  Result<RetryPolicy> Retry(const YAML::Node& n) const;
  Result<Resources> ResourcesOf(const YAML::Node& n) const;
  Result<CacheSpec> Cache(const YAML::Node& n) const;
  Result<OutputsDecl> Outputs(const YAML::Node& n) const;
  Result<std::vector<std::pair<std::string, TemplateField>>> Env(const YAML::Node& n) const;
  Status BodyOf(const YAML::Node& n, Body* body, bool allow_uses, std::string_view where) const;
  Result<TaskSpec> Task(const YAML::Node& n) const;
  Result<PipelineSpec> Pipeline(const YAML::Node& doc) const;
  Result<ComponentSpec> Component(const YAML::Node& doc) const;

  const std::string& file() const { return file_; }
  void set_source(std::string_view source) { source_ = source; }

  // Where the first placeholder of a script scalar sits in the source file: for a block scalar
  // (| or >) the text starts on the line after the indicator.
  Location PlaceholderLoc(const YAML::Node& n, const std::string& text) const {
    Location loc = Loc(n);
    size_t off = text.find("${{");
    int line_in_text = static_cast<int>(std::count(text.begin(), text.begin() + off, '\n'));
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
    size_t col = lines[target - 1].find("${{");
    if (col == std::string_view::npos) return loc;
    return Location{file_, target, static_cast<int>(col) + 1};
  }

 private:
  std::string file_;
  std::string_view source_;
  mutable int values_ = 0;
};

#define TRY(var, expr)                       \
  auto var = (expr);                         \
  if (!var) return std::unexpected(var.error())
#define TRY_STATUS(expr)                     \
  if (auto _st = (expr); !_st) return std::unexpected(_st.error())

Result<std::vector<ParamDecl>> Reader::Params(const YAML::Node& n) const {
  TRY_STATUS(ExpectList(n, "params"));
  std::vector<ParamDecl> out;
  std::set<std::string> seen;
  for (const auto& p : n) {
    TRY_STATUS(ExpectMap(p, "a param"));
    TRY_STATUS(CheckKeys(p, {"name", "type", "default", "required", "description"}, "a param"));
    ParamDecl d;
    d.loc = Loc(p);
    if (!p["name"]) return FailAt(d.loc, "a param needs a name");
    TRY(name, Name(p["name"], "param name"));
    d.name = *name;
    if (!seen.insert(d.name).second) {
      return FailAt(Loc(p["name"]), "duplicate param {}", Quote(d.name));
    }
    if (p["type"]) {
      TRY(t, Str(p["type"], "type"));
      static const std::vector<std::string> kTypes = {"string", "int", "number", "bool", "list", "map"};
      auto it = std::find(kTypes.begin(), kTypes.end(), *t);
      if (it == kTypes.end()) {
        return FailAt(Loc(p["type"]), "unknown type {}; expected one of string, int, number, bool, "
                      "list, map{}", Quote(*t), DidYouMean(*t, kTypes));
      }
      d.type = static_cast<ParamType>(it - kTypes.begin());
    }
    if (p["required"]) {
      TRY(r, Bool(p["required"], "required"));
      d.required = *r;
    }
    if (p["description"]) {
      TRY(desc, Str(p["description"], "description"));
      d.description = *desc;
    }
    if (p["default"]) {
      TRY(v, ToValue(p["default"]));
      if (!ValueMatchesType(*v, d.type)) {
        return FailAt(Loc(p["default"]), "default of param {} is {} {}, but its type is {}{}",
                      Quote(d.name), v->TypeName(), Quote(v->ToText()), ParamTypeName(d.type),
                      d.type == ParamType::kString ? " (quote it to make it a string)" : "");
      }
      d.default_value = *v;
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<RetryPolicy> Reader::Retry(const YAML::Node& n) const {
  RetryPolicy r;
  r.loc = Loc(n);
  if (n.IsScalar()) {  // retry: 3
    TRY(limit, Int(n, "retry", 0, 1000));
    r.limit = static_cast<int>(*limit);
    return r;
  }
  TRY_STATUS(ExpectMap(n, "retry"));
  TRY_STATUS(CheckKeys(n, {"limit", "backoff", "on", "except"}, "retry"));
  if (n["limit"]) {
    TRY(limit, Int(n["limit"], "retry.limit", 0, 1000));
    r.limit = static_cast<int>(*limit);
  }
  if (const auto& b = n["backoff"]) {
    TRY_STATUS(ExpectMap(b, "retry.backoff"));
    TRY_STATUS(CheckKeys(b, {"initial", "factor", "max", "jitter"}, "retry.backoff"));
    if (b["initial"]) {
      TRY(ms, Duration(b["initial"], "backoff.initial"));
      r.initial_ms = *ms;
    }
    if (b["max"]) {
      TRY(ms, Duration(b["max"], "backoff.max"));
      r.max_ms = *ms;
    }
    if (b["factor"]) {
      TRY(f, Number(b["factor"], "backoff.factor"));
      if (*f < 1 || *f > 100) return FailAt(Loc(b["factor"]), "backoff.factor must be from 1 to 100");
      r.factor = *f;
    }
    if (b["jitter"]) {
      TRY(j, Str(b["jitter"], "backoff.jitter"));
      static const std::vector<std::string> kJ = {"none", "full", "equal"};
      auto it = std::find(kJ.begin(), kJ.end(), *j);
      if (it == kJ.end()) {
        return FailAt(Loc(b["jitter"]), "jitter must be none, full or equal{}", DidYouMean(*j, kJ));
      }
      r.jitter = static_cast<Jitter>(it - kJ.begin());
    }
  }
  if (const auto& on = n["on"]) {
    TRY_STATUS(ExpectList(on, "retry.on"));
    for (const auto& e : on) {
      TRY(s, Str(e, "a retry.on entry"));
      Value v = ScalarValue(e);
      static const std::vector<std::string> kClasses = {"any", "timeout", "lost", "spawn-error"};
      if (v.is_int() && v.as_int() >= 1 && v.as_int() <= 255) {
        r.on_exit_codes.push_back(static_cast<int>(v.as_int()));
      } else if (StartsWith(*s, "SIG") || StartsWith(*s, "signal:")) {
        static const std::vector<std::pair<std::string, int>> kSignals = {
            {"SIGHUP", 1}, {"SIGINT", 2}, {"SIGQUIT", 3}, {"SIGILL", 4}, {"SIGABRT", 6},
            {"SIGBUS", 7}, {"SIGFPE", 8}, {"SIGKILL", 9}, {"SIGSEGV", 11}, {"SIGPIPE", 13},
            {"SIGTERM", 15}};
        int sig = 0;
        for (const auto& [name, num] : kSignals) {
          if (*s == name) sig = num;
        }
        if (StartsWith(*s, "signal:")) {
          std::string_view num = std::string_view(*s).substr(7);
          sig = AllDigits(num) && num.size() <= 2 ? std::stoi(std::string(num)) : 0;
        }
        if (sig <= 0 || sig > 64) return FailAt(Loc(e), "unknown signal {}", Quote(*s));
        r.on_signals.push_back(sig);
      } else if (std::find(kClasses.begin(), kClasses.end(), *s) != kClasses.end()) {
        r.on_classes.push_back(*s);
      } else {
        return FailAt(Loc(e), "retry.on entries are exit codes (1-255), signals (SIGKILL), "
                      "timeout, lost, spawn-error or any; got {}{}", Quote(*s),
                      DidYouMean(*s, kClasses));
      }
    }
  }
  if (const auto& ex = n["except"]) {
    TRY_STATUS(ExpectList(ex, "retry.except"));
    for (const auto& e : ex) {
      TRY(code, Int(e, "a retry.except exit code", 1, 255));
      r.except_exit_codes.push_back(static_cast<int>(*code));
    }
  }
  return r;
}

Result<Resources> Reader::ResourcesOf(const YAML::Node& n) const {
  TRY_STATUS(ExpectMap(n, "resources"));
  Resources r;
  r.set = true;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    TRY(key, Name(it->first, "resource name"));
    if (!seen.insert(*key).second) return FailAt(Loc(it->first), "duplicate resource {}", Quote(*key));
    std::optional<double> q;
    if (it->second.IsScalar()) q = ParseQuantity(it->second.Scalar());
    if (!q || !std::isfinite(*q) || *q < 0) {
      return FailAt(Loc(it->second), "resource {} must be a non-negative quantity such as 2, "
                    "500m or 512Mi", Quote(*key));
    }
    if (*key == "cpu") r.cpu = *q;
    else if (*key == "memory") r.memory = *q;
    else if (*key == "gpu") r.gpu = *q;
    else r.pools[*key] = *q;
  }
  return r;
}

Result<CacheSpec> Reader::Cache(const YAML::Node& n) const {
  CacheSpec c;
  if (n.IsScalar()) {
    TRY(b, Bool(n, "cache"));
    c.enabled = *b;
    return c;
  }
  TRY_STATUS(ExpectMap(n, "cache"));
  TRY_STATUS(CheckKeys(n, {"ttl"}, "cache"));
  c.enabled = true;
  if (n["ttl"]) {
    TRY(ttl, Duration(n["ttl"], "cache.ttl"));
    c.ttl_ms = *ttl;
  }
  return c;
}

Result<OutputsDecl> Reader::Outputs(const YAML::Node& n) const {
  TRY_STATUS(ExpectMap(n, "outputs"));
  TRY_STATUS(CheckKeys(n, {"params", "artifacts"}, "outputs"));
  OutputsDecl out;
  std::set<std::string> seen;
  if (const auto& ps = n["params"]) {
    TRY_STATUS(ExpectList(ps, "outputs.params"));
    for (const auto& p : ps) {
      TRY_STATUS(ExpectMap(p, "an output param"));
      TRY_STATUS(CheckKeys(p, {"name", "from"}, "an output param"));
      OutputParamDecl d;
      d.loc = Loc(p);
      if (!p["name"] || !p["from"]) return FailAt(d.loc, "an output param needs name and from");
      TRY(name, Name(p["name"], "output name"));
      d.name = *name;
      if (!seen.insert(d.name).second) return FailAt(Loc(p["name"]), "duplicate output {}", Quote(d.name));
      const auto& from = p["from"];
      TRY_STATUS(ExpectMap(from, "from"));
      TRY_STATUS(CheckKeys(from, {"file", "json", "stdout"}, "from"));
      if (from["stdout"] && !from["file"] && !from["json"]) {
        TRY(mode, Str(from["stdout"], "from.stdout"));
        if (*mode == "text") d.source = OutputSource::kStdoutText;
        else if (*mode == "json") d.source = OutputSource::kStdoutJson;
        else return FailAt(Loc(from["stdout"]), "from.stdout must be text or json");
      } else if (from["file"] && !from["stdout"]) {
        TRY(path, Str(from["file"], "from.file"));
        if (path->empty() || (*path)[0] == '/' || path->find("..") != std::string::npos) {
          return FailAt(Loc(from["file"]), "from.file must be a relative path inside the task's "
                        "working directory");
        }
        d.path = *path;
        d.source = OutputSource::kFile;
        if (from["json"]) {
          TRY(jp, Str(from["json"], "from.json"));
          d.json_path = *jp;
          d.source = OutputSource::kFileJson;
        }
      } else {
        return FailAt(Loc(from), "from must be {{file: PATH}}, {{file: PATH, json: dotted.path}} "
                      "or {{stdout: text|json}}");
      }
      out.params.push_back(std::move(d));
    }
  }
  if (const auto& as = n["artifacts"]) {
    TRY_STATUS(ExpectList(as, "outputs.artifacts"));
    for (const auto& a : as) {
      TRY_STATUS(ExpectMap(a, "an artifact"));
      TRY_STATUS(CheckKeys(a, {"name", "path"}, "an artifact"));
      ArtifactDecl d;
      d.loc = Loc(a);
      if (!a["name"] || !a["path"]) return FailAt(d.loc, "an artifact needs name and path");
      TRY(name, Name(a["name"], "artifact name"));
      d.name = *name;
      if (!seen.insert(d.name).second) return FailAt(Loc(a["name"]), "duplicate output {}", Quote(d.name));
      TRY(path, Str(a["path"], "artifact path"));
      if (path->empty() || (*path)[0] == '/' || path->find("..") != std::string::npos) {
        return FailAt(Loc(a["path"]), "artifact path must be relative to the task's working "
                      "directory");
      }
      d.path = *path;
      out.artifacts.push_back(std::move(d));
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, TemplateField>>> Reader::Env(const YAML::Node& n) const {
  TRY_STATUS(ExpectMap(n, "env"));
  std::vector<std::pair<std::string, TemplateField>> out;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    TRY(key, Str(it->first, "env name"));
    if (!IsEnvName(*key)) {
      return FailAt(Loc(it->first), "env name {} is not a valid variable name", Quote(*key));
    }
    if (!seen.insert(*key).second) return FailAt(Loc(it->first), "duplicate env {}", Quote(*key));
    if (StartsWith(*key, "SLUICE_")) {
      return FailAt(Loc(it->first), "env names starting with SLUICE_ are reserved");
    }
    TRY(f, Field(it->second, "env value", false));
    out.emplace_back(*key, std::move(*f));
  }
  return out;
}

Status Reader::BodyOf(const YAML::Node& n, Body* body, bool allow_uses,
                      std::string_view where) const {
  int count = 0;
  std::vector<std::string> present;
  for (const char* k : {"run", "script", "uses"}) {
    if (n[k]) {
      ++count;
      present.push_back(k);
    }
  }
  if (count > 1) {
    return FailAt(Loc(n[present[1]]), "{} has two bodies ({} and {}); give exactly one of run, "
                  "script{}", where, present[0], present[1], allow_uses ? " or uses" : "");
  }
  if (count == 0) {
    return FailAt(Loc(n), "{} needs a body: one of run, script{}", where,
                  allow_uses ? " or uses" : "");
  }
  if (const auto& run = n["run"]) {
    body->loc = Loc(run);
    body->kind = Body::Kind::kRun;
    if (run.IsScalar()) {
      return FailAt(Loc(run), "run must be a list of arguments (it runs without a shell); use "
                    "script: for shell text");
    }
    TRY_STATUS(ExpectList(run, "run"));
    if (run.size() == 0) return FailAt(Loc(run), "run needs at least the program to start");
    for (const auto& a : run) {
      TRY(f, Field(a, "run argument", false));
      body->run.push_back(std::move(*f));
    }
    const Template& t0 = body->run[0].tmpl;
    if (!t0.has_placeholders() && StartsWith(t0.text(), "builtin:")) {
      body->kind = Body::Kind::kBuiltin;
      body->builtin = t0.text().substr(8);
      if (body->builtin != "noop") {
        return FailAt(Loc(run[0]), "unknown builtin {}; known: builtin:noop", Quote(t0.text()));
      }
    }
  }
  if (const auto& script = n["script"]) {
    body->loc = Loc(script);
    body->kind = Body::Kind::kScript;
    TRY(text, Str(script, "script"));
    if (text->find("${{") != std::string::npos) {
      return FailAt(PlaceholderLoc(script, *text), "a script body cannot hold ${{{{ }}}} "
                    "placeholders: no value may become shell code. Pass it through env: (e.g. "
                    "env: {{X: \"${{{{ ... }}}}\"}}) and read \"$X\" in the script");
    }
    body->script = *text;
    if (n["shell"]) {
      TRY(sh, Str(n["shell"], "shell"));
      if (Trim(*sh).empty()) return FailAt(Loc(n["shell"]), "shell must not be empty");
      body->shell = *sh;
    }
  } else if (n["shell"]) {
    return FailAt(Loc(n["shell"]), "shell is only used with script");
  }
  if (const auto& uses = n["uses"]) {
    if (!allow_uses) return FailAt(Loc(uses), "a component body must be run or script");
    body->loc = Loc(uses);
    body->kind = Body::Kind::kUses;
    TRY(u, Str(uses, "uses"));
    if (!IsUsesRef(*u)) {
      return FailAt(Loc(uses), "uses must be NAME or NAME@VERSION (e.g. train@1 or train@1.2.0), "
                    "not {}", Quote(*u));
    }
    body->uses = *u;
    if (const auto& with = n["with"]) {
      TRY_STATUS(ExpectMap(with, "with"));
      std::set<std::string> seen;
      for (auto it = with.begin(); it != with.end(); ++it) {
        TRY(key, Name(it->first, "with argument"));
        if (!seen.insert(*key).second) return FailAt(Loc(it->first), "duplicate argument {}", Quote(*key));
        TRY(f, Field(it->second, "with argument", true));
        body->with.emplace_back(*key, std::move(*f));
      }
    }
  } else if (n["with"]) {
    return FailAt(Loc(n["with"]), "with is only used with uses");
  }
  return {};
}

Result<TaskSpec> Reader::Task(const YAML::Node& n) const {
  TRY_STATUS(ExpectMap(n, "a task"));
  TRY_STATUS(CheckKeys(n, {"name", "run", "script", "shell", "uses", "with", "needs", "env",
                           "outputs", "when", "forEach", "parallelism", "retry", "timeout",
                           "deadline", "resources", "cache", "continueOnFailure"},
                       "a task"));
  TaskSpec t;
  t.loc = Loc(n);
  if (!n["name"]) return FailAt(t.loc, "a task needs a name");
  TRY(name, Name(n["name"], "task name"));
  t.name = *name;
  t.loc = Loc(n["name"]);
  TRY_STATUS(BodyOf(n, &t.body, true, fmt::format("task {}", Quote(t.name))));
  if (const auto& needs = n["needs"]) {
    if (needs.IsScalar()) {
      t.needs.emplace_back(needs.Scalar(), Loc(needs));
    } else {
      TRY_STATUS(ExpectList(needs, "needs"));
      for (const auto& e : needs) {
        TRY(dep, Str(e, "a needs entry"));
        t.needs.emplace_back(*dep, Loc(e));
      }
    }
  }
  if (n["env"]) {
    TRY(env, Env(n["env"]));
    t.env = std::move(*env);
  }
  if (n["outputs"]) {
    if (t.body.kind == Body::Kind::kUses) {
      return FailAt(Loc(n["outputs"]), "a task that uses a component gets its outputs from the "
                    "component; remove outputs");
    }
    TRY(o, Outputs(n["outputs"]));
    t.outputs = std::move(*o);
  }
  if (const auto& when = n["when"]) {
    TRY(f, Field(when, "when", true));
    if (f->literal && !f->literal->is_bool()) {
      return FailAt(f->loc, "when must be a condition such as \"${{{{ params.x > 1 }}}}\"");
    }
    if (!f->literal && !f->tmpl.has_placeholders()) {
      return FailAt(f->loc, "when must be a condition inside ${{{{ }}}}, e.g. "
                    "\"${{{{ params.deploy }}}}\"");
    }
    t.when = std::move(*f);
  }
  if (const auto& fe = n["forEach"]) {
    t.for_each_loc = Loc(fe);
    if (fe.IsSequence()) {
      TRY(v, ToValue(fe));
      t.for_each_literal = *v;
    } else {
      TRY(f, Field(fe, "forEach", false));
      if (!f->tmpl.has_placeholders()) {
        return FailAt(f->loc, "forEach must be a list, or a placeholder that gives a list "
                      "(\"${{{{ params.items }}}}\")");
      }
      t.for_each_expr = std::move(*f);
    }
  }
  if (n["parallelism"]) {
    if (!n["forEach"]) return FailAt(Loc(n["parallelism"]), "parallelism is only used with forEach");
    TRY(p, Int(n["parallelism"], "parallelism", 1, 100000));
    t.parallelism = static_cast<int>(*p);
  }
  if (n["retry"]) {
    TRY(r, Retry(n["retry"]));
    t.retry = std::move(*r);
  }
  if (n["timeout"]) {
    TRY(ms, Duration(n["timeout"], "timeout"));
    t.timeout_ms = *ms;
  }
  if (n["deadline"]) {
    TRY(ms, Duration(n["deadline"], "deadline"));
    t.deadline_ms = *ms;
  }
  if (n["resources"]) {
    TRY(r, ResourcesOf(n["resources"]));
    t.resources = std::move(*r);
  }
  if (n["cache"]) {
    TRY(c, Cache(n["cache"]));
    t.cache = *c;
  }
  if (n["continueOnFailure"]) {
    TRY(b, Bool(n["continueOnFailure"], "continueOnFailure"));
    t.continue_on_failure = *b;
  }
  return t;
}

Status CheckHeader(const Reader& r, const YAML::Node& doc, std::string* kind) {
  if (!doc.IsMap()) {
    return FailAt(r.Loc(doc), "a sluice document must be a map with apiVersion, kind, metadata "
                  "and spec");
  }
  TRY_STATUS(r.CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "a sluice document"));
  for (const char* k : {"apiVersion", "kind", "metadata", "spec"}) {
    if (!doc[k]) return FailAt(r.Loc(doc), "missing required field {}", k);
  }
  TRY(api, r.Str(doc["apiVersion"], "apiVersion"));
  if (*api != "sluice/v1") {
    return FailAt(r.Loc(doc["apiVersion"]), "unsupported apiVersion {}; expected sluice/v1", Quote(*api));
  }
  TRY(k, r.Str(doc["kind"], "kind"));
  static const std::vector<std::string> kKinds = {"Pipeline", "Component"};
  if (std::find(kKinds.begin(), kKinds.end(), *k) == kKinds.end()) {
    return FailAt(r.Loc(doc["kind"]), "unknown kind {}; expected Pipeline or Component{}",
                  Quote(*k), DidYouMean(*k, kKinds));
  }
  *kind = *k;
  TRY_STATUS(r.ExpectMap(doc["metadata"], "metadata"));
  TRY_STATUS(r.ExpectMap(doc["spec"], "spec"));
  return {};
}

Result<PipelineSpec> Reader::Pipeline(const YAML::Node& doc) const {
  TRY_STATUS(CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "a Pipeline"));
  PipelineSpec p;
  p.file = file_;
  p.loc = Loc(doc);
  const auto& md = doc["metadata"];
  TRY_STATUS(CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  TRY(name, Name(md["name"], "pipeline name"));
  p.name = *name;
  if (const auto& labels = md["labels"]) {
    TRY_STATUS(ExpectMap(labels, "labels"));
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      TRY(k, Name(it->first, "label"));
      TRY(v, Str(it->second, "label value"));
      p.labels[*k] = *v;
    }
  }
  const auto& spec = doc["spec"];
  TRY_STATUS(CheckKeys(spec, {"params", "imports", "defaults", "pools", "tasks"}, "a Pipeline spec"));
  if (spec["params"]) {
    TRY(ps, Params(spec["params"]));
    p.params = std::move(*ps);
  }
  if (const auto& imports = spec["imports"]) {
    TRY_STATUS(ExpectList(imports, "imports"));
    for (const auto& i : imports) {
      TRY(path, Str(i, "an import"));
      p.imports.emplace_back(*path, Loc(i));
    }
  }
  if (const auto& d = spec["defaults"]) {
    TRY_STATUS(ExpectMap(d, "defaults"));
    TRY_STATUS(CheckKeys(d, {"retry", "timeout", "resources"}, "defaults"));
    if (d["retry"]) {
      TRY(r, Retry(d["retry"]));
      p.default_retry = std::move(*r);
    }
    if (d["timeout"]) {
      TRY(ms, Duration(d["timeout"], "defaults.timeout"));
      p.default_timeout_ms = *ms;
    }
    if (d["resources"]) {
      TRY(r, ResourcesOf(d["resources"]));
      p.default_resources = std::move(*r);
    }
  }
  if (const auto& pools = spec["pools"]) {
    TRY_STATUS(ExpectMap(pools, "pools"));
    for (auto it = pools.begin(); it != pools.end(); ++it) {
      TRY(k, Name(it->first, "pool name"));
      if (*k == "cpu" || *k == "memory" || *k == "gpu") {
        return FailAt(Loc(it->first), "{} is a built-in resource, not a pool", *k);
      }
      TRY(v, Int(it->second, "pool capacity", 1, 1'000'000));
      p.pools[*k] = static_cast<double>(*v);
    }
  }
  if (!spec["tasks"]) return FailAt(Loc(spec), "a Pipeline spec needs tasks");
  TRY_STATUS(ExpectList(spec["tasks"], "tasks"));
  if (spec["tasks"].size() == 0) return FailAt(Loc(spec["tasks"]), "a Pipeline needs at least one task");
  for (const auto& t : spec["tasks"]) {
    TRY(task, Task(t));
    p.tasks.push_back(std::move(*task));
  }
  return p;
}

Result<ComponentSpec> Reader::Component(const YAML::Node& doc) const {
  TRY_STATUS(CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "a Component"));
  ComponentSpec c;
  c.loc = Loc(doc);
  const auto& md = doc["metadata"];
  TRY_STATUS(CheckKeys(md, {"name", "version", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  if (!md["version"]) return FailAt(Loc(md), "a Component needs metadata.version (semver, e.g. 1.0.0)");
  TRY(name, Name(md["name"], "component name"));
  c.name = *name;
  c.loc = Loc(md["name"]);
  TRY(version, Str(md["version"], "version"));
  std::vector<int> parts;
  if (!ParseVersionParts(*version, 3, &parts) || parts.size() != 3) {
    return FailAt(Loc(md["version"]), "version {} is not semver MAJOR.MINOR.PATCH (e.g. 1.2.0, "
                  "at most 9 digits a part)", Quote(*version));
  }
  c.version = *version;
  c.major = parts[0];
  c.minor = parts[1];
  c.patch = parts[2];
  const auto& spec = doc["spec"];
  TRY_STATUS(CheckKeys(spec, {"params", "outputs", "run", "script", "shell", "env", "retry",
                              "timeout", "resources", "cache"},
                       "a Component spec"));
  if (spec["params"]) {
    TRY(ps, Params(spec["params"]));
    c.params = std::move(*ps);
  }
  if (spec["outputs"]) {
    TRY(o, Outputs(spec["outputs"]));
    c.outputs = std::move(*o);
  }
  TRY_STATUS(BodyOf(spec, &c.body, false, fmt::format("component {}", Quote(c.name))));
  if (spec["env"]) {
    TRY(env, Env(spec["env"]));
    c.env = std::move(*env);
  }
  if (spec["retry"]) {
    TRY(r, Retry(spec["retry"]));
    c.retry = std::move(*r);
  }
  if (spec["timeout"]) {
    TRY(ms, Duration(spec["timeout"], "timeout"));
    c.timeout_ms = *ms;
  }
  if (spec["resources"]) {
    TRY(r, ResourcesOf(spec["resources"]));
    c.resources = std::move(*r);
  }
  if (spec["cache"]) {
    TRY(cc, Cache(spec["cache"]));
    c.cache = *cc;
  }
  return c;
}

}  // namespace

std::string_view ParamTypeName(ParamType t) {
  static const char* kNames[] = {"string", "int", "number", "bool", "list", "map"};
  return kNames[static_cast<int>(t)];
}

bool ValueMatchesType(const Value& v, ParamType t) {
  switch (t) {
    case ParamType::kString: return v.is_string();
    case ParamType::kInt: return v.is_int();
    case ParamType::kNumber: return v.is_int() || v.is_double();
    case ParamType::kBool: return v.is_bool();
    case ParamType::kList: return v.is_list();
    case ParamType::kMap: return v.is_map();
  }
  return false;
}

Result<SpecFile> ParseSpecFile(const std::string& path, std::string_view content) {
  if (Trim(content).empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}: the file is empty", path);
  }
  if (!IsTextUtf8(content)) {
    return Fail(ErrorCode::kInvalidInput, "{}: not a text file (binary data or invalid UTF-8)", path);
  }
  TRY_STATUS(CheckNesting(path, content));
  Reader r(path);
  r.set_source(content);
  SpecFile out;
  out.path = path;
  std::string dir = path.substr(0, path.rfind('/'));
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(content));
    for (const auto& doc : docs) {
      if (doc.IsNull()) continue;  // an empty document between two ---
      std::string kind;
      TRY_STATUS(CheckHeader(r, doc, &kind));
      if (kind == "Pipeline") {
        TRY(p, r.Pipeline(doc));
        out.pipelines.push_back(std::move(*p));
      } else {
        TRY(c, r.Component(doc));
        c->dir = dir;
        out.components.push_back(std::move(*c));
      }
    }
  } catch (const YAML::ParserException& e) {
    return FailAt(Location{path, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: {}", EscapeControl(e.msg));
  } catch (const YAML::Exception& e) {
    return FailAt(Location{path, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.column + 1},
                  "{}", EscapeControl(e.msg));
  }
  if (out.pipelines.empty() && out.components.empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}: no sluice documents in the file", path);
  }
  return out;
}

}  // namespace sluice
