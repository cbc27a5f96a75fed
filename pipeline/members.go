package pipeline

import (
	"context"
	"strings"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// readMembers hands every row of the members master to add (into the person partitions, or
// into a Directory) and notes every insurer it names. A row the reader accepted has valid fields (it checks dates, months and codes).
func (r *run) readMembers(ctx context.Context, add func(*aggregate.Member) error, flush func() error) error {
	for i, f := range r.memberFiles {
		if err := r.readMemberFile(ctx, int32(i), f, add); err != nil {
			return err
		}
	}
	return flush()
}

// readMemberFile hands every row of one members file to add, and counts them.
func (r *run) readMemberFile(ctx context.Context, fi int32, f string, add func(*aggregate.Member) error) error {
	var rows int64
	err := receipt.ReadMembers(ctx, f, func(m receipt.MemberRow, line int64) error {
		rows++
		if _, ok := r.insurers[m.InsurerNo]; !ok {
			r.insurers[strings.Clone(m.InsurerNo)] = struct{}{} // m's strings alias the page
		}
		x, err := memberOf(&m, fi, line)
		if err != nil {
			return &receipt.FileError{File: f, Line: line, Err: err}
		}
		return add(&x)
	})
	if err != nil {
		return err
	}
	r.memberRows[f] = rows
	return nil
}

func memberOf(m *receipt.MemberRow, file int32, line int64) (aggregate.Member, error) {
	x := aggregate.Member{InsurerNo: m.InsurerNo, PersonID: m.PersonID, HouseholdID: m.HouseholdID,
		Sex: m.Sex, To: aggregate.OpenEnd, File: file, Line: line}
	var err error
	if x.Birth, err = rules.ParseDate(m.BirthDate); err != nil {
		return x, err
	}
	if x.From, err = rules.ParseMonth(m.ValidFrom); err != nil {
		return x, err
	}
	if m.ValidTo != "" {
		if x.To, err = rules.ParseMonth(m.ValidTo); err != nil {
			return x, err
		}
	}
	if m.HalfLimitsMonth != "" {
		if x.HalfMonth, err = rules.ParseMonth(m.HalfLimitsMonth); err != nil {
			return x, err
		}
	}
	if x.ClassU70, err = rules.ParseClassU70(m.CategoryU70); err != nil {
		return x, err
	}
	x.Class70, err = rules.ParseClass70(m.Category70)
	return x, err
}

// readHistory routes the prior counting months into the household partitions.
func (r *run) readHistory(ctx context.Context, route *aggregate.HouseholdPart) error {
	for _, f := range r.historyFiles {
		var rows int64
		err := receipt.ReadHistory(ctx, f, func(h receipt.HistoryRow, line int64) error {
			rows++
			m, err := rules.ParseMonth(h.ServiceMonth)
			if err != nil {
				return &receipt.FileError{File: f, Line: line, Err: err}
			}
			return route.History(&aggregate.History{InsurerNo: h.InsurerNo, HouseholdID: h.HouseholdID, Month: m})
		})
		if err != nil {
			return err
		}
		r.historyRows[f] = rows
	}
	return route.Flush()
}
