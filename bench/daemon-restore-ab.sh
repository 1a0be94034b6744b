#!/bin/bash
# Restores through the daemon, two builds of trews compared in one run
# (bench/README.md, "the restore through the daemon", eighth stop):
#   bash bench/daemon-restore-ab.sh REPO TREWS_A TREWS_B [ROUNDS=3] [RUNS=4]
# REPO is a repo with every package's outputs in dist/ (a generated one:
# dist/bench/ts-peers/generate-ts-repo.js); TREWS_A and TREWS_B are the
# bin/trews of two builds sharing its trews.toml. Each round starts A's daemon,
# then B's (one at a time: `daemon stop` between), with dist/ present, makes
# two untimed restores, then times RUNS restores: `rm -rf packages/*/dist`,
# 1 s, `trews build ::`. Nothing else runs between them (compare
# ts-peers-bench.js, which interleaves Turborepo's restore). Prints one line
# per run, then each build's median.
set -euo pipefail
repo=$1 A=$2 B=$3 rounds=${4:-3} runs=${5:-4}
. "$(dirname "$0")/ab-common.sh"
turn() {
  local which=$1 T=$2 r=$3 i s e
  "$T" build :: >/dev/null 2>&1
  for _ in 1 2; do rm -rf packages/*/dist; "$T" build :: >/dev/null 2>&1; sleep 1; done
  for i in $(seq "$runs"); do
    rm -rf packages/*/dist
    sleep 1
    s=$(date +%s%N)
    "$T" build :: >/dev/null 2>&1
    e=$(date +%s%N)
    echo "$which round=$r run=$i wall_ms=$(ms "$s" "$e") load=$(load1)" | tee -a "$out"
  done
}
each_turn "$rounds" turn
for which in A B; do
  echo "$which: median $(median_of wall_ms "$which" "$out") ms of $((rounds * runs)) restores"
done
