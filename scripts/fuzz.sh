#!/usr/bin/env bash
# Builds the expression fuzzer with clang (libFuzzer + ASan + UBSan) and runs it for SECONDS
# (default 60) on the seed corpus. Exits non-zero on any crash, sanitizer report or timeout.
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
srcs=$(ls src/common/*.cc src/expr/*.cc | grep -v '_test\.cc$')
if [ ! -x "$out/expr_fuzz" ] || [ -n "$(find $srcs tests/fuzz/expr_fuzz.cc -newer "$out/expr_fuzz")" ]; then
  echo "fuzz: building $out/expr_fuzz"
  # shellcheck disable=SC2086
  $CXX tests/fuzz/expr_fuzz.cc $srcs -o "$out/expr_fuzz" $(pkg-config --libs re2) -lfmt
fi
mkdir -p "$out/corpus"
cp -n tests/fuzz/corpus/expr/* "$out/corpus/" 2>/dev/null || true
echo "fuzz: running for ${seconds}s"
"$out/expr_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" 2>"$out/fuzz.log" || { tail -n 60 "$out/fuzz.log"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/fuzz.log" | sed 's/^/fuzz: /'
echo "fuzz: no crash in ${seconds}s"
