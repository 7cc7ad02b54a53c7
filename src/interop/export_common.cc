// The exporters' shared parts (export_common.h): names, and reading a plan task's
// placeholders into inputs and sources (the YAML writer is in export_yaml.cc).
#include "interop/export_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/strings.h"
#include "expr/ast.h"

namespace sluice {

// ---------------------------------------------------------------------------------- names

std::string TargetName(std::string_view base) {
  std::string out;
  for (char c : base) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "t-" + out;
  if (out.size() > 56) out.resize(56);  // room for a "-N" suffix under Kubernetes' 63
  while (out.back() == '-') out.pop_back();
  return out;
}

std::string NameTable::Unique(std::string_view base) {
  std::string name = TargetName(base);
  std::string candidate = name;
  for (int n = 2; taken_.contains(candidate); ++n) candidate = fmt::format("{}-{}", name, n);
  taken_.insert(candidate);
  return candidate;
}

void NotExpressed::Add(std::string line) {
  if (seen_.insert(line).second) lines_.push_back(std::move(line));
}

std::string Subject(const PlanTask& t) { return fmt::format("task {}", t.name); }

// ---------------------------------------------------------------------------------- reading

std::optional<std::vector<std::string>> PlainPath(const Expression& expr) {
  std::vector<std::string> path;
  const Node* n = &expr.root();
  while (n->kind == Node::Kind::kSelect) {
    path.push_back(n->name);
    n = n->args[0].get();
  }
  if (n->kind != Node::Kind::kIdent) return std::nullopt;
  path.push_back(n->name);
  std::reverse(path.begin(), path.end());
  return path;
}

std::optional<Source> SourceOf(const Plan& plan, int scope, const std::vector<std::string>& path) {
  const std::string& root = path[0];
  if (root == "params" && path.size() == 2) {
    for (const auto& d : plan.ParamsIn(scope)) {
      if (d.name == path[1]) return Source{Source::Kind::kParam, -1, path[1]};
    }
    return std::nullopt;
  }
  if (root == "item") {
    std::vector<std::string> rest(path.begin() + 1, path.end());
    return Source{Source::Kind::kItem, -1, Join(rest, ".")};
  }
  if (root != "tasks" || path.size() != 5 || path[2] != "outputs") return std::nullopt;
  const PlanTask* producer = plan.FindIn(scope, path[1]);
  if (!producer) return std::nullopt;
  if (path[3] == "artifacts") return Source{Source::Kind::kTaskArtifact, producer->index, path[4]};
  if (path[3] != "params") return std::nullopt;
  Source::Kind kind = Source::Kind::kTaskParam;
  if (producer->outputs) {
    for (const auto& p : producer->outputs->params) {
      if (p.name == path[4] && (p.source == OutputSource::kStdoutText ||
                                p.source == OutputSource::kStdoutJson)) {
        kind = Source::Kind::kTaskResult;
      }
    }
  }
  return Source{kind, producer->index, path[4]};
}

namespace {

// A param or artifact name both targets accept: letters, digits, '_' and '-'.
std::string InputName(std::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '-';
  return out;
}

// Reads one task's fields into a TaskIo.
class TaskReader {
 public:
  TaskReader(const Plan& plan, const PlanTask& t, TaskIo& io, NotExpressed& missing)
      : plan_(plan), t_(t), io_(io), missing_(missing) {}

  // The component's params as inputs, bound to the task's `with:` arguments.
  void BindComponent(const ComponentSpec& c) {
    const auto& args = t_.component_args();
    for (size_t i = 0; i < c.params.size(); ++i) {
      Input in;
      in.name = c.params[i].name;
      in.type = c.params[i].type;
      const ComponentArg* arg = i < args.size() ? &args[i] : nullptr;
      if (arg && arg->field) {
        in.value = Read(*arg->field, /*dag_side=*/true, /*in_component=*/false);
        in.artifact = in.value.size() == 1 && in.value[0].kind == Piece::Kind::kSource &&
                      in.value[0].source.kind == Source::Kind::kTaskArtifact;
      } else if (arg && !arg->value.is_null()) {
        in.constant = arg->value;
      } else if (c.params[i].default_value) {
        in.constant = *c.params[i].default_value;
      }
      io_.inputs.push_back(std::move(in));
    }
  }

