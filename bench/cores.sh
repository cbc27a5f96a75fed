#!/usr/bin/env bash
# The month on one core against the month on two: runs `batch run` with GOMAXPROCS=1, then
# with GOMAXPROCS=2, PAIRS times, one after the other; prints each run's time, peak RSS and
# the time of each stage (members, intake, join, compute, finish, from the stamps of the
# debug log), the ratio of each pair (two / one), and the median ratio. Not part of make test.
#   HOUSEHOLDS=4150000 ./bench/cores.sh          # the 10M month (the default)
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
MONTH=${MONTH:-2025-10}
PAIRS=${PAIRS:-3}
DIR=${BENCH_DIR:-out/bench-$HOUSEHOLDS}
BIN=bin/batch
go build -o $BIN ./cmd/batch
if [ ! -f "$DIR/input/members.parquet" ]; then
  rm -rf "$DIR/input"
  $BIN gen --households "$HOUSEHOLDS" --month "$MONTH" --seed 1 --out "$DIR/input" --log-level warn
fi
in="$DIR/input"
# stages LOG: each stage's seconds, from its "stage" line to the next (or to "run complete").
stages() {
  awk 'BEGIN { n = 0 }
    function secs(line,   t) { match(line, /"time":"[^"]*"/); t = substr(line, RSTART + 19, 12)
      split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    /"msg":"stage"/ { match($0, /"stage":"[^"]*"/); name[n] = substr($0, RSTART + 9, RLENGTH - 10); at[n++] = secs($0) }
    /"msg":"run complete"/ { end = secs($0) }
    END { for (i = 0; i < n; i++) printf "%s %.2f s  ", name[i], (i + 1 < n ? at[i + 1] : end) - at[i] }' "$1"
}
ratios=()
for i in $(seq "$PAIRS"); do
  for procs in 1 2; do
    rm -rf "$DIR/result"
    GOMAXPROCS=$procs /usr/bin/time -f "%e %M" -o "$DIR/cores.time" $BIN run --month "$MONTH" --members "$in/members.parquet" \
      --receipts "$in/receipts/$MONTH" --history "$in/history.parquet" --out "$DIR/result" \
      --log-format json --log-level debug 2> "$DIR/cores-$procs.log" > /dev/null
    read -r t m < "$DIR/cores.time"
    printf 'pair %d, GOMAXPROCS=%d: %6.2f s %6.0f MiB   %s\n' "$i" "$procs" "$t" "$((m / 1024))" "$(stages "$DIR/cores-$procs.log")"
    eval "t$procs=$t"
  done
  r=$(awk -v a="$t2" -v b="$t1" 'BEGIN { printf "%.3f", a / b }')
  ratios+=("$r")
  echo "pair $i: two cores / one = $r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "median two / one over %d pairs: %s\n", NR, a[int((NR + 1) / 2)] }'
