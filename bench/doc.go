// Package bench holds the project's benchmarks that need a generated month (run.sh and
// ledger.sh drive the command on large ones; RESULTS.md records what they measured).
package bench
