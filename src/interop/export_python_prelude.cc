// The Python helpers every Airflow and Prefect export defines (export_python.h, kPyPrelude):
// plain Python, no library call, so that the generated files run the same under both tools.
// Apart from export_python.cc because it is Python text, not C++ logic.
#include "interop/export_python.h"

namespace sluice {

const char kPyPrelude[] = R"PY(

def _text(value):
    """A value as Sluice writes it into argv and env: strings as they are, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


_SKIPPED = {"skipped": True}


def _out(value, kind, name):
    """An output of an upstream task: its outputs (a dict, or their JSON text), or a list of
    them for a forEach task (its skipped items left out)."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        return value[kind][name]
    return [_out(v, kind, name) for v in value if v != _SKIPPED and v != json.dumps(_SKIPPED)]


def _sluice_env(run_id, task, index, attempt, folder):
    """The variables Sluice gives every task (docs/spec.md, 4.4)."""
    name = task if index is None or index < 0 else "%s[%d]" % (task, index)
    return [("SLUICE_RUN_ID", str(run_id)), ("SLUICE_TASK", name),
            ("SLUICE_ATTEMPT", str(attempt)), ("SLUICE_ATTEMPT_DIR", folder)]


def _unsupported(text):
    raise RuntimeError("the export could not translate the placeholder ${{ %s }}: see the "
                       "file's header" % text)


def _workdir(run_id, task, index):
    """The task's working folder: under $SLUICE_EXPORT_ROOT, which every worker must share so
    that artifacts written by one task are read by the next."""
    root = os.environ.get("SLUICE_EXPORT_ROOT", "/tmp/sluice-export")
    name = task if index is None or index < 0 else "%s[%d]" % (task, index)
    path = os.path.join(root, str(run_id).replace("/", "_"), name)
    os.makedirs(path, exist_ok=True)
    return path


def _gate_input(folder, task, pipeline, labels, params, up):
    """The input of the task's gate policies, as Sluice builds it (docs/governance.md): each
    artifact as {path, digest, size}, the digest a SHA-256 of the file (of the paths and
    contents of a folder's files)."""
    def artifact(path):
        digest, size = hashlib.sha256(), 0
        files = [path] if os.path.isfile(path) else sorted(
            os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
        for name in files:
            with open(name, "rb") as f:
                data = f.read()
            if name != path:
                digest.update(os.path.relpath(name, path).encode() + b"\0")
            digest.update(data)
            size += len(data)
        return {"path": path, "digest": "sha256:" + digest.hexdigest(), "size": size}
    tasks = {}
    for name, value in up.items():
        outputs = json.loads(value) if isinstance(value, str) else value
        if outputs is None:  # an approval's sensor pushes nothing
            outputs = {"params": {}, "artifacts": {}}
        if isinstance(outputs, dict) and outputs != _SKIPPED:
            outputs = {"params": outputs["params"],
                       "artifacts": {a: artifact(p) for a, p in outputs["artifacts"].items()}}
        tasks[name] = {"state": "succeeded", "outputs": outputs}
    with open(os.path.join(folder, ".sluice-gate.json"), "w", encoding="utf-8") as f:
        json.dump({"object": {"task": task, "pipeline": pipeline, "labels": labels,
                              "params": dict(params), "tasks": tasks}}, f)


def _read_outputs(decls, folder, stdout):
    """A task's declared outputs, read as Sluice reads them once its command succeeded."""
    out = {"params": {}, "artifacts": {}}
    for name, source, path, key, typ in decls["params"]:
        if source.startswith("stdout"):
            text = stdout
        else:
            with open(os.path.join(folder, path), encoding="utf-8") as f:
                text = f.read()
        if source.endswith("json"):
            value = json.loads(text)
            for part in key.split(".") if key else []:
                value = value[int(part)] if isinstance(value, list) else value[part]
        else:
            value = text.rstrip("\r\n")
            if typ in ("int", "number", "bool", "list", "map"):
                value = json.loads(value)
        out["params"][name] = value
    for name, path in decls["artifacts"]:
        full = os.path.join(folder, path)
        if not os.path.exists(full):
            raise RuntimeError("artifact %s: the task did not create %s" % (name, path))
        out["artifacts"][name] = os.path.abspath(full)
    return out
)PY";

}  // namespace sluice
