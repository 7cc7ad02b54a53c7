// JSON forms of attempt requests and ends (work_codec.h).
#include "exec/work_codec.h"

#include "common/strings.h"

namespace sluice {

namespace {

Value Pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  ValueList out;
  for (const auto& [k, v] : pairs) out.push_back(Value(ValueList{Value(k), Value(v)}));
  return Value(std::move(out));
}

Value Strings(const std::vector<std::string>& items) {
  ValueList out;
  for (const auto& s : items) out.push_back(Value(s));
  return Value(std::move(out));
}

// Reads fields of one JSON object, remembering the first that is missing or mistyped.
class Fields {
 public:
  Fields(const Value& v, std::string what) : v_(v), what_(std::move(what)) {
    if (!v.is_map()) bad_ = what_ + " is not an object";
  }
  std::string Str(const char* key) {
    const Value* f = v_.is_map() ? v_.Find(key) : nullptr;
    if (f && f->is_string()) return f->as_string();
    if (f && !f->is_null()) Bad(key);
    return "";
  }
  int64_t Int(const char* key) {
    const Value* f = v_.is_map() ? v_.Find(key) : nullptr;
    if (f && f->is_int()) return f->as_int();
    if (f && f->is_uint()) return static_cast<int64_t>(f->as_uint());
    if (f && !f->is_null()) Bad(key);
    return 0;
  }
  double Num(const char* key) {
    const Value* f = v_.is_map() ? v_.Find(key) : nullptr;
    if (f && f->is_number()) return f->to_double();
    if (f && !f->is_null()) Bad(key);
    return 0;
  }
  const ValueList& List(const char* key) {
    static const ValueList kEmpty;
    const Value* f = v_.is_map() ? v_.Find(key) : nullptr;
    if (f && f->is_list()) return f->as_list();
    if (f && !f->is_null()) Bad(key);
    return kEmpty;
  }
  std::vector<std::string> StrList(const char* key) {
    std::vector<std::string> out;
    for (const Value& s : List(key)) {
      if (!s.is_string()) Bad(key);
      else out.push_back(s.as_string());
    }
    return out;
  }
  std::vector<std::pair<std::string, std::string>> PairList(const char* key) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Value& p : List(key)) {
      if (!p.is_list() || p.as_list().size() != 2 || !p.as_list()[0].is_string() ||
          !p.as_list()[1].is_string()) {
        Bad(key);
        continue;
      }
      out.emplace_back(p.as_list()[0].as_string(), p.as_list()[1].as_string());
    }
    return out;
  }
  void Bad(const char* key) {
    if (bad_.empty()) bad_ = fmt::format("{}: field {} has the wrong type", what_, Quote(key));
  }
  Status Done() const {
    if (bad_.empty()) return {};
    return Fail(ErrorCode::kInvalidInput, "{}", bad_);
  }

 private:
  const Value& v_;
  std::string what_;
  std::string bad_;
};

}  // namespace

Value RequestToValue(const AttemptRequest& req) {
  ValueList params;
  for (const auto& p : req.params) {
    params.push_back(Value(ValueMap{{"name", Value(p.name)},
                                    {"source", Value(static_cast<int>(p.source))},
                                    {"path", Value(p.path)},
                                    {"jsonPath", Value(p.json_path)},
                                    {"type", Value(static_cast<int>(p.type))},
                                    {"default", p.default_value ? Value(*p.default_value) : Value()}}));
  }
  ValueList artifacts;
  for (const auto& a : req.artifacts) {
    artifacts.push_back(Value(ValueMap{{"name", Value(a.name)}, {"path", Value(a.path)}}));
  }
  return Value(ValueMap{{"runId", Value(req.run_id)}, {"task", Value(req.task)},
                        {"attempt", Value(req.attempt)}, {"argv", Strings(req.argv)},
                        {"env", Pairs(req.env)}, {"params", Value(std::move(params))},
                        {"artifacts", Value(std::move(artifacts))},
                        {"workingDir", Value(req.working_dir)},
                        {"privatePaths", Strings(req.private_paths)},
                        {"arrayKey", Value(req.array_key)},
                        {"executor", Value(req.executor)}, {"labels", Pairs(req.labels)},
                        {"cpu", Value(req.cpu)}, {"memory", Value(req.memory)},
                        {"gpu", Value(req.gpu)}});
}

