#!/usr/bin/env bash
# A 12-month ledger of a month size, then a 1% correction rerun of one month in its middle:
# prints the time of that month's original run and of the rerun.
#   HOUSEHOLDS=4150000 ./bench/ledger.sh    # about 10 million receipts a month (the default)
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
FIRST=${FIRST:-2024-11}
DIR=${BENCH_DIR:-out/bench-ledger-$HOUSEHOLDS}
BIN=bin/batch
go build -o $BIN ./cmd/batch
go build -o bin/corrections ./bench/corrections
if [ ! -f "$DIR/input/members.parquet" ]; then
  rm -rf "$DIR/input"
  $BIN gen --households "$HOUSEHOLDS" --month "$FIRST" --months 12 --seed 1 --out "$DIR/input"
fi
rm -rf "$DIR/ledger" "$DIR"/out-*
months=$(ls "$DIR/input/receipts")
for m in $months; do
  /usr/bin/time -f "$m first run: %e s, peak RSS %M KiB" $BIN run --month "$m" --members "$DIR/input/members.parquet" \
    --receipts "$DIR/input/receipts/$m" --history "$DIR/input/history.parquet" --ledger "$DIR/ledger" \
    --out "$DIR/out-$m" 2>&1 | grep -E "first run:|^receipts read" | tee -a "$DIR/ledger-runs.txt"
done
target=$(echo "$months" | sed -n 6p)
bin/corrections --every 100 --out "$DIR/corrections-$target.parquet" "$DIR/input/receipts/$target"
/usr/bin/time -f "$target rerun: %e s, peak RSS %M KiB" $BIN run --month "$target" --receipts "$DIR/corrections-$target.parquet" \
  --ledger "$DIR/ledger" --out "$DIR/out-rerun-$target" 2>&1 | grep -v '^{' | tee "$DIR/rerun.txt"
grep "$target first run" "$DIR/ledger-runs.txt"
