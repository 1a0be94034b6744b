#!/bin/bash
# A fresh daemon's first run, two builds of trews compared in one run
# (bench/README.md, "a daemon's first run", ninth stop):
#   bash bench/daemon-first-run-ab.sh REPO TREWS_A TREWS_B [ROUNDS=4]
# REPO is a built repo whose outputs are in place (a generated one:
# dist/bench/ts-peers/generate-ts-repo.js, after one `trews build ::`);
# TREWS_A and TREWS_B are the bin/trews of two builds sharing its trews.toml.
# Each round, for A then B: `daemon stop` (both builds' daemons), an untimed
# life of the build's daemon (`build ::`, `daemon stop`: one that keeps its
# graph writes it then), then times `trews build ::` — a fresh daemon's start
# and its first, fully cached run — and the `daemon stop` after it. Prints
# one line per run, then each build's medians.
set -euo pipefail
repo=$1 A=$2 B=$3 rounds=${4:-4}
. "$(dirname "$0")/ab-common.sh"
turn() {
  local which=$1 T=$2 r=$3 s e f
  # An untimed life first: the two builds share .trews.d/graph, and each discards the other's.
  "$T" build :: >/dev/null 2>&1
  "$T" daemon stop >/dev/null 2>&1
  s=$(date +%s%N)
  "$T" build :: >/dev/null 2>&1
  e=$(date +%s%N)
  "$T" daemon stop >/dev/null 2>&1
  f=$(date +%s%N)
  echo "$which round=$r first_run_ms=$(ms "$s" "$e") stop_ms=$(ms "$e" "$f") load=$(load1)" | tee -a "$out"
}
each_turn "$rounds" turn
for which in A B; do
  echo "$which: median first run $(median_of first_run_ms "$which" "$out") ms, daemon stop $(median_of stop_ms "$which" "$out") ms, of $rounds rounds"
done