Result<AttemptRequest> RequestFromValue(const Value& v) {
  Fields f(v, "the attempt request");
  AttemptRequest req;
  req.run_id = f.Str("runId");
  req.task = f.Str("task");
  req.attempt = static_cast<int>(f.Int("attempt"));
  req.argv = f.StrList("argv");
  req.env = f.PairList("env");
  for (const Value& p : f.List("params")) {
    Fields pf(p, "an output param");
    WantedParam w;
    w.name = pf.Str("name");
    const int64_t source = pf.Int("source"), type = pf.Int("type");
    if (source < 0 || source > 3 || type < 0 || type > 6) f.Bad("params");
    w.source = static_cast<WantedParam::Source>(source);
    w.type = static_cast<WantedParam::Type>(type);
    w.path = pf.Str("path");
    w.json_path = pf.Str("jsonPath");
    if (const Value* d = p.Find("default"); d && !d->is_null()) w.default_value = pf.Str("default");
    if (!pf.Done()) f.Bad("params");
    req.params.push_back(std::move(w));
  }
  for (const Value& a : f.List("artifacts")) {
    Fields af(a, "an artifact");
    req.artifacts.push_back({af.Str("name"), af.Str("path")});
    if (!af.Done()) f.Bad("artifacts");
  }
  req.working_dir = f.Str("workingDir");
  req.private_paths = f.StrList("privatePaths");
  req.array_key = f.Str("arrayKey");
  req.executor = f.Str("executor");
  req.labels = f.PairList("labels");
  req.cpu = f.Num("cpu");
  req.memory = f.Num("memory");
  req.gpu = f.Num("gpu");
  SLUICE_TRY_STATUS(f.Done());
  if (req.run_id.empty() || req.task.empty() || req.attempt < 1 || req.argv.empty()) {
    return Fail(ErrorCode::kInvalidInput, "the attempt request lacks its run, task, attempt or argv");
  }
  return req;
}

Value EndToValue(const AttemptEnd& end) {
  const char* how = end.how == AttemptEnd::How::kExited     ? "exited"
                    : end.how == AttemptEnd::How::kSignaled ? "signaled"
                                                            : "lost";
  ValueMap m{{"how", Value(how)}, {"exitCode", Value(end.exit_code)},
             {"signal", Value(end.signal)}, {"message", Value(end.message)}};
  if (end.outputs && *end.outputs) {
    ValueList artifacts;
    for (const auto& a : (*end.outputs)->artifacts) {
      artifacts.push_back(Value(ValueMap{{"name", Value(a.name)}, {"digest", Value(a.digest)},
                                         {"size", Value(a.size)}, {"path", Value(a.path)}}));
    }
    m.emplace_back(Value("outputs"), Value(ValueMap{{"params", (*end.outputs)->params},
                                                    {"artifacts", Value(std::move(artifacts))}}));
  } else if (end.outputs) {
    m.emplace_back(Value("outputsError"), Value(end.outputs->error().message));
  }
  return Value(std::move(m));
}

Result<AttemptEnd> EndFromValue(const Value& v, AttemptHandle handle) {
  Fields f(v, "the attempt's end");
  AttemptEnd end;
  end.handle = handle;
  const std::string how = f.Str("how");
  end.how = how == "exited" ? AttemptEnd::How::kExited
            : how == "signaled" ? AttemptEnd::How::kSignaled : AttemptEnd::How::kLost;
  if (how != "exited" && how != "signaled" && how != "lost") f.Bad("how");
  end.exit_code = static_cast<int>(f.Int("exitCode"));
  end.signal = static_cast<int>(f.Int("signal"));
  end.message = f.Str("message");
  const Value* outputs = v.is_map() ? v.Find("outputs") : nullptr;
  if (outputs) {
    Fields of(*outputs, "the attempt's outputs");
    AttemptOutputs out;
    const Value* params = outputs->is_map() ? outputs->Find("params") : nullptr;
    out.params = params && params->is_map() ? *params : Value(ValueMap{});
    for (const Value& a : of.List("artifacts")) {
      Fields af(a, "an artifact");
      out.artifacts.push_back({af.Str("name"), af.Str("digest"), af.Int("size"), af.Str("path")});
      if (!af.Done()) f.Bad("outputs");
    }
    if (!of.Done()) f.Bad("outputs");
    end.outputs = std::move(out);
  } else if (const std::string error = f.Str("outputsError"); !error.empty()) {
    end.outputs = Result<AttemptOutputs>(Fail(ErrorCode::kInvalidInput, "{}", error));
  }
  SLUICE_TRY_STATUS(f.Done());
  return end;
}

}  // namespace sluice
