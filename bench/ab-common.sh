# Shared by the daemon A/B scripts of bench/ (sourced, not run): two builds of
# trews, A and B, timed in turns on one repo. Set repo, A and B, then source
# this: it makes $out (each turn's lines, for the medians), stops both
# daemons on exit, and enters $repo.

# Stops both builds' daemons (one daemon per root: a turn must start its own).
stop_daemons() {
  "$A" daemon stop >/dev/null 2>&1 || true
  "$B" daemon stop >/dev/null 2>&1 || true
}

# The bin/trews of build $1 (A or B).
build_of() {
  if [ "$1" = B ]; then echo "$B"; else echo "$A"; fi
}

# Milliseconds between two `date +%s%N` readings.
ms() { echo $((($2 - $1) / 1000000)); }

# The 1-minute load average, for each line a script prints.
load1() { cut -d' ' -f1 /proc/loadavg; }

# The median of the numbers on standard input, one per line.
median() { sort -n | awk '{v[NR]=$1} END {print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

# The median of FIELD (a `name=<ms>` in each line) over build $2's lines of file $3.
median_of() { grep "^$2 " "$3" | sed "s/.*$1=\([0-9]*\).*/\1/" | median; }

# Runs `turn WHICH TREWS ROUND` ROUNDS times for A then B, each with both daemons stopped first.
each_turn() {
  local rounds=$1 turn=$2 r which
  for r in $(seq "$rounds"); do
    for which in A B; do
      stop_daemons
      "$turn" "$which" "$(build_of "$which")" "$r"
    done
  done
}

out=$(mktemp)
trap 'rm -f "$out"; stop_daemons' EXIT
cd "$repo"
