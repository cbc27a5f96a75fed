#!/usr/bin/env bash
# The batch against its peer, the same month's rules in DuckDB SQL (bench/peer/duckdb_month.mjs,
# two threads), on the same files, one after the other, PAIRS times; prints each run's time and
# peak RSS, the ratio of each pair, and the median ratio. Only ratios measured side by side mean
# anything on a machine whose speed drifts from minute to minute. Not part of make test.
#   HOUSEHOLDS=4150000 ./bench/peer.sh     # the 10M month (the default)
#   HOUSEHOLDS=800000 SEED=7 ./bench/peer.sh
# The peer's npm package (@duckdb/node-api) is installed into a temporary directory, once.
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
SEED=${SEED:-1}
MONTH=${MONTH:-2025-10}
PAIRS=${PAIRS:-3}
DIR=${BENCH_DIR:-out/bench-$HOUSEHOLDS-s$SEED}
BIN=bin/batch
go build -o $BIN ./cmd/batch
if [ ! -f "$DIR/input/members.parquet" ]; then
  rm -rf "$DIR/input"
  $BIN gen --households "$HOUSEHOLDS" --month "$MONTH" --seed "$SEED" --out "$DIR/input" --log-level warn
fi
PEER=${PEER_DIR:-out/peer-node}
if [ ! -d "$PEER/node_modules/@duckdb/node-api" ]; then
  mkdir -p "$PEER"
  cp bench/peer/duckdb_month.mjs bench/peer/package.json "$PEER/"
  (cd "$PEER" && npm install --silent --no-audit --no-fund)
fi
in="$DIR/input"
ratios=()
for i in $(seq "$PAIRS"); do
  rm -rf "$DIR/result" "$DIR/peer.parquet"
  /usr/bin/time -f "%e %M" -o "$DIR/batch.time" $BIN run --month "$MONTH" --members "$in/members.parquet" \
    --receipts "$in/receipts/$MONTH" --history "$in/history.parquet" --out "$DIR/result" --log-level warn > "$DIR/batch.txt"
  /usr/bin/time -f "%e %M" -o "$DIR/peer.time" node "$PEER/duckdb_month.mjs" "$MONTH" "$in/receipts/$MONTH" \
    "$in/members.parquet" "$in/history.parquet" "$DIR/peer.parquet" 2 > "$DIR/peer.txt"
  read -r bt bm < "$DIR/batch.time"
  read -r pt pm < "$DIR/peer.time"
  r=$(awk -v b="$bt" -v p="$pt" 'BEGIN { printf "%.3f", b / p }')
  ratios+=("$r")
  printf 'pair %d: batch %6.2f s %6.0f MiB   duckdb %6.2f s %6.0f MiB   batch/duckdb %s\n' \
    "$i" "$bt" "$((bm / 1024))" "$pt" "$((pm / 1024))" "$r"
done
grep -E '^(receipts read|households|benefit cash)' "$DIR/batch.txt" || true
echo "duckdb: $(cat "$DIR/peer.txt")"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "median batch/duckdb over %d pairs: %s\n", NR, a[int((NR + 1) / 2)] }'
