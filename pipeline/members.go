package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// The members master is read on every worker: each Parquet file is cut into one range of rows
// per worker (its row count comes from its footer), and worker w reads ranges w, w+n, ...
// into a sink of its own; CSV files, whose rows are not known beforehand, are read whole
// afterwards by worker 0's sink. Every insurer the master names is noted for the join.

// memberRange is a range of rows [from, to) of the Parquet members file of index file,
// whose rows start at base among the rows of all the Parquet members files.
type memberRange struct {
	file     int32
	base     int64
	from, to int64
}

// memberRanges counts the rows of the Parquet members files and cuts each into n ranges. It
// also records each file's row count for the manifest.
func (r *run) memberRanges(n int) (ranges []memberRange, total int64, err error) {
	for i, f := range r.memberFiles {
		if p := r.heldMembers(f); p != nil && p.Exact { // a part: one range
			ranges = append(ranges, memberRange{file: int32(i), base: total, from: 0, to: p.Rows})
			r.memberRows[f] = p.Rows
			total += p.Rows
			continue
		}
		if !isParquet(f) {
			continue
		}
		rows, err := pqcol.NumRows(f)
		if err != nil {
			return nil, 0, &receipt.FileError{File: f, Err: err}
		}
		for w := int64(0); w < int64(n); w++ {
			if from, to := rows*w/int64(n), rows*(w+1)/int64(n); to > from {
				ranges = append(ranges, memberRange{file: int32(i), base: total, from: from, to: to})
			}
		}
		r.memberRows[f] = rows
		total += rows
	}
	return ranges, total, nil
}

