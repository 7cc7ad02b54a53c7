#!/usr/bin/env bash
# Runs every test suite against the build in $1 (default: build) and prints one summary line.
# Suites: unit tests (GoogleTest, with the seeded fault simulation), the bad-input corpus,
# end-to-end tests with real processes (including the kill -9 crash loop) and the
# failure-handling scenarios.
set -u
build=${1:-build}
exec 3>&1
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
suite() {  # suite NAME COMMAND...: runs it, reads its "N passed, M failed" line
  local name=$1
  shift
  local out started=$SECONDS
  out=$("$@" 2>&1)
  local rc=$?
  local line
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -n 60
  fi
  local p f
  p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
  [ -z "$line" ] && { p=0; f=1; }
  [ $rc -ne 0 ] && [ "$f" = "0" ] && f=1
  echo "$name: ${p} passed, ${f} failed ($((SECONDS - started)) s)"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}
unit() {
  local out rc
  out=$("$build/sluice_unit_tests" 2>&1)
  rc=$?
  # A failure's lines, not the names of the tests about failures ("Failure.RetryOn...").
  printf '%s\n' "$out" | grep -E -A5 ': Failure$|^unknown file: Failure' | head -n 60
  local ok failed
  ok=$(printf '%s\n' "$out" | grep -cE '^\[       OK \]')
  # "NAME (N ms)", or "NAME/postgresql, where GetParam() = ... (N ms)" for a parameterized one.
  failed=$(printf '%s\n' "$out" | grep -cE '^\[  FAILED  \] [A-Za-z0-9_/.]+(, where .*)? \(')
  echo "unit: ${ok} passed, ${failed} failed"
  return $rc
}
# CEL conformance is a floor, not all-or-nothing: the suite passes while at least the committed
# number of the CEL project's tests pass (tests/conformance/FLOOR; raise it, never lower it).
conformance() {
  local out rc
  out=$("$build/sluice_cel_conformance" --floor "$(cat tests/conformance/FLOOR)" 2>&1)
  rc=$?
  # Shown on fd 3 (this script's stdout), past the suite's capture; reworded so that no line
  # but the summaries reads "N passed, M failed".
  printf '%s\n' "$out" | sed -e 's/ passed, / ok, /' -e 's/ failed, / not yet, /' >&3
  if [ $rc -eq 0 ]; then
    echo "cel-conformance floor: 1 passed, 0 failed"
  else
    echo "cel-conformance floor: 0 passed, 1 failed"
  fi
  return $rc
}
# PostgreSQL: one throw-away server (scripts/pg.sh) for all the store tests, which read its URL
# from SLUICE_TEST_PG_URL; stopped and removed on any exit. A server that does not start is a
# failed suite (the PostgreSQL cases then skip, saying why).
pg_dir=""
stop_pg() { if [ -n "$pg_dir" ]; then scripts/pg.sh stop "$pg_dir"; pg_dir=""; fi; }
trap stop_pg EXIT
trap 'stop_pg; exit 130' INT TERM
if pg_dir=$(scripts/pg.sh start); then
  export SLUICE_TEST_PG_URL
  SLUICE_TEST_PG_URL=$(scripts/pg.sh url "$pg_dir")
  echo "postgresql-server: 1 passed, 0 failed"
  total_pass=$((total_pass + 1))
else
  pg_dir=""
  echo "postgresql-server: 0 passed, 1 failed"
  total_fail=$((total_fail + 1))
