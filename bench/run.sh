#!/usr/bin/env bash
# End-to-end benchmark of one month: generate, scan (decode only), run; print receipts/s,
# peak RSS, the run's CPU time, each stage's share of the run, the bytes spilled and the ratio
# of the run's time to the scan's. (The CPU time
# says more than the time on a machine whose speed changes from minute to minute: compare
# binaries one after the other.)
#   HOUSEHOLDS=4150000 ./bench/run.sh      # about 10 million receipts (the default)
#   HOUSEHOLDS=41500000 ./bench/run.sh     # about 100 million receipts
#   HOUSEHOLDS=83000000 MEMORY=4294967296 ./bench/run.sh
#                                          # about 200 million receipts (inputs 5.9 GB: out/ stays out
#                                          # of git), with the 4 GiB its person table needs (2 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
MONTH=${MONTH:-2025-10}
DIR=${BENCH_DIR:-out/bench-$HOUSEHOLDS}
BIN=bin/batch
[ -x $BIN ] || go build -o $BIN ./cmd/batch
if [ ! -f "$DIR/input/members.parquet" ]; then
  rm -rf "$DIR/input"
  $BIN gen --households "$HOUSEHOLDS" --month "$MONTH" --seed 1 --out "$DIR/input"
fi
du -sh "$DIR/input"/*
echo "== decode-only scan"
/usr/bin/time -f "scan: %e s, peak RSS %M KiB" $BIN scan --receipts "$DIR/input/receipts/$MONTH" 2>&1 | tee "$DIR/scan.txt"
echo "== run"
rm -rf "$DIR/result"
/usr/bin/time -f "run: %e s, peak RSS %M KiB, CPU %U s user %S s system" $BIN run --month "$MONTH" --members "$DIR/input/members.parquet" \
  --receipts "$DIR/input/receipts/$MONTH" --history "$DIR/input/history.parquet" --out "$DIR/result" \
  ${MEMORY:+--memory "$MEMORY"} --log-format json --log-level debug 2>&1 | tee "$DIR/run.log" | grep -v '^{' | tee "$DIR/run.txt"
# Each stage's share of the run (from the stamps of its "stage" log lines to the end) and the
# bytes the spills wrote.
awk 'BEGIN { n = 0 }
  function secs(line,   t) { match(line, /"time":"[^"]*"/); t = substr(line, RSTART + 19, 12)
    split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
  /"msg":"stage"/ { match($0, /"stage":"[^"]*"/); name[n] = substr($0, RSTART + 9, RLENGTH - 10); at[n++] = secs($0) }
  /"msg":"run complete"/ { end = secs($0) }
  /spilled_bytes/ { match($0, /spilled_bytes":[0-9]+/); spilled += substr($0, RSTART + 15, RLENGTH - 15) }
  END { if (n == 0 || end == 0) exit
    total = end - at[0]
    for (i = 0; i < n; i++) { d = (i + 1 < n ? at[i + 1] : end) - at[i]
      printf "stage %-8s %7.2f s  %5.1f%%\n", name[i], d, 100 * d / total }
    printf "spilled %.2f GB\n", spilled / 1e9 }' "$DIR/run.log" | tee -a "$DIR/run.txt"
scan=$(sed -n 's/^scan: \([0-9.]*\) s.*/\1/p' "$DIR/scan.txt")
run=$(sed -n 's/^run: \([0-9.]*\) s.*/\1/p' "$DIR/run.txt")
receipts=$(sed -n 's/^receipts read *\([0-9,]*\).*/\1/p' "$DIR/run.txt" | tr -d ,)
awk -v n="$receipts" -v r="$run" -v s="$scan" 'BEGIN {
  printf "receipts %d: run %.1f s = %.0f receipts/s end to end; scan %.1f s; run/scan %.2f\n", n, r, n/r, s, r/s }'
