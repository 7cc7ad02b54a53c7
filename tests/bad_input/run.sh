#!/usr/bin/env bash
# The bad-input corpus: every NN-*.yaml here must be rejected by `sluice validate` with exit
# code 2, one line on stderr holding the expected message, no crash, no sanitizer report and
# nothing written. See README.md for the `# expect:` convention.
#
# usage: tests/bad_input/run.sh SLUICE_BINARY
#   VERBOSE=1            also print a line (with its stderr) for every passing case
#   BAD_INPUT_TIMEOUT=N  seconds one validation may take (default 10)
#   BAD_INPUT_MEM_KB=N   virtual memory cap per run (default 4 GiB; not applied when
#                        SLUICE_ASAN is set, since sanitizers reserve huge address ranges)
set -u

if [[ $# -ne 1 ]]; then
  echo "usage: $0 SLUICE_BINARY" >&2
  exit 64
fi
sluice=$1
if [[ $sluice == */* ]]; then
  sluice="$(cd "$(dirname "$sluice")" && pwd)/$(basename "$sluice")"
else
  sluice=$(command -v "$sluice") || { echo "$0: $1: not found" >&2; exit 64; }
fi
if [[ ! -x $sluice ]]; then
  echo "$0: $sluice is not an executable" >&2
  exit 64
fi

# Logical (not symlink-resolved) absolute path: sluice prints the absolute path it was given.
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${BAD_INPUT_TIMEOUT:-10}
mem_kb=${BAD_INPUT_MEM_KB:-4194304}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bad-input.XXXXXX")
trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT

passed=0
failed=0

# Makes captured output printable on one line: control characters become ^X (cat -v).
oneline() {
  head -c 400 "$1" | cat -v | tr '\n' '|'
}

# check NAME FILE EXPECT: validates FILE and checks every rule; EXPECT is the text after
# "# expect: " (with {DIR} and {FILE} still to be substituted).
check() {
  local name=$1 file=$2 expect=$3
  local needle=${expect//\{DIR\}/"$here"}
  needle=${needle//\{FILE\}/"$file"}
  if [[ $needle == '!'* ]]; then
    needle=${needle:1}
  else
    needle="$file:$needle"
  fi

  # A fresh, empty place for each run: the working directory, a --state-dir that does not
  # exist yet and a SLUICE_HOME that does not either. All must stay untouched.
  local box="$scratch/box"
  rm -rf "$box" && mkdir "$box"
  local out="$scratch/stdout" err="$scratch/stderr"
  local rc
  # Run inside a command substitution whose stderr is /dev/null, so that bash's own report of
  # a crash ("Segmentation fault ...") does not end up in our output.
  rc=$(
    (
      cd "$box" || exit 99
      if [[ -z ${SLUICE_ASAN:-} ]]; then ulimit -v "$mem_kb" 2>/dev/null; fi
      LC_ALL=C SLUICE_HOME="$box/sluice-home" \
        exec timeout -k 5 "$timeout_s" "$sluice" --state-dir "$box/state" validate "$file"
    ) >"$out" 2>"$err" </dev/null
    echo $?
  ) 2>/dev/null

  local problems=()
  if [[ $rc -eq 124 || $rc -eq 137 && ! -s $err ]]; then
    problems+=("timed out after ${timeout_s}s")
  elif [[ $rc -gt 128 ]]; then
    problems+=("crashed: exit $rc (signal $((rc - 128)))")
  elif [[ $rc -ne 2 ]]; then
    problems+=("exit code $rc, expected 2")
  fi
  if grep -aqE 'Sanitizer|runtime error:|terminate called|Segmentation fault|Aborted|core dumped' "$err"; then
    problems+=("sanitizer or crash output")
  fi
  local lines
  lines=$(tr -cd '\n' <"$err" | wc -c)
  if [[ ! -s $err ]]; then
    problems+=("stderr is empty")
  elif [[ $lines -ne 1 || $(tail -c 1 "$err" | od -An -c | tr -d ' ') != '\n' ]]; then
    problems+=("stderr is not exactly one line ($lines newlines)")
  fi
  if head -c -1 "$err" | tr -d '\n' | LC_ALL=C grep -aq '[[:cntrl:]]'; then
    problems+=("stderr holds raw control characters")
  fi
  local text
  text=$(tr -d '\0' <"$err")
  if [[ $text != *"$needle"* ]]; then
    problems+=("stderr lacks: $(printf '%s' "$needle" | head -c 300 | cat -v)")
  fi
  if [[ -n $(ls -A "$box") ]]; then
    problems+=("wrote to disk: $(cd "$box" && find . -mindepth 1 | head -5 | tr '\n' ' ')")
  fi

  if [[ ${#problems[@]} -eq 0 ]]; then
    passed=$((passed + 1))
    [[ -n ${VERBOSE:-} ]] && echo "ok   $name: $(oneline "$err")"
  else
    failed=$((failed + 1))
    local joined
    joined=$(printf '%s; ' "${problems[@]}")
    echo "FAIL $name: ${joined%; } -- actual (exit $rc): $(oneline "$err")"
  fi
  return 0
}

# The committed corpus: NN-*.yaml (and NNN-*.yaml) at the top level. lib/ and *.component.yaml are helpers.
shopt -s nullglob
for file in "$here"/[0-9][0-9]*-*.yaml; do
  name=$(basename "$file")
  [[ $name == *.component.yaml ]] && continue
  first=$(head -n 1 "$file" | tr -d '\r')
  if [[ $first != '# expect: '* ]]; then
    failed=$((failed + 1))
    echo "FAIL $name: first line is not '# expect: ...'"
    continue
  fi
  check "$name" "$file" "${first#'# expect: '}"
done

# Generated cases: too big to commit, or not a regular file at all.
gen="$scratch/gen"
mkdir -p "$gen"
repeat() { head -c "$2" /dev/zero | tr '\0' "$1"; }

check "gen-missing-file" /nonexistent.yaml '!cannot read /nonexistent.yaml'

: >"$gen/empty.yaml"
check "gen-empty-file" "$gen/empty.yaml" '!{FILE}: the file is empty'

mkdir "$gen/a-directory.yaml"
check "gen-directory" "$gen/a-directory.yaml" '!{FILE}: it is a directory'

{ repeat '[' 10000; repeat ']' 10000; echo; } >"$gen/brackets.yaml"
check "gen-10000-brackets" "$gen/brackets.yaml" '1:64: nested too deeply (more than 64 levels)'

mkdir "$gen/own-folder"
cat >"$gen/own-folder/a.component.yaml" <<'EOF'
apiVersion: sluice/v1
kind: Component
metadata: {name: helper, version: 1.0.0}
spec:
  run: [echo, hi]
EOF
cat >"$gen/own-folder/pipeline.yaml" <<'EOF'
# a pipeline that imports the folder it lives in
apiVersion: sluice/v1
kind: Pipeline
metadata: {name: p}
spec:
  imports: ["."]
  tasks:
    - name: a
      uses: helper@1
EOF
check "gen-import-own-folder" "$gen/own-folder/pipeline.yaml" '6:13: import loop: "{FILE}" imports itself'

{ printf 'apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n'
  printf '    - name: a\n      uses: '; repeat a 200000; echo; } >"$gen/long-uses.yaml"
check "gen-200k-char-uses" "$gen/long-uses.yaml" '7:13: '

{ printf 'apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n'
  printf '    - name: a\n      run: [echo, hi]\n      retry: '; repeat 9 200000; echo; } >"$gen/long-number.yaml"
check "gen-200k-digit-number" "$gen/long-number.yaml" '8:14: retry must be a whole number from 0 to 1000'

# Trust (issue 11, section 4): inputs that are not regular files, and the total of one load.
check "gen-dev-zero-pipeline" /dev/zero '!cannot read /dev/zero: it is a device, not a regular file'
mkfifo "$gen/fifo.yaml"
check "gen-fifo-pipeline" "$gen/fifo.yaml" '!{FILE}: it is a FIFO, not a regular file'
truncate -s 300M "$gen/sparse.yaml"  # no disk used: refused by its size, before it is read
check "gen-300-mib-pipeline" "$gen/sparse.yaml" '!hold at most 256 MiB together'
mkdir "$gen/values"
{ printf 'apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  imports: ['
  for i in $(seq 1 14); do printf 'c%d.yaml, ' "$i"; done
  printf 'c15.yaml]\n  tasks:\n    - {name: a, run: ["true"]}\n'; } >"$gen/values/pipeline.yaml"
for i in $(seq 1 15); do
  { printf 'apiVersion: sluice/v1\nkind: Component\nmetadata: {name: c%d, version: 1.0.0}\n' "$i"
    printf 'spec:\n  run: ["true"]\n  params:\n    - {name: x, type: list, default: &l [a, b, c, d, e, f, g, h, i, j]}\n'
    for p in 1 2 3 4 5 6 7; do
      printf '    - {name: y%d, type: list, default: [' "$p"; repeat , 999 | sed 's/,/*l, /g'; printf '*l]}\n'
    done; } >"$gen/values/c$i.yaml"
done
check "gen-values-over-many-files" "$gen/values/pipeline.yaml" '!too many values in this pipeline'"'"'s files together (more than 1000000'

echo "bad-input: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
