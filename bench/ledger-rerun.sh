#!/usr/bin/env bash
# Measures, on the 12-month ledger ledger.sh made, the target month's original run and its 1%
# correction rerun one after the other, so that both see the machine in the same state:
#   1. a ledger of the twelve months' first runs (their first layers, hard-linked) and the
#      history they were given;
#   2. the original run of the target month into a ledger of the months before it;
#   3. the rerun of the target month's corrections on the twelve-month ledger.
#   HOUSEHOLDS=4150000 ./bench/ledger-rerun.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
DIR=${BENCH_DIR:-out/bench-ledger-$HOUSEHOLDS}
BIN=bin/batch
go build -o $BIN ./cmd/batch
months=$(ls "$DIR/input/receipts")
target=$(echo "$months" | sed -n 6p)
[ -f "$DIR/corrections-$target.parquet" ] || { echo "run bench/ledger.sh first"; exit 1; }
sha=$(sha256sum "$DIR/input/history.parquet" | cut -d' ' -f1)
rm -rf "$DIR/L1" "$DIR/orig" "$DIR/out-orig-$target" "$DIR/out-rerun-$target"
mkdir -p "$DIR/L1/months" "$DIR/L1/history" "$DIR/orig/months" "$DIR/orig/history"
cp "$DIR/input/history.parquet" "$DIR/L1/history/$sha.parquet"
cp "$DIR/input/history.parquet" "$DIR/orig/history/$sha.parquet"
for m in $months; do
  mkdir -p "$DIR/L1/months/$m"
  cp -al "$DIR/ledger/months/$m/L000001" "$DIR/L1/months/$m/"
  printf '{"month": "%s", "version": 1, "layers": ["L000001"]}\n' "$m" > "$DIR/L1/months/$m/CURRENT"
  [[ "$m" < "$target" ]] && cp -al "$DIR/L1/months/$m" "$DIR/orig/months/"
done
$BIN scan --receipts "$DIR/input/receipts/$target" 2>&1 | grep -v '^{' | tail -1
/usr/bin/time -f "$target original run: %e s, peak RSS %M KiB" $BIN run --month "$target" \
  --members "$DIR/input/members.parquet" --receipts "$DIR/input/receipts/$target" \
  --history "$DIR/input/history.parquet" --ledger "$DIR/orig" --out "$DIR/out-orig-$target" 2>&1 | grep -v '^{' | tail -1
/usr/bin/time -f "$target rerun: %e s, peak RSS %M KiB" $BIN run --month "$target" \
  --receipts "$DIR/corrections-$target.parquet" --ledger "$DIR/L1" --out "$DIR/out-rerun-$target" 2>&1 | grep -v '^{'
