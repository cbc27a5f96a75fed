#!/usr/bin/env bash
# End-to-end benchmark of one month: generate, scan (decode only), run; print receipts/s,
# peak RSS, the run's CPU time and the ratio of the run's time to the scan's. (The CPU time
# says more than the time on a machine whose speed changes from minute to minute: compare
# binaries one after the other.)
#   HOUSEHOLDS=4150000 ./bench/run.sh      # about 10 million receipts (the default)
#   HOUSEHOLDS=41500000 ./bench/run.sh     # about 100 million receipts
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
  --receipts "$DIR/input/receipts/$MONTH" --history "$DIR/input/history.parquet" --out "$DIR/result" 2>&1 \
  | grep -v '^{' | tee "$DIR/run.txt"
scan=$(sed -n 's/^scan: \([0-9.]*\) s.*/\1/p' "$DIR/scan.txt")
run=$(sed -n 's/^run: \([0-9.]*\) s.*/\1/p' "$DIR/run.txt")
receipts=$(sed -n 's/^receipts read *\([0-9,]*\).*/\1/p' "$DIR/run.txt" | tr -d ,)
awk -v n="$receipts" -v r="$run" -v s="$scan" 'BEGIN {
  printf "receipts %d: run %.1f s = %.0f receipts/s end to end; scan %.1f s; run/scan %.2f\n", n, r, n/r, s, r/s }'
