#!/usr/bin/env bash
# The cost of corrections on the 12-month ledger bench/ledger.sh made (run that first, with the
# same HOUSEHOLDS), each measured in pairs so that both sides see the machine alike:
#   1. the target month's original run (into a ledger of the months before it) against its 1%
#      correction rerun on the twelve months (their first layers, hard-linked), twice each;
#   2. 1,000 corrected receipts spread over the twelve months, run month by month oldest first
#      with `batch run` (one run per month), end to end; then the same in one `batch correct`;
#   3. reads of a month of 24 layers against the same month compacted: a 0.1% correction of it,
#      and a full read (`batch simulate --month`, which reads every row of the month).
#   HOUSEHOLDS=4150000 ./bench/correct.sh
# SECTIONS=1 runs the first alone (any of 1, 2, 3); PAIRS=N gives it N pairs (2 unless set).
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
DIR=${BENCH_DIR:-out/bench-ledger-$HOUSEHOLDS}
BIN=bin/batch
go build -o $BIN ./cmd/batch
go build -o bin/corrections ./bench/corrections
months=$(ls "$DIR/input/receipts")
target=$(echo "$months" | sed -n 6p)
[ -d "$DIR/ledger/months/$target" ] || { echo "run bench/ledger.sh first"; exit 1; }
sha=$(sha256sum "$DIR/input/history.parquet" | cut -d' ' -f1)
secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }

# fresh NAME [BEFORE]: a ledger of the first layers of the months (those before BEFORE only).
fresh() {
  rm -rf "$DIR/$1"
  mkdir -p "$DIR/$1/months" "$DIR/$1/history"
  cp "$DIR/input/history.parquet" "$DIR/$1/history/$sha.parquet"
  [ -d "$DIR/ledger/history/index" ] && cp -a "$DIR/ledger/history/index" "$DIR/$1/history/"   # as the ledger keeps it
  for m in $months; do
    [ -n "${2:-}" ] && [[ ! "$m" < "$2" ]] && continue
    mkdir -p "$DIR/$1/months/$m"
    cp -al "$DIR/ledger/months/$m/L000001" "$DIR/$1/months/$m/"
    printf '{"month": "%s", "version": 1, "layers": ["L000001"]}\n' "$m" >"$DIR/$1/months/$m/CURRENT"
  done
}

SECTIONS=${SECTIONS:-123}
PAIRS=${PAIRS:-2}
if [[ $SECTIONS == *1* ]]; then
echo "== 1. the original run of $target and its 1% correction, in pairs"
[ -f "$DIR/corrections-$target.parquet" ] ||
  bin/corrections --every 100 --out "$DIR/corrections-$target.parquet" "$DIR/input/receipts/$target"
for pair in $(seq 1 "$PAIRS"); do
  fresh orig "$target"
  rm -rf "$DIR/out-orig"
  o=$(secs $BIN run --month "$target" --members "$DIR/input/members.parquet" --receipts "$DIR/input/receipts/$target" \
    --history "$DIR/input/history.parquet" --ledger "$DIR/orig" --out "$DIR/out-orig")
  fresh L1
  rm -rf "$DIR/out-rerun"
  r=$(secs $BIN run --month "$target" --receipts "$DIR/corrections-$target.parquet" --ledger "$DIR/L1" --out "$DIR/out-rerun")
  echo "pair $pair: original run $o s, 1% correction $r s, ratio $(echo "scale=3; $r / $o" | bc)"
done

fi

if [[ $SECTIONS == *2* ]]; then
echo "== 2. 1,000 corrected receipts over the twelve months, one run per month"
fresh L1
total=0
for m in $months; do
  bin/corrections --every $((HOUSEHOLDS * 24 / 10 / 83 + 1)) --offset 7 --out "$DIR/spread-$m.parquet" "$DIR/input/receipts/$m" | tail -1
done
start=$(date +%s.%N)
for m in $months; do
  rm -rf "$DIR/out-spread-$m"
  $BIN run --month "$m" --receipts "$DIR/spread-$m.parquet" --ledger "$DIR/L1" --out "$DIR/out-spread-$m" >/dev/null 2>&1
done
echo "12 months' corrections, end to end: $(echo "$(date +%s.%N) - $start" | bc) s"
echo "== 2b. the same corrections in one batch correct"
fresh L1
rm -rf "$DIR/out-correct"
spread=()
for m in $months; do spread+=(--receipts "$DIR/spread-$m.parquet"); done
echo "12 months' corrections, one batch correct, end to end: $(secs $BIN correct --ledger "$DIR/L1" "${spread[@]}" --out "$DIR/out-correct") s"

fi

if [[ $SECTIONS == *3* ]]; then
echo "== 3. a month of 24 layers against the same month compacted"
fresh L24
for k in $(seq 1 23); do
  [ -f "$DIR/small-$k.parquet" ] ||
    bin/corrections --every 1000 --offset $((k * 37 % 1000)) --out "$DIR/small-$k.parquet" "$DIR/input/receipts/$target" >/dev/null
  rm -rf "$DIR/out-l24"
  BATCH_COMPACT_AFTER=100 $BIN run --month "$target" --receipts "$DIR/small-$k.parquet" --ledger "$DIR/L24" --out "$DIR/out-l24" >/dev/null 2>&1
done
layers=$(grep -c '"L' "$DIR/L24/months/$target/CURRENT")
rm -rf "$DIR/L24c"
cp -al "$DIR/L24" "$DIR/L24c"
rm -f "$DIR/L24c/LOCK"
echo "compact: $(secs $BIN compact --ledger "$DIR/L24c" --month "$target") s"
[ -f "$DIR/small-24.parquet" ] ||
  bin/corrections --every 1000 --offset 500 --out "$DIR/small-24.parquet" "$DIR/input/receipts/$target" >/dev/null
for pair in 1 2; do
  for L in L24 L24c; do
    rm -rf "$DIR/$L-x" "$DIR/out-read"
    cp -al "$DIR/$L" "$DIR/$L-x"
    rm -f "$DIR/$L-x/LOCK"
    r=$(secs env BATCH_COMPACT_AFTER=100 $BIN run --month "$target" --receipts "$DIR/small-24.parquet" --ledger "$DIR/$L-x" --out "$DIR/out-read")
    rm -rf "$DIR/out-read"
    s=$(secs $BIN simulate --ledger "$DIR/$L" --month "$target" --scenario +0% --out "$DIR/out-read")
    echo "pair $pair: $L ($(grep -c '"L' "$DIR/$L/months/$target/CURRENT") layers): 0.1% correction $r s, full read (simulate) $s s"
  done
done
echo "($layers layers before compaction)"
fi
