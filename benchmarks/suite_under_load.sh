#!/usr/bin/env bash
# The test suite under load: `CI=true make test` from a fresh clone of this checkout's HEAD as the script
# starts (set-up
# included: a new .venv each time), RUNS times in a row, with two CPU-burner processes beside it for
# the whole time (on 2 cores the suite then gets about half the CPU it would get alone). One line per
# run (exit status, wall time with set-up, pytest's summary line) is appended to OUT.
#   bash benchmarks/suite_under_load.sh [RUNS=5] [OUT=benchmarks/results/suite_under_load.txt]
set -uo pipefail
runs=${1:-5}
out=${2:-benchmarks/results/suite_under_load.txt}
root=$(git rev-parse --show-toplevel)
commit=$(git -C "$root" rev-parse --short HEAD)  # every run tests this commit
python3 -c "while True: pass" & b1=$!
python3 -c "while True: pass" & b2=$!
trap 'kill $b1 $b2 2>/dev/null' EXIT
mkdir -p "$(dirname "$out")"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "# $(date -u '+%F %H:%M') UTC, $cpu, $(nproc) cores, commit $commit, two CPU burners" >> "$out"
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d /tmp/suite_under_load_XXXX)
  git clone -q "$root" "$dir/repo" && git -C "$dir/repo" checkout -q "$commit"
  start=$(date +%s)
  (cd "$dir/repo" && CI=true make test) > "$dir/log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E "[0-9]+ (passed|failed)" "$dir/log" | tail -1)
  echo "run $i: exit $rc, $((secs / 60)) min $((secs % 60)) s with set-up; $summary" | tee -a "$out"
  [ "$rc" = 0 ] || cp "$dir/log" "$out.run$i.log"
  rm -rf "$dir"
done
