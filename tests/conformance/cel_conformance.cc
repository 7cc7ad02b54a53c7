// Runs the CEL project's conformance tests (../shared/conformance/cel/*.textproto, or the
// folder in $SLUICE_CEL_CONFORMANCE, or the first argument) against src/expr, and prints per
// file and in total "N passed, M failed, K skipped".
//
// Usage: sluice_cel_conformance [DIR] [--floor N] [--verbose] [--skip FILE]
// Exit: 0, or 1 when fewer than --floor tests pass, 2 when the data is missing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/strings.h"
#include "env/env.h"
#include "expr/expr.h"
#include "textproto.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A conformance `Value` message -> Value. Fails for kinds src/expr does not model.
Result<Value> ToValue(const TextNode& v) {
  for (const auto& [kind, n] : v.fields) {
    if (kind == "null_value") return Value();
    if (kind == "bool_value") return Value(n.scalar == "true");
    if (kind == "int64_value") return Value(static_cast<int64_t>(std::stoll(n.scalar)));
    if (kind == "uint64_value") return Value(static_cast<uint64_t>(std::stoull(n.scalar)));
    if (kind == "double_value") {
      std::string s = n.scalar;
      if (s == "inf" || s == "infinity" || s == "Infinity") return Value(INFINITY);
      if (s == "-inf" || s == "-infinity" || s == "-Infinity") return Value(-INFINITY);
      if (s == "nan" || s == "NaN") return Value(NAN);
      return Value(std::strtod(s.c_str(), nullptr));
    }
    if (kind == "string_value") return Value(n.scalar);
    if (kind == "bytes_value") return Value(Bytes{n.scalar});
    if (kind == "type_value") return Value(TypeValue{n.scalar});
    if (kind == "object_value" && !n.fields.empty()) {
      // Only the well-known time types: {[type.googleapis.com/google.protobuf.Duration] {...}}.
      const auto& [type, msg] = n.fields[0];
      auto field = [&](const char* name) -> int64_t {
        const TextNode* f = msg.Find(name);
        return f ? std::stoll(f->scalar) : 0;
      };
      if (type == "[type.googleapis.com/google.protobuf.Duration]") {
        return Value(Duration{field("seconds"), static_cast<int32_t>(field("nanos"))});
      }
      if (type == "[type.googleapis.com/google.protobuf.Timestamp]") {
        return Value(Timestamp{field("seconds"), static_cast<int32_t>(field("nanos"))});
      }
    }
    if (kind == "list_value") {
      ValueList l;
      for (const TextNode* e : n.All("values")) {
        auto x = ToValue(*e);
        if (!x) return x;
        l.push_back(std::move(*x));
      }
      return Value(std::move(l));
    }
    if (kind == "map_value") {
      ValueMap m;
      for (const TextNode* e : n.All("entries")) {
        const TextNode* k = e->Find("key");
        const TextNode* val = e->Find("value");
        if (!k || !val) return Fail(ErrorCode::kInvalidInput, "bad map entry");
        auto kv = ToValue(*k);
        if (!kv) return kv;
        auto vv = ToValue(*val);
        if (!vv) return vv;
        m.emplace_back(std::move(*kv), std::move(*vv));
      }
      return Value(std::move(m));
    }
    return Fail(ErrorCode::kInvalidInput, "value kind {} is not supported", kind);
  }
  return Fail(ErrorCode::kInvalidInput, "empty value");
}

// Strict equality for matching results: same kinds (no numeric cross-type equality), NaN
// matches NaN, map entries in any order.
bool SameValue(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kDouble:
      if (std::isnan(a.as_double()) && std::isnan(b.as_double())) return true;
      return a.as_double() == b.as_double();
    case Value::Kind::kList: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!SameValue(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kMap: {
      if (a.as_map().size() != b.as_map().size()) return false;
      for (const auto& [k, v] : a.as_map()) {
        const Value* w = b.Find(k);
        if (!w || !SameValue(v, *w)) return false;
      }
      return true;
    }
    default: return a == b;
  }
}

// The system's tz database, for the timestamp tests with named zones (Debian's tzdata).
const TimeZones& Zones() {
  static const std::unique_ptr<TimeZones> zones = NewSystemTimeZones();
  return *zones;
}

class Bindings : public Activation {
 public:
  std::map<std::string, Value> vars;
  const TimeZones* time_zones() const override { return &Zones(); }
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    // The longest dotted prefix that names a binding ("a.b.c" may be one variable).
    for (size_t n = path.size(); n > 0; --n) {
      std::string name = Join(std::vector<std::string>(path.begin(), path.begin() + n), ".");
      auto it = vars.find(name);
      if (it != vars.end()) return Resolved{it->second, n};
    }
    return Fail(ErrorCode::kInvalidInput, "undeclared reference to {}", Quote(path[0]));
  }
};

