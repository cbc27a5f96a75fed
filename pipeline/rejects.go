package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// rejectSet collects the rejects of every stage. They are written at the end in the order of
// their source (file, then line), so the rejects file is the same whatever the scheduling.
type rejectSet struct {
	mu       sync.Mutex
	files    []string
	rows     []rejectRow
	byReason map[string]int64
	paid     int64 // Σ rules.CountedPaid of the rejects
	overflow error // the sum of paid would have wrapped: the run fails (finish)
}

type rejectRow struct {
	file int32
	line int64
	receipt.Reject
}

func newRejectSet(files []string) *rejectSet {
	return &rejectSet{files: files, byReason: map[string]int64{}}
}

// add records a reject of input file index file at line (row number for Parquet). Every
// reject of a run comes through here, so here its text is cut (receipt.Reject.Cut).
func (s *rejectSet) add(file int32, line int64, r receipt.Reject) {
	if r.Source == "" {
		r.Source = s.source(file, line)
	}
	r = r.Cut()
	s.mu.Lock()
	s.rows = append(s.rows, rejectRow{file: file, line: line, Reject: r})
	s.byReason[r.Reason]++
	if sum, ok := rules.AddYen(s.paid, rules.CountedPaid(r.Paid)); ok {
		s.paid = sum
	} else if s.overflow == nil {
		s.overflow = overflowError("paid rejected")
	}
	s.mu.Unlock()
}

// receipt records a reject of a receipt already read. Every string is copied: ids, reason
// and detail may alias a partition's buffer (a refusal's reason and detail come through the
// household partitions), which a kept reference would hold in memory to the end of the run:
// the 100M month grew to 10 GB when the details were not copied.
func (s *rejectSet) receipt(r *aggregate.Receipt, reason, detail string) {
	s.add(r.File, r.Line, receipt.Reject{ReceiptID: strings.Clone(r.ID), InsurerNo: strings.Clone(r.InsurerNo),
		PersonID: strings.Clone(r.PersonID), Reason: strings.Clone(reason), Detail: strings.Clone(detail), Paid: r.Paid})
}

func (s *rejectSet) source(file int32, line int64) string {
	name := s.files[file]
	if isParquet(name) {
		return fmt.Sprintf("%s:row %d", name, line)
	}
	return fmt.Sprintf("%s:%d", name, line)
}

// sorted returns the rejects in source order.
func (s *rejectSet) sorted() []receipt.Reject {
	slices.SortStableFunc(s.rows, func(a, b rejectRow) int {
		return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line), cmp.Compare(a.ReceiptID, b.ReceiptID))
	})
	out := make([]receipt.Reject, len(s.rows))
	for i := range s.rows {
		out[i] = s.rows[i].Reject
	}
	return out
}
