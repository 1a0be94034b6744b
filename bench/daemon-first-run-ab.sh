#!/bin/bash
# A fresh daemon's first run, two builds of trews compared in one run
# (bench/README.md, "a daemon's first run", ninth stop):
#   bash bench/daemon-first-run-ab.sh REPO TREWS_A TREWS_B [ROUNDS=4]
# REPO is a built repo whose outputs are in place (a generated one:
# dist/bench/ts-peers/generate-ts-repo.js, after one `trews build ::`);
# TREWS_A and TREWS_B are the bin/trews of two builds sharing its trews.toml.
# Each round, for A then B: `daemon stop` (both builds' daemons), then times
# `trews build ::` — the daemon's start and its first, fully cached run —
# then times the `daemon stop` after it (a daemon that keeps its graph
# writes it then). Prints one line per run, then each build's medians.
set -euo pipefail
repo=$1 A=$2 B=$3 rounds=${4:-4}
out=$(mktemp)
trap 'rm -f "$out"; "$A" daemon stop >/dev/null 2>&1 || true; "$B" daemon stop >/dev/null 2>&1 || true' EXIT
cd "$repo"
ms() { echo $((($2 - $1) / 1000000)); }
# One untimed life of each, so that a build that keeps its graph has kept one.
for T in "$A" "$B"; do
  "$A" daemon stop >/dev/null 2>&1 || true
  "$B" daemon stop >/dev/null 2>&1 || true
  "$T" build :: >/dev/null 2>&1
  "$T" daemon stop >/dev/null 2>&1
done
for r in $(seq "$rounds"); do
  for which in A B; do
    T=$A
    [ "$which" = B ] && T=$B
    "$A" daemon stop >/dev/null 2>&1 || true
    "$B" daemon stop >/dev/null 2>&1 || true
    s=$(date +%s%N)
    "$T" build :: >/dev/null 2>&1
    e=$(date +%s%N)
    "$T" daemon stop >/dev/null 2>&1
    f=$(date +%s%N)
    echo "$which round=$r first_run_ms=$(ms "$s" "$e") stop_ms=$(ms "$e" "$f") load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
  done
done
median() { sort -n | awk '{v[NR]=$1} END {print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for which in A B; do
  run=$(grep "^$which " "$out" | sed 's/.*first_run_ms=\([0-9]*\).*/\1/' | median)
  stop=$(grep "^$which " "$out" | sed 's/.*stop_ms=\([0-9]*\).*/\1/' | median)
  echo "$which: median first run $run ms, daemon stop $stop ms, of $rounds rounds"
done
