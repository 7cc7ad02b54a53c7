// Reading the bodies of Argo templates (argo_importer.h): containers and scripts, container sets,
// pod spec patches, and the paths a step reads and writes in its sandbox.
#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"
#include "interop/argo_importer.h"
#include "interop/yaml_text.h"
#include "spec/inline_code.h"

namespace sluice {
namespace {

// How an interpreter that Argo gives a script file is given the source here instead.
struct ScriptFlag {
  std::string_view program;
  std::string_view flag;
};
constexpr ScriptFlag kScriptFlags[] = {
    {"sh", "-c"},      {"bash", "-c"},   {"ash", "-c"},    {"dash", "-c"},
    {"zsh", "-c"},     {"python", "-c"}, {"python3", "-c"}, {"node", "-e"},
    {"perl", "-e"},    {"ruby", "-e"},
};

std::string BaseName(std::string_view p) {
  size_t slash = p.rfind('/');
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

}  // namespace

Status Importer::Container(const YNode& c, bool script, ImportedTemplate* out, ArgoScope& scope) {
  const std::string_view def = script ? "ScriptTemplate" : "Container";
  SLUICE_TRY_STATUS(Handled(c, def, {"image", "command", "args", "source", "env", "workingDir"}));
  out->image = std::string(c["image"].Scalar());
  std::vector<std::string> argv;
  for (const YNode& a : c["command"]) {
    SLUICE_TRY(t, Text(a, scope));
    argv.push_back(std::move(*t));
  }
  if (script) {
    if (argv.empty()) return At(c, "a script template needs a command (its interpreter)");
    const std::string program = BaseName(argv[0]);
    auto flag = std::ranges::find_if(kScriptFlags, [&](const ScriptFlag& f) {
      return f.program == program;
    });
    if (flag == std::end(kScriptFlags)) {
      return At(c["command"], "script interpreter {} is not imported: known are sh, bash, ash, "
                "dash, zsh, python, python3, node, perl and ruby", Quote(program));
    }
    argv.emplace_back(flag->flag);
    SLUICE_TRY(source, Text(c["source"], scope));
    argv.push_back(std::move(*source));
  } else if (argv.empty()) {
    // The image's entrypoint runs: only --image-map knows what that is here.
    std::string image = out->image;
    std::string untagged = image.substr(0, image.rfind(':') == std::string::npos ||
                                                   image.rfind(':') < image.rfind('/')
                                               ? image.size()
                                               : image.rfind(':'));
    for (const auto& [from, to] : o_.image_map) {
      if (from == image || from == untagged) argv.push_back(to);
    }
    if (argv.empty()) {
      return At(c["image"] ? c["image"] : c, "container of image {} gives no command, so its "
                "image's entrypoint would run, which is unknown here: give --image-map {}=PROGRAM",
                Quote(image), image);
    }
    argv.resize(1);
  }
  if (!script) {
    for (const YNode& a : c["args"]) {
      SLUICE_TRY(t, Text(a, scope));
      argv.push_back(std::move(*t));
    }
  }
  // Debian has python3 and no `python`, as the images Argo's examples use have.
  if (argv[0] == "python") {
    argv[0] = "python3";
    out->comments.push_back("python runs as python3");
  }
  for (const YNode& e : c["env"]) {
    SLUICE_TRY_STATUS(Handled(e, "EnvVar", {"name", "value"}));
    SLUICE_TRY(name, Scalar(e["name"], "an env name"));
    SLUICE_TRY(value, e["value"] ? Text(e["value"], scope) : Result<std::string>(""));
    out->env.emplace_back(*name, *value);
  }
  if (c["workingDir"]) {
    Warn(c["workingDir"], "workingDir is not imported: the step starts in its attempt folder");
  }
  std::vector<std::string_view> texts(argv.begin(), argv.end());
  if (auto code = FindInlineCode(texts); code && argv[code->index].find("${{") != std::string::npos) {
    out->substitutes_code = true;
    Warn(c, fmt::format("template {} substitutes values into the code `{}` runs, as Argo does: "
                        "a value could run commands (the admission input marks it)",
                        Quote(out->name), code->program));
  }
  // A step that names /tmp would touch the host's: it gets a private one.
  for (const std::string& a : argv) {
    if (a.find("/tmp/") != std::string::npos && out->private_paths.empty()) {
      out->private_paths.push_back("/tmp");
    }
  }
  out->run = std::move(argv);
  out->pod = true;
  return {};
}

// A patch of the pod is imported when it only sets its containers' resources (limits and
// requests), which a step on this host does not get: noted, not enforced. Anything else in it
// would change what the step sees, so it is an error.
Status Importer::PodSpecPatch(const YNode& patch, std::vector<std::string>* comments) const {
  SLUICE_TRY(text, Scalar(patch, "podSpecPatch"));
  // Tags stand for values (`{{inputs.parameters.resources}}` may be a whole JSON map): any
  // value will do to read the patch's shape.
  std::string shape;
  for (size_t pos = 0;;) {
    size_t open = text->find("{{", pos), close = open == std::string::npos ? open : text->find("}}", open);
    if (close == std::string::npos) {
      shape += text->substr(pos);
      break;
    }
    shape += text->substr(pos, open - pos) + "x";
    pos = close + 2;
  }
  bool resources_only = true;
  Status parsed = ForEachDocument("podSpecPatch", shape, [&](const Reader&, const YNode& doc) {
    resources_only = resources_only && doc.IsMap() && doc.size() == 1 && doc["containers"].IsSequence();
    for (const YNode& c : doc["containers"]) {
      for (const auto& e : c) {
        resources_only = resources_only && (e.first.Scalar() == "name" || e.first.Scalar() == "resources");
      }
    }
    return Status{};
  });
  if (!parsed || !resources_only) {
    return At(patch, "podSpecPatch is imported only when it sets its containers' resources "
              "(limits, requests), which do not apply on this host; this one {}",
              parsed ? "changes more of the pod" : "is not YAML or JSON");
  }
  comments->push_back("podSpecPatch: container resources, not enforced on this host");
  return {};
}

// Where an output Argo reads at `path` is read here. An absolute path is one the step's
// sandbox makes its own (privatePaths): its folder is ROOT/PATH in the attempt's folder.
Result<std::string> Importer::SandboxPath(const YNode& at, const std::string& path,
                                          std::string_view what, ImportedTemplate* out) const {
  if (path.empty() || path.find("..") != std::string::npos) {
    return At(at, "{} {} must be a path without ..", what, Quote(path));
  }
  if (!path.starts_with('/')) return path;
  const std::string dir = path.substr(0, std::max<size_t>(path.rfind('/'), 1));
  const std::string top = path.substr(0, path.find('/', 1));
  if (top == "/proc" || top == "/dev" || top == "/sys" || top == "/usr" || top == "/etc" ||
      top == "/lib" || top == "/bin" || top == "/attempt") {
    return At(at, "{} {} lies in {}, which a step's sandbox keeps as the host's", what, Quote(path), top);
  }
  // A file in / is the sandbox's own too (its root is the attempt's root folder): any private
  // path turns the sandbox on.
  const std::string folder = dir == "/" ? "/tmp" : dir;
  if (std::ranges::find(out->private_paths, folder) == out->private_paths.end()) {
    out->private_paths.push_back(folder);
  }
  return "root" + path;
}

// A containerSet: its containers become the tasks of a dag, each a component of its own that
// gets the set's inputs, in the order their dependencies give. The container named main gives
// the set's outputs.result, as in Argo.
Status Importer::ContainerSet(const YNode& set, ImportedTemplate* out) {
  SLUICE_TRY_STATUS(Handled(set, "ContainerSetTemplate", {"containers"}));
  out->dag = true;
  std::vector<std::string> names;
  for (const YNode& c : set["containers"]) names.emplace_back(c["name"].Scalar());
  for (const YNode& c : set["containers"]) {
    SLUICE_TRY_STATUS(Handled(c, "ContainerNode", {"name", "image", "command", "args", "env",
                                                   "workingDir", "dependencies"}));
    ImportedCall call;
    SLUICE_TRY(name, Scalar(c["name"], "a container's name"));
    call.name = *name;
    if (!IsName(call.name)) return At(c["name"], "{} is not a name Sluice can use", Quote(call.name));
    ImportedTemplate sub;
    sub.name = fmt::format("{}.{}", out->name, call.name);
    sub.params = out->params;
    sub.inputs = out->inputs;
    ArgoScope scope;
    scope.inputs = &sub.inputs;
    SLUICE_TRY_STATUS(Container(c, false, &sub, scope));
    sub.globals = std::move(scope.globals);
    std::vector<std::string> deps;
    for (const YNode& d : c["dependencies"]) {
      SLUICE_TRY(dep, Scalar(d, "a dependency"));
      if (std::ranges::find(names, *dep) == names.end()) {
        return At(d, "container {} depends on {}, which is not in its set{}", Quote(call.name),
                  Quote(*dep), DidYouMean(*dep, names));
      }
      deps.push_back(*dep);
    }
    call.depends = Join(deps, " && ");
    call.tmpl = sub.name;
    for (const ImportedParam& p : out->params) {
      call.with.emplace_back(p.name, fmt::format("${{{{ params.{} }}}}", p.name));
    }
    if (call.name == "main") {
      result_needed_.insert(sub.name);
      ImportedOutput result;
      result.name = "result";
      result.value = "${{ tasks.main.outputs.params.result }}";
      out->outputs.push_back(std::move(result));
    }
    templates_.push_back(std::move(sub));
    out->calls.push_back(std::move(call));
  }
  out->comments.push_back("Argo's containerSet: each container is a task of this component");
  return {};
}

// A container's or script's synchronization: each mutex and semaphore is a central pool (or
// mutex) of the state folder's pools.yaml, whose owner declares it, as a cluster's owner makes
// Argo's ConfigMap of semaphore limits; the step holds one unit while it runs. An undeclared one
// refuses the run, naming it (docs/pools.md).
Status Importer::Synchronization(const YNode& sync, ImportedTemplate* out) const {
  if (out->run.empty()) {
    SLUICE_TRY_STATUS(Handled(sync, "Synchronization", {"mutexes", "semaphores"}));
    return At(sync, "synchronization is not imported yet: on a steps, dag or container set "
              "template, Argo holds the lock across its steps, and a Sluice pool is held by each "
              "attempt (held per step, other runs could take it in between); a container's or "
              "script's own, and the workflow's, are imported");
  }
  return SyncPools(sync, false, &out->pools, &out->comments);
}

// The pools of a synchronization: the step's (`whole_run` false) or the workflow's, which the
// run holds from before its first task to its end (spec.resources), as Argo holds a
// workflow-level lock from before the workflow's first pod until it completes.
Status Importer::SyncPools(const YNode& sync, bool whole_run, std::vector<std::string>* pools,
                           std::vector<std::string>* comments) const {
  SLUICE_TRY_STATUS(Handled(sync, "Synchronization", {"mutexes", "semaphores"}));
  auto add = [&](const YNode& at, const std::string& name, std::string_view what) -> Status {
    if (!IsName(name)) return At(at, "{} {} is not a name a Sluice pool can have", what, Quote(name));
    if (std::ranges::find(*pools, name) == pools->end()) pools->push_back(name);
    comments->push_back(fmt::format("Argo's {}{} {}: the central {} {} of STATE/pools.yaml{} "
                                    "(docs/pools.md)", whole_run ? "workflow-level " : "", what,
                                    name, what == "mutex" ? "mutex" : "pool", name,
                                    whole_run ? ", held by the whole run (spec.resources)" : ""));
    return {};
  };
  for (const YNode& m : sync["mutexes"]) {
    SLUICE_TRY_STATUS(Handled(m, "Mutex", {"name"}));
    SLUICE_TRY(name, Scalar(m["name"], "a mutex's name"));
    SLUICE_TRY_STATUS(add(m["name"], *name, "mutex"));
  }
  for (const YNode& s : sync["semaphores"]) {
    SLUICE_TRY_STATUS(Handled(s, "SemaphoreRef", {"configMapKeyRef", "database"}));
    // Argo keeps the limit in a ConfigMap's key or in its database under a key: the key names
    // the pool here.
    const YNode key = s["configMapKeyRef"] ? s["configMapKeyRef"]["key"] : s["database"]["key"];
    if (!key) return At(s, "a semaphore needs configMapKeyRef.key or database.key (its pool's name here)");
    SLUICE_TRY(name, Scalar(key, "a semaphore's key"));
    SLUICE_TRY_STATUS(add(key, *name, "semaphore"));
  }
  return {};
}

// A step's input artifacts are copied from the artifact store to their paths (in its private
// folders) by a shell before its command runs: `sh -c SCRIPT argo-inputs FROM TO … -- ARGV`.
void Importer::CopyInputs(ImportedTemplate* out) const {
  std::vector<std::string> argv = {
      "sh", "-c",
      "while [ \"$1\" != -- ]; do mkdir -p \"$(dirname \"$2\")\" && cp -R \"$1\" \"$2\" || exit 1; "
      "shift 2; done; shift; exec \"$@\"",
      "argo-inputs"};
  for (const auto& [name, path] : out->input_artifacts) {
    argv.push_back(fmt::format("${{{{ params.{} }}}}", ArgoArtifactParam(name)));
    argv.push_back(path);
  }
  argv.push_back("--");
  argv.insert(argv.end(), out->run.begin(), out->run.end());
  out->run = std::move(argv);
  out->comments.push_back("Argo's input artifacts are copied to their paths before the command runs");
}

}  // namespace sluice