// readMembers reads the members master on n workers. add(w) gives worker w's sink, which
// takes a row and its index among the rows of the Parquet files (-1 for a CSV row), and its
// flush, called once every row is in (the CSV files come after the Parquet ranges, so that a
// sink that appends never runs beside sinks that fill reserved rows). With note, the
// master's insurers are noted in r.insurers, which the way of person partitions needs; a
// Directory keeps its own, and noting them twice cost two map look-ups per household. With
// routes, only the columns that route a person are read of a Parquet file (the person
// table's read: the rows are read whole, and checked, again by the intake).
func (r *run) readMembers(ctx context.Context, ranges []memberRange, n int, note, routes bool,
	add func(w int) (sink func(m *aggregate.Member, index int64) error, flush func() error)) error {
	sinks := make([]func(*aggregate.Member, int64) error, n)
	flushes := make([]func() error, n)
	for w := range n {
		sinks[w], flushes[w] = add(w)
	}
	q := &memberQueue{r: r, ranges: ranges, note: note, routes: routes}
	g, gctx := errgroup.WithContext(ctx)
	for w := range n {
		g.Go(guard(func() error { return q.drain(gctx, sinks[w]) }))
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := q.readCSV(ctx, sinks[0]); err != nil {
		return err
	}
	for _, flush := range flushes {
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// memberQueue hands out the ranges of the Parquet members files to whichever reader asks
// next, so that a reader done with other work early takes more of them.
type memberQueue struct {
	r      *run
	ranges []memberRange
	next   atomic.Int64
	note   bool       // note the master's insurers in r.insurers
	routes bool       // read only the Parquet columns that route a person (receipt.ReadMemberRoutes)
	mu     sync.Mutex // over r.insurers
}

// drain reads ranges until none is left, handing each row to sink with its index among the
// rows of the Parquet files.
func (q *memberQueue) drain(ctx context.Context, sink func(*aggregate.Member, int64) error) error {
	insurers := insurerSet(q.note)
	for {
		k := int(q.next.Add(1) - 1)
		if k >= len(q.ranges) {
			break
		}
		t := q.ranges[k]
		f := q.r.memberFiles[t.file]
		read := int64(0)
		add := func(x *aggregate.Member, line int64) error {
			read++
			return sink(x, t.base+line-1)
		}
		var err error
		if q.r.isHeld(f) {
			err = q.r.readHeldMembers(ctx, f, memberSink(f, t.file, insurers, add))
		} else {
			readRange := receipt.ReadMembersParsed
			if q.routes {
				readRange = receipt.ReadMemberRoutes
			}
			err = readRange(ctx, f, t.from, t.to, parsedSink(t.file, insurers, add))
		}
		if err == nil && read != t.to-t.from {
			// Rows reserved from the footer's count must all be filled.
			promised := "the footer promised"
			if q.r.isHeld(f) {
				promised = "the part promised"
			}
			err = &receipt.FileError{File: f, Err: fmt.Errorf("rows %d to %d: read %d rows, %s %d", t.from+1, t.to, read, promised, t.to-t.from)}
		}
		if err != nil {
			return err
		}
	}
	q.noteInsurers(insurers)
	return nil
}

// readCSV reads the CSV members files whole, in order, into sink (with the index -1).
func (q *memberQueue) readCSV(ctx context.Context, sink func(*aggregate.Member, int64) error) error {
	for i, f := range q.r.memberFiles {
		if p := q.r.heldMembers(f); isParquet(f) || (p != nil && p.Exact) {
			continue // read by ranges
		}
		insurers := insurerSet(q.note)
		if err := q.r.readMemberFile(ctx, int32(i), f, insurers, func(m *aggregate.Member) error { return sink(m, -1) }); err != nil {
			return err
		}
		q.noteInsurers(insurers)
	}
	return nil
}

func (q *memberQueue) noteInsurers(insurers map[string]string) {
	q.mu.Lock()
	q.r.noteInsurers(insurers)
	q.mu.Unlock()
}

// readMemberFile hands every row of one members file to add, notes its insurers (unless
// insurers is nil) and counts its rows.
func (r *run) readMemberFile(ctx context.Context, fi int32, f string, insurers map[string]string, add func(*aggregate.Member) error) error {
	var rows int64
	sink := memberSink(f, fi, insurers, func(x *aggregate.Member, _ int64) error {
		rows++
		return add(x)
	})
	var err error
	if r.isHeld(f) {
		err = r.readHeldMembers(ctx, f, sink)
	} else {
		err = receipt.ReadMembers(ctx, f, sink)
	}
	if err != nil {
		return err
	}
	r.memberRows[f] = rows
	return nil
}

// memberSink turns the rows of members file f (index fi) into Members for add, noting their
// insurers unless insurers is nil (each insurer number to its one copy: m's strings alias the
// page); a row that does not parse is a *receipt.FileError at its line.
//
// add is handed the same Member every time, overwritten row by row: it copies what it keeps
// (one allocation a row was a tenth of the master's load). The insurer is looked up only when
// it changes from the row before, which is rare in a master that lists an insurer's members
// together, and costs no copy in one that does not.
func memberSink(f string, fi int32, insurers map[string]string, add func(x *aggregate.Member, line int64) error) func(receipt.MemberRow, int64) error {
	parsed := parsedSink(fi, insurers, add)
	return func(m receipt.MemberRow, line int64) error {
		p, err := receipt.ParseMember(&m)
		if err != nil {
			return &receipt.FileError{File: f, Line: line, Err: err}
		}
		return parsed(&p, line)
	}
}

// parsedSink is memberSink for rows already parsed (receipt.ReadMembersParsed).
func parsedSink(fi int32, insurers map[string]string, add func(x *aggregate.Member, line int64) error) func(*receipt.ParsedMember, int64) error {
	var x aggregate.Member
	last := ""
	return func(m *receipt.ParsedMember, line int64) error {
		if insurers != nil && m.InsurerNo != last {
			c, ok := insurers[m.InsurerNo]
			if !ok {
				c = strings.Clone(m.InsurerNo)
				insurers[c] = c
			}
			last = c
		}
		x = memberOf(m, fi, line)
		return add(&x, line)
	}
}

// insurerSet is an empty set of insurers for a reader to note them in, or nil (none noted)
// unless note.
func insurerSet(note bool) map[string]string {
	if !note {
		return nil
	}
	return map[string]string{}
}

// noteInsurers adds the insurers a reader saw to the run's (none from a nil set).
func (r *run) noteInsurers(insurers map[string]string) {
	for ins := range insurers {
		r.insurers[ins] = struct{}{}
	}
}

// memberOf is the directory's and the partitions' form of a parsed member row of file
// index file.
func memberOf(m *receipt.ParsedMember, file int32, line int64) aggregate.Member {
	x := aggregate.Member{InsurerNo: m.InsurerNo, PersonID: m.PersonID, HouseholdID: m.HouseholdID,
		Birth: m.Birth, Sex: m.Sex, NameKana: m.NameKana, From: m.From, To: m.To, HalfMonth: m.HalfMonth,
		ClassU70: m.ClassU70, Class70: m.Class70, File: file, Line: line}
	if m.To == 0 {
		x.To = aggregate.OpenEnd
	}
	return x
}

// readHistory routes the prior counting months into the household partitions.
func (r *run) readHistory(ctx context.Context, route *aggregate.HouseholdPart) error {
	for _, f := range r.historyFiles {
		if r.isHeld(f) {
			rows, err := r.readHeldHistory(ctx, route)
			if err != nil {
				return err
			}
			r.historyRows[f] = rows
			continue
		}
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
