# The two commands a newcomer needs: `make run` and `make test`.
GO        ?= go
BIN       := bin/batch
MONTH     ?= 2025-10
HOUSEHOLDS ?= 20000
SEED      ?= 1
RUNDIR    := out/run

.PHONY: build run test vet fuzz bench pgo clean

# go build uses cmd/batch/default.pgo, a CPU profile of the 10M month, for profile-guided
# optimization (2-3% less CPU on that month); `make pgo` makes it again.
build:
	$(GO) build -o $(BIN) ./cmd/batch

# Builds, makes a small synthetic month, runs the batch on it and prints the summary.
run: build
	rm -rf $(RUNDIR)
	$(BIN) gen --households $(HOUSEHOLDS) --month $(MONTH) --seed $(SEED) --out $(RUNDIR)/input
	$(BIN) run --month $(MONTH) --members $(RUNDIR)/input/members.parquet \
		--receipts $(RUNDIR)/input/receipts/$(MONTH) --history $(RUNDIR)/input/history.parquet \
		--out $(RUNDIR)/result

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# The fuzz budgets of make test are counts of runs, not durations: with a duration, Go 1.26's
# fuzz coordinator can fail a target at the deadline without any finding (golang/go#75804,
# fixed in Go 1.27). Each is some ten seconds on the 2-core machine.
test: vet
	$(GO) test -count=1 ./...
	# The race detector, and with it checkptr's checks of unsafe pointer arithmetic, over the
	# packages of the workers and of unsafe (short tests: about five minutes on the 2-core machine,
	# output 166-182 s and pipeline 134-138 s in two runs of 2026-12-07).
	$(GO) test -count=1 -race -short ./aggregate ./output ./pipeline
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzReadUKE$$' -fuzztime 25000x -fuzzminimizetime 500x
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzReadReceiptsCSV$$' -fuzztime 40000x -fuzzminimizetime 500x
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzBulkReadsMatchRows$$' -fuzztime 1500x -fuzzminimizetime 200x
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzMemberFields$$' -fuzztime 30000x -fuzzminimizetime 500x
	$(GO) test ./pqcol -run '^$$' -fuzz '^FuzzScan$$' -fuzztime 5000x -fuzzminimizetime 200x
	$(GO) test ./aggregate -run '^$$' -fuzz '^FuzzSpillRecords$$' -fuzztime 20000x -fuzzminimizetime 200x
	$(GO) test ./aggregate -run '^$$' -fuzz '^FuzzPack$$' -fuzztime 10000x -fuzzminimizetime 200x
	$(GO) test ./ledger -run '^$$' -fuzz '^FuzzBlockReader$$' -fuzztime 20000x -fuzzminimizetime 200x

# Longer fuzzing of every parser (make test runs each target for a fixed count of inputs).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzReadUKE$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzReadReceiptsCSV$$' -fuzztime $(FUZZTIME)
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzBulkReadsMatchRows$$' -fuzztime $(FUZZTIME)
	$(GO) test ./receipt -run '^$$' -fuzz '^FuzzMemberFields$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pqcol -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./aggregate -run '^$$' -fuzz '^FuzzSpillRecords$$' -fuzztime $(FUZZTIME)
	$(GO) test ./aggregate -run '^$$' -fuzz '^FuzzPack$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ledger -run '^$$' -fuzz '^FuzzBlockReader$$' -fuzztime $(FUZZTIME)

# Benchmarks: the rules alone, then the batch end to end on a generated month.
bench: build
	$(GO) test ./rules -run '^$$' -bench . -benchmem
	./bench/run.sh

# Regenerates cmd/batch/default.pgo from a run of the 10M month (see bench/pgo.sh).
pgo:
	./bench/pgo.sh

clean:
	rm -rf bin out
