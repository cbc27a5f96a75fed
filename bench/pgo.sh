#!/usr/bin/env bash
# Regenerates cmd/batch/default.pgo, the CPU profile `go build` uses for profile-guided
# optimization of the batch: a run of the 10M month (made by bench/run.sh if missing).
# Run it after changes that move the hot paths; commit the profile with them.
set -euo pipefail
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-4150000}
MONTH=${MONTH:-2025-10}
DIR=${BENCH_DIR:-out/bench-$HOUSEHOLDS}
go build -o bin/batch ./cmd/batch
if [ ! -f "$DIR/input/members.parquet" ]; then
  bin/batch gen --households "$HOUSEHOLDS" --month "$MONTH" --seed 1 --out "$DIR/input"
fi
rm -rf "$DIR/result"
bin/batch run --month "$MONTH" --members "$DIR/input/members.parquet" --receipts "$DIR/input/receipts/$MONTH" \
  --history "$DIR/input/history.parquet" --out "$DIR/result" --cpuprofile cmd/batch/default.pgo 2>&1 | grep -v '^{'
go build -o bin/batch ./cmd/batch