struct Outcome {
  enum { kPass, kFail, kSkip } kind = kFail;
  std::string why;
};

Outcome RunTest(const TextNode& t) {
  const TextNode* expr = t.Find("expr");
  if (!expr) return {Outcome::kFail, "no expr"};
  Bindings env;
  for (const TextNode* b : t.All("bindings")) {
    const TextNode* key = b->Find("key");
    const TextNode* val = b->Find("value");
    const TextNode* inner = val ? val->Find("value") : nullptr;
    if (!key || !inner) return {Outcome::kFail, "bad binding"};
    auto v = ToValue(*inner);
    if (!v) return {Outcome::kFail, "binding: " + v.error().message};
    env.vars[key->scalar] = *v;
  }
  auto parsed = Expression::Parse(expr->scalar);
  const TextNode* want_value = t.Find("value");
  const TextNode* want_error = t.Find("eval_error");
  if (!parsed) return {Outcome::kFail, "parse: " + parsed.error().message};
  auto got = parsed->Evaluate(env);
  if (want_error) {
    if (!got) return {Outcome::kPass, ""};
    return {Outcome::kFail, "expected an error, got " + got->ToJson()};
  }
  Value want(true);  // no matcher: the result must be true
  if (want_value) {
    auto w = ToValue(*want_value);
    if (!w) return {Outcome::kFail, "expected value: " + w.error().message};
    want = *w;
  }
  if (!got) return {Outcome::kFail, "error: " + got.error().message};
  if (!SameValue(*got, want)) {
    return {Outcome::kFail, fmt::format("got {} {}, want {} {}", got->TypeName(), got->ToJson(),
                                        want.TypeName(), want.ToJson())};
  }
  return {Outcome::kPass, ""};
}

int Main(int argc, char** argv) {
  std::string dir;
  int floor = -1;
  bool verbose = false;
  std::string skip_file = "tests/conformance/cel_skip.txt";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--floor" && i + 1 < argc) floor = std::atoi(argv[++i]);
    else if (a == "--verbose") verbose = true;
    else if (a == "--skip" && i + 1 < argc) skip_file = argv[++i];
    else dir = a;
  }
  if (dir.empty()) {
    const char* env = std::getenv("SLUICE_CEL_CONFORMANCE");
    dir = env && *env ? env : "../shared/conformance/cel";
  }
  if (!fs::is_directory(dir)) {
    std::fprintf(stderr, "CEL CONFORMANCE DATA NOT FOUND at %s: set SLUICE_CEL_CONFORMANCE to the "
                 "folder of *.textproto files. Nothing was tested.\n", dir.c_str());
    return 2;
  }
  // Skip list: "file/section/test-prefix   # reason" per line.
  std::vector<std::string> skips;
  std::istringstream sk(ReadAll(skip_file));
  for (std::string line; std::getline(sk, line);) {
    std::string s(Trim(line.substr(0, line.find('#'))));
    if (!s.empty()) skips.push_back(s);
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".textproto") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  int tp = 0, tf = 0, ts = 0;
  for (const auto& f : files) {
    auto doc = ParseTextProto(ReadAll(f));
    if (!doc) {
      std::fprintf(stderr, "%s: %s\n", f.c_str(), doc.error().message.c_str());
      return 2;
    }
    std::string file = doc->Find("name") ? doc->Find("name")->scalar : f.stem().string();
    int p = 0, fl = 0, s = 0;
    for (const TextNode* sec : doc->All("section")) {
      std::string sname = sec->Find("name") ? sec->Find("name")->scalar : "";
      for (const TextNode* t : sec->All("test")) {
        std::string id = file + "/" + sname + "/" + (t->Find("name") ? t->Find("name")->scalar : "");
        bool skipped = std::any_of(skips.begin(), skips.end(),
                                   [&](const std::string& pre) { return StartsWith(id, pre); });
        if (skipped) {
          ++s;
          continue;
        }
        Outcome o = RunTest(*t);
        if (o.kind == Outcome::kPass) {
          ++p;
        } else {
          ++fl;
          if (verbose) {
            std::printf("FAIL %s: %s\n    expr: %s\n", id.c_str(), EscapeControl(o.why).c_str(),
                        EscapeControl(t->Find("expr") ? t->Find("expr")->scalar : "").c_str());
          }
        }
      }
    }
    std::printf("%-14s %d passed, %d failed, %d skipped\n", (file + ":").c_str(), p, fl, s);
    tp += p;
    tf += fl;
    ts += s;
  }
  int run = tp + tf;
  std::printf("cel-conformance total: %d passed, %d failed, %d skipped (%.1f%% of those run)\n", tp,
              tf, ts, run ? 100.0 * tp / run : 0.0);
  if (floor >= 0 && tp < floor) {
    std::printf("below the committed floor of %d passing tests\n", floor);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) { return sluice::Main(argc, argv); }
