#!/usr/bin/env bash
# Runs the compiled test suite several times in a row with CPU hogs beside it,
# to find tests that depend on timing (a sleep standing in for an event, a
# wall-clock bound). Build first (`npm run build`).
#
#   scripts/stress-tests.sh [RUNS [HOGS [FILTER...]]]
#
# RUNS (default 5) whole runs of `node scripts/run-tests.mjs FILTER...`, with
# HOGS (default 2) busy-looping `node` processes started here and stopped by
# their pids afterwards. One line per run: passed and failed tests, the time
# taken, the load average, and the names of the tests that failed. Full logs
# stay in a temp dir (printed). Exits 1 if any run had a failure.
set -u

runs=${1:-5}
hogs=${2:-2}
shift $(( $# >= 2 ? 2 : $# ))

root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$root/dist" ]; then
  echo "stress-tests: dist/ is missing; run \`npm run build\` first" >&2
  exit 2
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/trews-stress-XXXXXX")

hog_pids=()
stop_hogs() {
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${hog_pids[@]}"; do wait "$pid" 2>/dev/null; done
  hog_pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 "$hogs"); do
  node -e 'for (;;) {}' &
  hog_pids+=("$!")
done
echo "stress-tests: $runs runs, $hogs CPU hogs (pids ${hog_pids[*]:-none}), logs in $logs"

failed_runs=0
for i in $(seq 1 "$runs"); do
  log="$logs/run-$i.log"
  start=$(date +%s)
  (cd "$root" && node scripts/run-tests.mjs "$@") >"$log" 2>&1
  code=$?
  secs=$(( $(date +%s) - start ))
  pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
  echo "run $i: pass ${pass:-?} fail ${fail:-?} exit $code in ${secs}s (load $load)"
  if [ "$code" -ne 0 ] || [ "${fail:-1}" != 0 ]; then
    failed_runs=$(( failed_runs + 1 ))
    # Subtests that failed, by name (suites that failed only because of them are left out).
    grep -E '^ *not ok [0-9]+ - ' "$log" | sed -E 's/^ *not ok [0-9]+ - /  failed: /'
  fi
done

echo "stress-tests: $(( runs - failed_runs )) of $runs runs passed"
[ "$failed_runs" -eq 0 ]
