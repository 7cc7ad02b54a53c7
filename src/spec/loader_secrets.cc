// The Reader's readers for secrets: spec.secrets (where each value comes from) and a task's
// secrets: list (which of them it receives, and how). Values are never read here: the process
// that runs the tasks fetches them (cli/secrets.cc).
#include "env/env.h"
#include "spec/yaml_reader.h"

namespace sluice {
namespace {

// A file name an attempt receives a secret as: one plain name in its working folder.
bool IsPlainFileName(std::string_view s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 255) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status Reader::Secrets(const YNode& n, std::vector<SecretDecl>* out) const {
  SLUICE_TRY_STATUS(ExpectList(n, "secrets"));
  for (const auto& e : n) {
    SLUICE_TRY_STATUS(ExpectMap(e, "a secret"));
    SLUICE_TRY_STATUS(CheckKeys(e, {"name", "env", "file", "command", "version", "timeout"},
                                "a secret"));
    SecretDecl d;
    d.loc = Loc(e);
    if (!e["name"]) return FailAt(d.loc, "a secret needs a name");
    SLUICE_TRY(name, Name(e["name"], "secret name"));
    d.name = *name;
    d.loc = Loc(e["name"]);
    for (const auto& other : *out) {
      if (other.name == d.name) return FailAt(d.loc, "duplicate secret {}", Quote(d.name));
    }
    int sources = !!e["env"] + !!e["file"] + !!e["command"];
    if (sources != 1) {
      return FailAt(d.loc, "secret {} needs exactly one source: env (a variable), file (a path) "
                    "or command (a secret manager's argv)", Quote(d.name));
    }
    if (const auto& env = e["env"]) {
      d.source = SecretDecl::Source::kEnv;
      SLUICE_TRY(var, Str(env, "secret env"));
      if (!IsEnvName(*var)) {
        return FailAt(Loc(env), "secret env {} is not a valid variable name", Quote(*var));
      }
      d.env = *var;
    } else if (const auto& file = e["file"]) {
      d.source = SecretDecl::Source::kFile;
      SLUICE_TRY(path, Str(file, "secret file"));
      if (Trim(*path).empty()) return FailAt(Loc(file), "secret file must not be empty");
      d.file = (*path)[0] == '/' ? *path : PathJoin(Dirname(file_), *path);
    } else {
      const auto& cmd = e["command"];
      d.source = SecretDecl::Source::kCommand;
      d.dir = Dirname(file_);
      if (cmd.IsScalar()) {
        return FailAt(Loc(cmd), "secret command must be a list of arguments (it runs without a "
                      "shell), e.g. [vault, kv, get, -field=token, secret/ci]");
      }
      SLUICE_TRY_STATUS(ExpectList(cmd, "secret command"));
      if (cmd.size() == 0) return FailAt(Loc(cmd), "secret command needs at least the program");
      for (const auto& a : cmd) {
        SLUICE_TRY(arg, Str(a, "a secret command argument"));
        if (arg->find("${{") != std::string::npos) {
          return FailAt(Loc(a), "a secret command cannot hold ${{{{ }}}} placeholders");
        }
        d.command.push_back(*arg);
      }
      if (e["timeout"]) {
        SLUICE_TRY(ms, Duration(e["timeout"], "secret timeout"));
        d.timeout_ms = *ms;
      }
    }
    if (e["timeout"] && d.source != SecretDecl::Source::kCommand) {
      return FailAt(Loc(e["timeout"]), "timeout is only used with command");
    }
    if (e["version"]) {
      SLUICE_TRY(v, Str(e["version"], "secret version"));
      d.version = *v;
    }
    out->push_back(std::move(d));
  }
  return {};
}

Status Reader::TaskSecrets(const YNode& n, std::vector<SecretUse>* out) const {
  SLUICE_TRY_STATUS(ExpectList(n, "secrets"));
  for (const auto& e : n) {
    SecretUse u;
    u.loc = Loc(e);
    if (e.IsScalar()) {
      return FailAt(u.loc, "a task's secrets entry says how the task receives it: {{name: {}, "
                    "env: VAR}} or {{name: {}, file: NAME}}", e.Scalar(), e.Scalar());
    }
    SLUICE_TRY_STATUS(ExpectMap(e, "a secrets entry"));
    SLUICE_TRY_STATUS(CheckKeys(e, {"name", "env", "file"}, "a secrets entry"));
    if (!e["name"]) return FailAt(u.loc, "a secrets entry needs the name of a secret");
    SLUICE_TRY(name, Name(e["name"], "secret name"));
    u.name = *name;
    u.loc = Loc(e["name"]);
    if (!!e["env"] == !!e["file"]) {
      return FailAt(u.loc, "secret {} needs exactly one of env (a variable) and file (a name in "
                    "the task's folder)", Quote(u.name));
    }
    if (const auto& env = e["env"]) {
      SLUICE_TRY(var, Str(env, "secret env"));
      if (!IsEnvName(*var)) {
        return FailAt(Loc(env), "env name {} is not a valid variable name", Quote(*var));
      }
      if (StartsWith(*var, "SLUICE_")) {
        return FailAt(Loc(env), "env names starting with SLUICE_ are reserved");
      }
      u.env = *var;
    } else {
      SLUICE_TRY(file, Str(e["file"], "secret file"));
      if (!IsPlainFileName(*file)) {
        return FailAt(Loc(e["file"]), "secret file {} must be a plain file name (letters, digits, "
                      ". _ -), written into the task's working folder", Quote(*file));
      }
      u.file = *file;
    }
    for (const auto& other : *out) {
      if ((!u.env.empty() && other.env == u.env) || (!u.file.empty() && other.file == u.file)) {
        return FailAt(u.loc, "two secrets are given as {} {}", u.env.empty() ? "file" : "env",
                      Quote(u.env.empty() ? u.file : u.env));
      }
    }
    out->push_back(std::move(u));
  }
  return {};
}

}  // namespace sluice
