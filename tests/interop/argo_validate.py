#!/usr/bin/env python3
"""`sluice validate` on every file of Argo's development set (issue 16, docs/interop.md).

Usage: argo_validate.py SLUICE [--only SUBSTRING] [--record]
The set is $SLUICE_INTEROP_DIR/argo/examples (default ../shared/interop next to the repository);
when it is absent the suite fails and says so. One test per file: validate either accepts it
(exit 0, "valid Argo ...") or refuses it (exit 2) with only located lines that name what they
refuse; never a crash, never an unlocated line. Each file's outcome is compared with
argo_validate_outcomes.tsv (the fields each refused file names), so a change is seen; --record
rewrites that file. Files the record lacks (held-back examples dropped into the folder) are
checked but not compared. Prints the counts and ends with "e2e-argo-validate: N passed, M failed".
"""
import os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env  # noqa: E402

INTEROP = os.environ.get("SLUICE_INTEROP_DIR") or os.path.join(REPO, "..", "shared", "interop")
EXAMPLES = os.path.join(INTEROP, "argo", "examples")
RECORD = os.path.join(HERE, "argo_validate_outcomes.tsv")

# What a refusal may say after "FILE:LINE:COL: ": each names the field, kind or template.
NAMED = [re.compile(p) for p in (
    r"\S+ is not supported here: \S",
    r"unknown field \"[^\"]+\" in an Argo \w+",
    r"(entrypoint|onExit|hook|step|task) names template \"[^\"]*\", which this document does not define",
    r"template \"[^\"]*\" (does nothing|has both \w+ and \w+)",
    r"template \"[^\"]*\" is defined twice",
    r"(step|task) \"[^\"]*\" runs nothing: ",
    r"a template needs a name",
    r"a \w+ needs spec\.(workflowSpec\.)?entrypoint",
    r"\w+ must be a (map|list), not ",
    r"duplicate key \"[^\"]+\" in \w+",
    r"(kind|apiVersion) \"?[^\"]*\"? is not supported here: ",
    # What the importer does not translate (yet), each naming it.
    r"\S+ is not imported yet: ",
    r"\{\{.*\}\} is not imported: ",
    r"when: .*\(column \d+\)",
    r"container of image \"[^\"]*\" gives no command",
    r"(Cluster)?WorkflowTemplate \"[^\"]*\" (is in no file given with --templates|has no template)",
    r"podSpecPatch is imported only when",
    r"withSequence\.\w+ ",
    r"output (param|path) ",
    r"template \"[^\"]*\" substitutes values into the code",
    r"\w+ is not imported: ",
    r"kind \w+ is not imported yet: ",
    r"\w+ from a tag .* is not imported yet: ",
    r"\{\{workflow\.parameters\.\S+\}\} names a parameter",
    r"a second runnable document \(",
    r"a CronWorkflow runs its workflow once here; ",
    r"argument \"[^\"]+\" is not an input of template ",
    r"task \"[^\"]+\" asks for pool \"[^\"]+\", which ",
    r"spec\.resources asks for pool \"[^\"]+\", ",
)]

outcomes = {}  # file (relative to EXAMPLES) -> "valid" or the sorted set of refused fields


def named(msg):
    """What a refusal names: the field, kind or apiVersion refused, "unknown:FIELD", or the
    message's first word (entrypoint, task, template...)."""
    m = re.match(r'(?:kind |apiVersion )?"?([^" ]+)"? is not supported here', msg)
    if m:
        return m.group(1)
    m = re.match(r'(\S+) is not imported yet', msg)
    if m:
        return "not-yet:" + m.group(1)
    m = re.match(r'unknown field "([^"]+)"', msg)
    return "unknown:" + m.group(1) if m else msg.split(" ", 1)[0]


# As the development set runs (argo_dev_set.py): the whole set's templates, and the image map.
IMPORT = ["--templates", EXAMPLES, "--image-map",
          f"argoproj/argosay:v2={os.path.join(HERE, 'argosay')}"]


def check(e, rel):
    path = os.path.join(EXAMPLES, rel)
    p = e.sluice("validate", path, *IMPORT)
    assert p.returncode in (0, 2), f"{rel}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    # Checks made on the loaded plan (central pools) name the file by its absolute path.
    located = re.compile("(?:" + re.escape(path) + "|" + re.escape(os.path.abspath(path)) +
                         r"):\d+:\d+: (warning: )?(.*)$")
    lines = [l for l in p.stderr.splitlines() if l]
    names = set()
    for line in lines:
        m = located.match(line)
        assert m, f"{rel}: an unlocated line: {line}"
        assert any(n.match(m.group(2)) for n in NAMED), f"{rel}: a line that names nothing: {line}"
        names.add(named(m.group(2)))
    if p.returncode == 0:
        assert p.stdout.startswith(f"{path}: valid Argo "), p.stdout
        assert ", imported as pipeline " in p.stdout, p.stdout
        outcomes[rel] = "valid"
    else:
        assert lines, f"{rel}: exit 2 without a line saying why"
        outcomes[rel] = " ".join(sorted(names))


def recorded():
    if not os.path.exists(RECORD):
        return {}
    rows = [l.rstrip("\n").split("\t") for l in open(RECORD) if l.strip() and not l.startswith("#")]
    return {r[0]: r[1] for r in rows}


def make_test(rel, want):
    def t():
        check(Env(), rel)
        if want is not None and "--record" not in sys.argv:
            assert outcomes[rel] == want, (f"{rel}: was {want!r}, now {outcomes[rel]!r} "
                                           "(if meant: argo_validate.py SLUICE --record)")
    t.__name__ = rel
    return t


def main():
    if not os.path.isdir(EXAMPLES):
        print(f"ARGO DEVELOPMENT SET NOT FOUND at {EXAMPLES}: set SLUICE_INTEROP_DIR to the folder "
              "holding argo/examples. Nothing was tested.")
        print("e2e-argo-validate: 0 passed, 1 failed")
        return 1
    files = sorted(os.path.relpath(os.path.join(d, f), EXAMPLES)
                   for d, _, fs in os.walk(EXAMPLES) for f in fs if f.endswith((".yaml", ".yml")))
    want = recorded()
    rc = run_e2e.run_suite([make_test(f, want.get(f)) for f in files], "e2e-argo-validate")
    valid = sum(1 for v in outcomes.values() if v == "valid")
    new = [f for f in outcomes if f not in want]
    # After run_suite's "N passed, M failed", worded so that scripts/test.sh reads that line.
    print(f"argo development set: {len(outcomes)} of {len(files)} files checked: {valid} validate "
          f"clean, {len(outcomes) - valid} refused with named errors; {len(new)} not in the record")
    if "--record" in sys.argv:
        with open(RECORD, "w") as out:
            out.write("# file\toutcome of sluice validate: valid, or the fields it refuses "
                      "(tests/interop/argo_validate.py --record writes it)\n")
            out.write(f"# {valid} valid, {len(outcomes) - valid} refused\n")
            for f in sorted(outcomes):
                out.write(f"{f}\t{outcomes[f]}\n")
    return rc


if __name__ == "__main__":
    code = main()
    sys.exit(code)