  // A template field as text: its placeholders as inputs (the template's side) or sources
  // (the DAG's side).
  Text Read(const TemplateField& f, bool dag_side, bool in_component) {
    Text out;
    if (f.literal) {
      out.push_back({Piece::Kind::kText, f.literal->is_string() ? f.literal->as_string()
                                                                  : f.literal->ToJson()});
      return out;
    }
    if (!f.tmpl.has_placeholders()) {
      out.push_back({Piece::Kind::kText, f.tmpl.text()});
      return out;
    }
    for (const auto& piece : f.tmpl.pieces()) {
      if (!piece.expr) {
        if (!piece.literal.empty()) out.push_back({Piece::Kind::kText, piece.literal});
        continue;
      }
      out.push_back(Placeholder(*piece.expr, dag_side, in_component));
    }
    return out;
  }

 private:
  Piece Placeholder(const Expression& e, bool dag_side, bool in_component) {
    auto path = PlainPath(e);
    if (path && in_component) {
      if ((*path)[0] == "params" && path->size() == 2) {
        for (size_t i = 0; i < io_.inputs.size(); ++i) {
          if (io_.inputs[i].name == (*path)[1]) return {Piece::Kind::kInput, "", static_cast<int>(i)};
        }
      }
    } else if (path) {
      if (auto literal = LiteralOf(*path)) return {Piece::Kind::kText, *literal};
      if (auto src = SourceOf(plan_, t_.scope, *path)) {
        if (dag_side) return {Piece::Kind::kSource, "", -1, *src};
        return {Piece::Kind::kInput, "", InputFor(*src)};
      }
    }
    if (path && path->size() == 2 && (*path)[1] == "dir" &&
        ((*path)[0] == "component" || (*path)[0] == "pipeline")) {
      missing_.Add(fmt::format("{}: {}.dir is a folder on this machine ({} relative to the "
                               "pipeline); the image must hold it, and the text is marked "
                               "[not expressed]", Subject(t_), (*path)[0],
                               (*path)[0] == "pipeline" ? "." : ComponentFolder()));
      return {Piece::Kind::kUnexpressed, std::string(Trim(e.text()))};
    }
    missing_.Add(fmt::format("{}: ${{{{ {} }}}} has no equivalent in the target (only "
                             "plain references map); kept as text marked [not expressed]", Subject(t_), Trim(e.text())));
    return {Piece::Kind::kUnexpressed, std::string(Trim(e.text()))};
  }

  // The task's component's folder relative to the pipeline's: machine-independent text.
  std::string ComponentFolder() const {
    const ComponentSpec* c = t_.component();
    if (!c) return ".";
    const std::string& file = plan_.pipeline->file;
    auto from = Split(file.substr(0, file.rfind('/')), '/');
    auto to = Split(c->dir, '/');
    size_t common = 0;
    while (common < from.size() && common < to.size() && from[common] == to[common]) ++common;
    std::vector<std::string> parts(from.size() - common, "..");
    parts.insert(parts.end(), to.begin() + common, to.end());
    return parts.empty() ? "." : Join(parts, "/");
  }

  // Names a target knows as constants.
  std::optional<std::string> LiteralOf(const std::vector<std::string>& path) {
    if (path.size() != 2) return std::nullopt;
    if (path[0] == "pipeline" && path[1] == "name") return plan_.pipeline->name;
    if (path[0] == "task" && path[1] == "name" && t_.spec) return t_.spec->name;
    return std::nullopt;
  }

  // The input that carries `src` into the template, added on first use.
  int InputFor(const Source& src) {
    std::string name;
    switch (src.kind) {
      case Source::Kind::kParam: name = src.key; break;
      case Source::Kind::kItem: name = src.key.empty() ? "item" : "item-" + src.key; break;
      default: name = plan_.tasks[src.task].spec->name + "-" + src.key; break;
    }
    name = InputName(name);
    for (size_t i = 0; i < io_.inputs.size(); ++i) {
      if (io_.inputs[i].name == name) return static_cast<int>(i);
    }
    Input in;
    in.name = name;
    in.artifact = src.kind == Source::Kind::kTaskArtifact;
    if (src.kind == Source::Kind::kParam) {
      for (const auto& d : plan_.ParamsIn(t_.scope)) {
        if (d.name == src.key) in.type = d.type;
      }
    }
    in.value.push_back({Piece::Kind::kSource, "", -1, src});
    io_.inputs.push_back(std::move(in));
    return static_cast<int>(io_.inputs.size()) - 1;
  }

