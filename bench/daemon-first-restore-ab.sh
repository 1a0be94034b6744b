#!/bin/bash
# A fresh daemon's first restore after it started from the kept graph, two
# builds of trews compared in one run (bench/README.md, ninth stop):
#   bash bench/daemon-first-restore-ab.sh REPO TREWS_A TREWS_B [ROUNDS=3]
# REPO is a built repo with every package's outputs in dist/ (a generated one:
# dist/bench/ts-peers/generate-ts-repo.js); TREWS_A and TREWS_B are the
# bin/trews of two builds sharing its trews.toml. Each round, for A then B:
# a daemon's life that keeps the graph (`build ::`, `daemon stop`), a fresh
# daemon's first run (untimed: it loads the kept graph), then
# `rm -rf packages/*/dist`, 1 s, and the timed `build ::` that restores them,
# then a second restore, timed the same way. Prints one line per round, then
# each build's medians.
set -euo pipefail
repo=$1 A=$2 B=$3 rounds=${4:-3}
. "$(dirname "$0")/ab-common.sh"
restore() {
  rm -rf packages/*/dist
  sleep 1
  local s e
  s=$(date +%s%N)
  "$1" build :: >/dev/null 2>&1
  e=$(date +%s%N)
  ms "$s" "$e"
}
turn() {
  local which=$1 T=$2 r=$3 first second
  "$T" build :: >/dev/null 2>&1
  "$T" daemon stop >/dev/null 2>&1
  "$T" build :: >/dev/null 2>&1
  first=$(restore "$T")
  second=$(restore "$T")
  "$T" daemon stop >/dev/null 2>&1
  echo "$which round=$r first_restore_ms=$first second_restore_ms=$second load=$(load1)" | tee -a "$out"
}
each_turn "$rounds" turn
for which in A B; do
  echo "$which: median first restore $(median_of first_restore_ms "$which" "$out") ms, second $(median_of second_restore_ms "$which" "$out") ms, of $rounds rounds"
done
