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
out=$(mktemp)
trap 'rm -f "$out"; "$A" daemon stop >/dev/null 2>&1 || true; "$B" daemon stop >/dev/null 2>&1 || true' EXIT
cd "$repo"
ms() { echo $((($2 - $1) / 1000000)); }
restore() {
  rm -rf packages/*/dist
  sleep 1
  local s e
  s=$(date +%s%N)
  "$1" build :: >/dev/null 2>&1
  e=$(date +%s%N)
  ms "$s" "$e"
}
for r in $(seq "$rounds"); do
  for which in A B; do
    T=$A
    [ "$which" = B ] && T=$B
    "$A" daemon stop >/dev/null 2>&1 || true
    "$B" daemon stop >/dev/null 2>&1 || true
    "$T" build :: >/dev/null 2>&1
    "$T" daemon stop >/dev/null 2>&1
    "$T" build :: >/dev/null 2>&1
    first=$(restore "$T")
    second=$(restore "$T")
    "$T" daemon stop >/dev/null 2>&1
    echo "$which round=$r first_restore_ms=$first second_restore_ms=$second load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
  done
done
median() { sort -n | awk '{v[NR]=$1} END {print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for which in A B; do
  f=$(grep "^$which " "$out" | sed 's/.*first_restore_ms=\([0-9]*\).*/\1/' | median)
  s=$(grep "^$which " "$out" | sed 's/.*second_restore_ms=\([0-9]*\).*/\1/' | median)
  echo "$which: median first restore $f ms, second $s ms, of $rounds rounds"
done