fi
# The sanitizers cover the unit and engine suites only (CI time; make test runs them all):
# suites that start services (servers, workers, a PostgreSQL store, the rollout stack) and the
# command-line suites (bad input, retention, schedules, the diagrams) are `service`s.
service() {
  if [ -n "${SLUICE_ASAN:-}" ]; then echo "$1: skipped under the sanitizers (make test runs it)"
  else suite "$@"; fi
}
suite unit unit
suite cel-conformance-floor conformance
# the rule that keeps make asan's unity build the same program (src/README.md, "Unity builds")
suite unity-names /usr/bin/python3 tests/build/unity_names.py
service bad-input bash tests/bad_input/run.sh "$build/sluice"
service docs-diagrams bash tests/docs/diagrams.sh "$build"
suite e2e /usr/bin/python3 tests/e2e/run_e2e.py "$build/sluice"
suite e2e-files /usr/bin/python3 tests/e2e/trust_files.py "$build/sluice"
suite e2e-templates /usr/bin/python3 tests/e2e/templates.py "$build/sluice"
service e2e-retention /usr/bin/python3 tests/e2e/retention.py "$build/sluice"  # sluice prune
suite e2e-pools /usr/bin/python3 tests/e2e/pools.py "$build/sluice"  # central pools and mutexes
service server /usr/bin/python3 tests/server/api_test.py "$build/sluice"
service server-ui /usr/bin/python3 tests/server/ui_api_test.py "$build/sluice"  # chaos journals and reports, the login limit
service server-ha /usr/bin/python3 tests/server/ha_test.py "$build/sluice"
service server-retention /usr/bin/python3 tests/server/retention_test.py "$build/sluice"
service server-hardening /usr/bin/python3 tests/server/hardening_test.py "$build/sluice"  # review of sluice server
service cli-parity /usr/bin/python3 tests/server/cli_parity_test.py "$build/sluice"  # the CLI against a server
service workers /usr/bin/python3 tests/server/workers_test.py "$build/sluice"  # issue 13: workers
service server-schedules /usr/bin/python3 tests/server/schedules_test.py "$build/sluice"  # issue 13: schedules that fire
service e2e-schedules /usr/bin/python3 tests/e2e/schedules.py "$build/sluice"  # issue 13
service server-notifications /usr/bin/python3 tests/server/notifications_test.py "$build/sluice"  # issue 13: webhooks
service server-triggers /usr/bin/python3 tests/server/triggers_test.py "$build/sluice"  # webhook triggers
suite scenarios /usr/bin/python3 tests/scenarios/run_scenarios.py "$build/sluice"
# issue 16: sluice validate on Argo's development set ($SLUICE_INTEROP_DIR; absent = failed)
suite e2e-argo-validate /usr/bin/python3 tests/interop/argo_validate.py "$build/sluice"
# issue 16: Argo's development set run as it is, against tests/interop/argo-dev-set.tsv
suite e2e-argo-dev-set /usr/bin/python3 tests/interop/argo_dev_set.py "$build/sluice"
suite e2e-argo-import /usr/bin/python3 tests/interop/argo_import.py "$build/sluice"
suite e2e-argo-import-gates /usr/bin/python3 tests/interop/argo_import_gates.py "$build/sluice"
# issue 16: sluice export of every example to Argo (schema: $SLUICE_ARGO_SCHEMA) and KFP (goldens:
# $SLUICE_KFP_GOLDENS); absent = failed
suite e2e-export-argo-kfp /usr/bin/python3 tests/interop/export_argo_kfp.py "$build/sluice"
# issue 16: every example pipeline exported to Airflow and Prefect, compiled, its AST and API checked
suite export-python /usr/bin/python3 tests/interop/export_python.py "$build/sluice"
service e2e-postgres /usr/bin/python3 tests/e2e/postgres_store.py "$build/sluice"
# issue 17: executor: slurm on a throw-away single-node Slurm cluster, started and purged by the suite
service e2e-slurm /usr/bin/python3 tests/e2e/slurm.py "$build/sluice"
# issue 14: the rollout stack (nginx, Prometheus, model servers) on its own, then Sluice's
# deploy tasks on it; each suite starts one stack and stops it.
service rollout-stack /usr/bin/python3 tests/rollouts/stack_selftest.py "$build/sluice"
service e2e-rollouts /usr/bin/python3 tests/e2e/rollouts.py "$build/sluice"
service server-rollouts /usr/bin/python3 tests/server/rollouts_api_test.py "$build/sluice"  # issue 14: rollouts over the API
service e2e-chaos /usr/bin/python3 tests/e2e/chaos.py "$build/sluice"  # issue 15: chaos experiments
service e2e-chaos-proxy /usr/bin/python3 tests/e2e/chaos_proxy.py "$build/sluice"  # issue 15: the fault proxy
# issue 17: the web UI in Debian's Chromium (playwright-core and axe-core from ui/'s lockfile)
service web-ui env SLUICE_UI_SCREENSHOTS="$build/ui-screenshots" node tests/ui/ui_test.mjs "$build/sluice"
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
