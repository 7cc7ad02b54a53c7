// The KFP export's executors (export_kfp.h): a task's container, with its argv and the copies
// that hand its outputs to KFP. A Sluice task writes outputs at paths relative to its working
// folder; a KFP executor must write each to the file KFP names
// ({{$.outputs.parameters['x'].output_file}}), so a task with outputs or with env that reads
// inputs runs under a small `sh -ec` prelude that does so.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "interop/export_kfp.h"

namespace sluice {
namespace {

std::string Spell(const TaskIo& io, const Text& text) {
  std::string out;
  for (const auto& p : text) {
    if (p.kind == Piece::Kind::kInput) {
      const Input& in = io.inputs[p.input];
      out += in.artifact ? fmt::format("{{{{$.inputs.artifacts['{}'].path}}}}", in.name)
                         : fmt::format("{{{{$.inputs.parameters['{}']}}}}", in.name);
    } else if (p.kind == Piece::Kind::kUnexpressed) {
      out += "[not expressed: " + p.text + "]";
    } else {
      out += p.text;
    }
  }
  return out;
}

bool ReadsInputs(const Text& text) {
  return std::any_of(text.begin(), text.end(),
                     [](const Piece& p) { return p.kind != Piece::Kind::kText; });
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

YamlNode KfpExecutor(const PlanTask& t, const TaskIo& io, NotExpressed& missing) {
  YamlNode c;
  bool stdout_output = false, needs_prelude = !io.script.empty();
  if (t.outputs) {
    needs_prelude |= !t.outputs->params.empty() || !t.outputs->artifacts.empty();
    for (const auto& p : t.outputs->params) {
      stdout_output |= p.source == OutputSource::kStdoutText || p.source == OutputSource::kStdoutJson;
    }
  }
  for (const auto& [name, text] : io.env) needs_prelude |= ReadsInputs(text);
  YamlNode args = YamlNode::List(), command = YamlNode::List();
  if (!needs_prelude && !io.argv.empty()) {
    command.Add(Spell(io, io.argv[0]));
    for (size_t i = 1; i < io.argv.size(); ++i) args.Add(Spell(io, io.argv[i]));
  } else {
    // sh -ec SCRIPT sh ARGV...: the script runs the argv as "$@" (or the task's script), then
    // copies each output where KFP collects it.
    std::string script = "mkdir -p /tmp/sluice && cd /tmp/sluice\n";
    for (const auto& [name, text] : io.env) {
      script += fmt::format("export {}=\"{}\"\n", name, Spell(io, text));
    }
    std::string run = io.argv.empty() ? "" : "\"$@\"";
    if (!io.script.empty()) {
      script += fmt::format("cat > /tmp/sluice-script <<'SLUICE_SCRIPT'\n{}{}SLUICE_SCRIPT\n",
                            io.script, io.script.ends_with("\n") ? "" : "\n");
      run = io.shell + " /tmp/sluice-script";
    } else if (io.argv.empty()) {
      if (io.builtin == "deploy") {
        missing.Add(fmt::format("{}: deploy (Sluice's rollout of a model to an environment); "
                                "the exported step fails saying so", Subject(t)));
      }
      run = io.builtin == "noop" ? "true" : "echo 'sluice builtin " + io.builtin +
                                                " is not expressed in KFP' >&2; exit 1";
    }
    script += stdout_output ? run + " > /tmp/sluice-stdout\ncat /tmp/sluice-stdout\n" : run + "\n";
    if (t.outputs) {
      for (const auto& p : t.outputs->params) {
        bool from_stdout = p.source == OutputSource::kStdoutText ||
                           p.source == OutputSource::kStdoutJson;
        if (p.source == OutputSource::kFileJson && !p.json_path.empty()) {
          missing.Add(fmt::format("{}: output {} is field {} of {}; KFP gets the whole file",
                                  Subject(t), p.name, p.json_path, p.path));
        }
        std::string out = fmt::format("{{{{$.outputs.parameters['{}'].output_file}}}}", p.name);
        script += fmt::format("mkdir -p \"$(dirname \"{0}\")\" && cp {1} \"{0}\"\n", out,
                              from_stdout ? "/tmp/sluice-stdout" : ShellQuote(p.path));
      }
      for (const auto& a : t.outputs->artifacts) {
        std::string out = fmt::format("{{{{$.outputs.artifacts['{}'].path}}}}", a.name);
        script += fmt::format("mkdir -p \"$(dirname \"{0}\")\" && cp -r {1} \"{0}\"\n", out,
                              ShellQuote(a.path));
      }
    }
    for (const char* w : {"sh", "-ec"}) command.Add(w);
    command.Add(script);
    command.Add("sh");
    for (const auto& a : io.argv) args.Add(Spell(io, a));
  }
  if (!args.empty()) c["args"] = std::move(args);
  c["command"] = std::move(command);
  c["image"] = io.image;
  if (const Resources* r = t.resources; r && (r->cpu > 0 || r->memory > 0 || r->gpu > 0)) {
    YamlNode res;
    if (r->cpu > 0) res["cpuRequest"] = r->cpu;
    if (r->memory > 0) res["memoryRequest"] = r->memory / 1e9;  // KFP's unit: GB
    if (r->gpu > 0) {
      res["accelerator"]["count"] = std::to_string(static_cast<int64_t>(std::ceil(r->gpu)));
      res["accelerator"]["type"] = "nvidia.com/gpu";
    }
    c["resources"] = std::move(res);
  }
  for (const auto& use : t.spec->secrets()) {
    missing.Add(fmt::format("{}: secret {} (KFP's IR carries no Kubernetes Secret; use "
                            "kfp-kubernetes' use_secret_as_env)", Subject(t), use.name));
  }
  return c;
}

}  // namespace sluice
