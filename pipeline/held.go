package pipeline

import (
	"context"
	"fmt"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Held is input held in memory rather than in files: the rows a ledger keeps of the
// households a rerun recomputes. Written to Parquet only for the run to read them back, they
// had cost a 1% correction of the 10M month a second of its five. Each part is read as one
// more receipts or members file, and the history as one more history file, in the order
// given, named after Name and its kind (in the manifest, with its row count and no digest,
// and in rejects and errors). Parts are read at once, as files are: a ledger cuts its rows
// into one part a worker.
type Held struct {
	Name     string
	Receipts []HeldPart[receipt.Row]
	Members  []HeldPart[receipt.MemberRow]
	// History, when set, gives the households' 多数回 history.
	History func(ctx context.Context, fn func(HeldHistory) error) error
}

// HeldPart is a part of the held rows of one kind. Each calls fn with every row in turn; the
// row may be overwritten once fn returns (what is kept is copied).
type HeldPart[T any] struct {
	// Rows is the number of rows Each gives when Exact (a members part is then read as a
	// Parquet file is, into rows reserved for it, and must give that many), an estimate
	// otherwise: the run is planned from it.
	Rows  int64
	Exact bool
	Each  func(ctx context.Context, fn func(*T) error) error
}

// HeldHistory is a household's 多数回 history as a ledger holds it: one month in which it
// counted, or (Months > 0) how many of the 11 months before the run's month counted, as the
// month's own state says: a rerun of a month takes the count from it instead of looking up
// eleven months.
type HeldHistory struct {
	InsurerNo, HouseholdID string
	Month                  rules.Month
	Months                 int32
}

// heldFile is what a held input's name stands for: one part of one kind.
type heldFile struct {
	receipts *HeldPart[receipt.Row]
	members  *HeldPart[receipt.MemberRow]
	history  bool
}

// heldName names part i of n of the held rows of one kind ("receipts", "members" or
// "history"), as the manifest lists it: "ledger month 2025-04 version 1, receipts (part 1 of 2)".
func heldName(h *Held, kind string, i, n int) string {
	if n == 1 {
		return fmt.Sprintf("%s, %s", h.Name, kind)
	}
	return fmt.Sprintf("%s, %s (part %d of %d)", h.Name, kind, i+1, n)
}

// addHeld lists the held input among the files of each kind it gives: its receipts before
// the files (a correction's rows come after the rows it corrects), its members and history
// after them.
func (r *run) addHeld() {
	h := r.Held
	if h == nil {
		return
	}
	r.held = map[string]heldFile{}
	var names []string
	for i := range h.Receipts {
		name := heldName(h, "receipts", i, len(h.Receipts))
		f := r.held[name]
		f.receipts = &h.Receipts[i]
		r.held[name] = f
		names = append(names, name)
	}
	r.receiptFiles = append(names, r.receiptFiles...)
	for i := range h.Members {
		name := heldName(h, "members", i, len(h.Members))
		f := r.held[name]
		f.members = &h.Members[i]
		r.held[name] = f
		r.memberFiles = append(r.memberFiles, name)
	}
	if h.History != nil {
		name := heldName(h, "history", 0, 1)
		f := r.held[name]
		f.history = true
		r.held[name] = f
		r.historyFiles = append(r.historyFiles, name)
	}
}

// isHeld reports whether input file f is held in memory.
func (r *run) isHeld(f string) bool {
	_, ok := r.held[f]
	return ok
}

// heldMembers is the held members part named f, nil if there is none.
func (r *run) heldMembers(f string) *HeldPart[receipt.MemberRow] { return r.held[f].members }

// readHeldReceipts reads the held receipts part f as ReadReceipts reads a file.
func (r *run) readHeldReceipts(ctx context.Context, f string, opt receipt.ReadOptions, emit func(receipt.Batch) error, reject func(receipt.Reject) error) (receipt.ReadStats, error) {
	p := r.held[f].receipts
	return receipt.ReadRows(ctx, f, func(fn func(*receipt.Row) error) error { return p.Each(ctx, fn) }, opt, emit, reject)
}

// readHeldMembers hands the rows of the held members part f to add as a file's rows are
// handed, numbered from 1.
func (r *run) readHeldMembers(ctx context.Context, f string, add func(receipt.MemberRow, int64) error) error {
	line := int64(0)
	return r.heldMembers(f).Each(ctx, func(m *receipt.MemberRow) error {
		line++
		return add(*m, line)
	})
}

// readHeldHistory routes the held history into the household partitions and returns its rows.
func (r *run) readHeldHistory(ctx context.Context, route *aggregate.HouseholdPart) (int64, error) {
	var rows int64
	err := r.Held.History(ctx, func(h HeldHistory) error {
		rows++
		return route.History(&aggregate.History{InsurerNo: h.InsurerNo, HouseholdID: h.HouseholdID, Month: h.Month, Months: h.Months})
	})
	return rows, err
}