  const Plan& plan_;
  const PlanTask& t_;
  TaskIo& io_;
  NotExpressed& missing_;
};

}  // namespace

TaskIo ReadTask(const Plan& plan, const PlanTask& t, const std::string& default_image,
                NotExpressed& missing) {
  TaskIo io;
  io.task = &t;
  const ComponentSpec* comp = t.component();  // a uses task's, or a DAG template call's
  io.image = t.spec ? t.spec->opts().image : "";
  if (io.image.empty() && comp) io.image = comp->image;
  if (io.image.empty()) io.image = default_image;
  TaskReader reader(plan, t, io, missing);
  if (comp) reader.BindComponent(*comp);
  if (t.tmpl() >= 0) return io;
  // A uses task's body belongs to the component: its params are the inputs bound above.
  const bool in_component = comp != nullptr;
  if (t.body) {
    switch (t.kind) {
      case Body::Kind::kRun:
        for (const auto& f : t.body->run) io.argv.push_back(reader.Read(f, false, in_component));
        break;
      case Body::Kind::kScript:
        io.script = t.body->text;
        io.shell = t.body->shell();
        break;
      case Body::Kind::kBuiltin: io.builtin = t.body->text; break;
      default: break;
    }
  }
  auto add_env = [&](const std::string& name, Text text) {
    for (auto& [n, v] : io.env) {
      if (n == name) { v = std::move(text); return; }
    }
    io.env.emplace_back(name, std::move(text));
  };
  if (comp) {
    for (const auto& [name, f] : comp->env) add_env(name, reader.Read(f, false, true));
  }
  if (t.spec) {
    for (const auto& [name, f] : t.spec->env()) add_env(name, reader.Read(f, false, false));
  }
  return io;
}

Text ReadDagSide(const Plan& plan, const PlanTask& t, const TemplateField& f,
                NotExpressed& missing) {
  TaskIo io;
  return TaskReader(plan, t, io, missing).Read(f, /*dag_side=*/true, /*in_component=*/false);
}

// ---------------------------------------------------------------------------------- conditions

namespace {

class ConditionWriter {
 public:
  ConditionWriter(const Plan& plan, int scope, const std::function<std::string(const Source&)>& ref,
                  bool quote_strings, bool single_quoted, std::string number_cast)
      : plan_(plan), scope_(scope), ref_(ref), quote_strings_(quote_strings),
        single_quoted_(single_quoted), number_cast_(std::move(number_cast)) {}

  std::optional<std::string> Write(const Node& n, bool quote_ref) {
    switch (n.kind) {
      case Node::Kind::kLiteral: return Literal(n.value);
      case Node::Kind::kIdent:
      case Node::Kind::kSelect: {
        auto path = PathOf(n);
        if (!path) return std::nullopt;
        auto src = SourceOf(plan_, scope_, *path);
        if (!src) return std::nullopt;
        std::string r = ref_(*src);
        return quote_ref ? "'" + r + "'" : r;
      }
      case Node::Kind::kUnary: {
        auto operand = Operand(*n.args[0], false);
        if (!operand || (n.name != "!" && n.name != "-")) return std::nullopt;
        return n.name + *operand;
      }
      case Node::Kind::kBinary:
      case Node::Kind::kAnd:
      case Node::Kind::kOr: {
        static const std::set<std::string> kOps = {"==", "!=", "<", "<=", ">", ">=", "+", "-",
                                                   "*", "/", "&&", "||"};
        if (!kOps.contains(n.name)) return std::nullopt;
        bool l_str = IsString(*n.args[0]), r_str = IsString(*n.args[1]);
        auto l = Operand(*n.args[0], quote_strings_ && r_str);
        auto r = Operand(*n.args[1], quote_strings_ && l_str);
        if (!l || !r) return std::nullopt;
        // An ordering or arithmetic over a reference compares numbers, where the target's
        // values may be strings (KFP passes untyped outputs as STRING): cast them.
        if (!number_cast_.empty() && n.name != "==" && n.name != "!=" && n.name != "&&" &&
            n.name != "||") {
          if (IsReference(*n.args[0])) l = number_cast_ + "(" + *l + ")";
          if (IsReference(*n.args[1])) r = number_cast_ + "(" + *r + ")";
        }
        return *l + " " + n.name + " " + *r;
      }
      default: return std::nullopt;
    }
  }

 private:
  std::optional<std::string> Operand(const Node& n, bool quote_ref) {
    auto s = Write(n, quote_ref);
    if (!s) return s;
    bool compound = n.kind == Node::Kind::kBinary || n.kind == Node::Kind::kAnd ||
                    n.kind == Node::Kind::kOr;
    return compound ? "(" + *s + ")" : *s;
  }

  static bool IsReference(const Node& n) {
    return n.kind == Node::Kind::kIdent || n.kind == Node::Kind::kSelect;
  }

  static bool IsString(const Node& n) {
    return n.kind == Node::Kind::kLiteral && n.value.is_string();
  }

