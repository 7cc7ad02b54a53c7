#!/usr/bin/env bash
# Builds the fuzzers with clang (libFuzzer + ASan + UBSan) and runs them on their seed corpora:
# the expression fuzzer for SECONDS (default 60), the TZif reader's and the run journal's
# decoder's for a quarter of that each.
# Exits non-zero on any crash, sanitizer report or timeout.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/deps.sh fuzz
out=build-fuzz
mkdir -p "$out"
# Debian 12's clang-16 with libstdc++ 12: <expected> is gated on __cpp_concepts >= 202002L,
# which clang-16 implements enough of but does not advertise; the define opens the header.
CXX="clang++-16 -std=c++2b -O1 -g -fno-omit-frame-pointer -Wno-builtin-macro-redefined -Wno-macro-redefined
     -D__cpp_concepts=202002L -Isrc -fsanitize=fuzzer,address,undefined"
srcs="$(ls src/common/*.cc src/expr/*.cc | grep -v '_test\.cc$') src/store/journal.cc"
# The sources the fuzzers share are compiled once, two at a time, into $out/obj; an object is
# rebuilt when its source or any header under src/ is newer. (Each fuzzer used to compile all
# of them again: about half of CI's time.)
mkdir -p "$out/obj"
objs=()
stale=()
for src in $srcs; do
  obj="$out/obj/$(echo "${src%.cc}" | tr / _).o"
  objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
    stale+=("$src" "$obj")
  fi
done
if [ ${#stale[@]} -gt 0 ]; then
  echo "fuzz: compiling $(( ${#stale[@]} / 2 )) shared sources"
  export CXX
  # shellcheck disable=SC2016
  printf '%s\n' "${stale[@]}" | xargs -n 2 -P 2 sh -c '$CXX -c "$0" -o "$1"'
fi
# fuzz NAME SECONDS MAX_LEN: links tests/fuzz/NAME_fuzz.cc with the shared objects when stale,
# runs it on its corpus.
fuzz() {
  local name=$1 secs=$2 max_len=$3 bin="$out/$1_fuzz"
  if [ ! -x "$bin" ] || [ -n "$(find "${objs[@]}" "tests/fuzz/$1_fuzz.cc" -newer "$bin")" ]; then
    echo "fuzz: building $bin"
    # shellcheck disable=SC2086
    $CXX "tests/fuzz/$1_fuzz.cc" "${objs[@]}" -o "$bin" $(pkg-config --libs re2) -lfmt
  fi
  mkdir -p "$out/corpus-$name"
  cp -n "tests/fuzz/corpus/$name"/* "$out/corpus-$name/" 2>/dev/null || true
  echo "fuzz: running $name for ${secs}s"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$out/$name-" "$out/corpus-$name" 2>"$out/$name.log" ||
    { tail -n 60 "$out/$name.log"; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$name.log" | sed "s/^/fuzz: $name: /"
}
fuzz expr "$seconds" 4096
fuzz tzif "$(( (seconds + 3) / 4 ))" 16384
fuzz journal "$(( (seconds + 3) / 4 ))" 65536
echo "fuzz: no crash"