  std::optional<std::string> Literal(const Value& v) {
    if (v.is_bool() || v.is_number()) return v.ToJson();
    if (!v.is_string()) return std::nullopt;
    if (!single_quoted_) return v.ToJson();
    std::string s = "'";
    for (char c : v.as_string()) {
      if (c == '\'' || c == '\\') s += '\\';
      s += c;
    }
    return s + "'";
  }

  static std::optional<std::vector<std::string>> PathOf(const Node& node) {
    std::vector<std::string> path;
    const Node* n = &node;
    while (n->kind == Node::Kind::kSelect) {
      path.push_back(n->name);
      n = n->args[0].get();
    }
    if (n->kind != Node::Kind::kIdent) return std::nullopt;
    path.push_back(n->name);
    std::reverse(path.begin(), path.end());
    return path;
  }

  const Plan& plan_;
  int scope_;
  const std::function<std::string(const Source&)>& ref_;
  bool quote_strings_, single_quoted_;
  std::string number_cast_;
};

}  // namespace

std::optional<std::string> ConvertCondition(const Plan& plan, int scope, const Expression& expr,
                                            const std::function<std::string(const Source&)>& ref,
                                            bool quote_strings, bool single_quoted_strings,
                                            const std::string& number_cast) {
  return ConditionWriter(plan, scope, ref, quote_strings, single_quoted_strings, number_cast)
      .Write(expr.root(), false);
}

// ---------------------------------------------------------------------------------- header

std::string HeaderComment(const Plan& plan, std::string_view target,
                          const std::vector<std::string>& not_expressed) {
  std::string file = plan.pipeline->file;
  if (auto slash = file.rfind('/'); slash != std::string::npos) file = file.substr(slash + 1);
  std::string out = fmt::format("# Exported by sluice from pipeline {} ({}): sluice export --to {}\n",
                                plan.pipeline->name, file, target);
  if (not_expressed.empty()) return out + "# Every feature of the pipeline is expressed.\n";
  out += fmt::format("# Not expressed in {} ({}; also printed as warnings):\n", target,
                     not_expressed.size());
  for (const auto& line : not_expressed) {
    std::string one = line;
    std::replace(one.begin(), one.end(), '\n', ' ');
    out += "#   - " + one + "\n";
  }
  return out;
}

void ListPlanWideGaps(const Plan& plan, NotExpressed& missing) {
  for (const auto& t : plan.tasks) {
    if (t.role != TaskRole::kMain) continue;
    if (t.breaker()) {
      missing.Add(fmt::format("{}: circuit breaker {} (its state is shared across runs; no "
                              "target keeps it)", Subject(t), t.breaker()->name));
    }
    if (!t.catches().empty()) missing.Add(fmt::format("{}: catch handlers", Subject(t)));
    if (t.fallback >= 0) missing.Add(fmt::format("{}: fallback", Subject(t)));
    if (t.compensate >= 0) {
      missing.Add(fmt::format("{}: compensate (the saga's undo step)", Subject(t)));
    }
    if (t.retry && t.retry->jitter != Jitter::kNone) {
      missing.Add(fmt::format("{}: retry jitter", Subject(t)));
    }
    if (t.spec && t.spec->opts().working_dir == WorkingDir::kPipeline) {
      missing.Add(fmt::format("{}: workingDir: pipeline (the pipeline's folder is not in the "
                              "image)", Subject(t)));
    }
  }
  for (const auto& g : plan.groups) {
    missing.Add(fmt::format("group {}: its tasks retried together", g.name));
  }
  for (const auto& p : plan.policies) {
    if (p->stage == "admission") {
      missing.Add(fmt::format("policy {} (admission): checked by sluice run and validate, not by "
                              "the target", p->name));
    }
  }
  for (const auto& w : plan.waivers) missing.Add(fmt::format("waiver {}", w->name));
  for (const auto& s : plan.pipeline->secrets) {
    static const char* kFrom[] = {"an environment variable", "a file", "a command"};
    missing.Add(fmt::format("secret {}: its source ({}) is Sluice's; the export reads a "
                            "Kubernetes Secret named {} (key: value)", s.name,
                            kFrom[static_cast<int>(s.source)], TargetName(s.name)));
  }
  if (plan.pipeline->cancel_on_failure) missing.Add("pipeline: onFailure: cancel");
}

std::string_view KfpParameterType(ParamType t) {
  switch (t) {
    case ParamType::kString: return "STRING";
    case ParamType::kInt: return "NUMBER_INTEGER";
    case ParamType::kNumber: return "NUMBER_DOUBLE";
    case ParamType::kBool: return "BOOLEAN";
    case ParamType::kList: return "LIST";
    case ParamType::kMap: return "STRUCT";
  }
  return "STRING";
}

}  // namespace sluice
