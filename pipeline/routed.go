package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kougaku/batch/aggregate"
)

// The way of routed partitions, for a members master too large for a Directory: the master
// is read once into an aggregate.PersonTable (where each person's records go), then the
// receipts and, read a second time, the member rows are routed by it straight into the
// household partitions, and each partition is joined in the household pass itself
// (aggregate.RoutedJoin). A receipt is spilled once, where the way of person partitions
// spilled it twice (by person, then by household).
//
// Reading the master twice costs less than the second spill did once that spill leaves the
// page cache: the 100M month took 209.5 s against 223.9, the 200M month 710 s against
// 1,068 (bench/RESULTS.md, 2026-12-07). A month whose spill stays in memory gains nothing:
// the 10M month on a 600 MB budget took 23.7 s against 22.2.

// tableShare is the part of the memory budget a person table may take while it is built:
// nothing else is held then but the members readers' pages.
const tableShare = 0.75

// personTable reads the members master into a sealed person table for parts partitions, or
// returns nil when the run is to take the way of person partitions: told so
// (Config.Unrouted), a table too large for the budget, too many partitions, or two persons
// that share a hash.
func (r *run) personTable(ctx context.Context, parts int) (*aggregate.PersonTable, error) {
	if r.Unrouted || parts > aggregate.MaxTableParts {
		return nil, nil
	}
	readers := min(r.workers, aggregate.MaxShards)
	ranges, total, err := r.memberRanges(readers)
	if err != nil {
		return nil, err
	}
	need := aggregate.PersonTableBytes(max(total, r.memberRowsEstimate))
	if float64(need) > tableShare*float64(r.MemoryBudget) {
		r.log.Info("person table too large for the budget: person partitions", "member_rows", total, "table_bytes", need)
		return nil, nil
	}
	r.tableBudget = int64(float64(need) / tableShare)
	r.stage("members")
	t0 := time.Now()
	t, err := aggregate.NewPersonTable(r.month, parts, int(total))
	if err != nil {
		return nil, err
	}
	err = r.readMembers(ctx, ranges, readers, true, true, func(int) (func(*aggregate.Member, int64) error, func() error) {
		return func(m *aggregate.Member, index int64) error {
			if index < 0 {
				t.Add(m)
			} else {
				t.Set(int(index), m)
			}
			return nil
		}, func() error { return nil }
	})
	if err != nil {
		return nil, err
	}
	read := time.Since(t0)
	if err := t.Seal(r.workers); err != nil {
		if errors.Is(err, aggregate.ErrTableCollision) {
			r.log.Warn("two persons of the members master share a hash: the run takes the way of person partitions")
			return nil, nil
		}
		return nil, err
	}
	r.log.Info("person table sealed", "member_rows", total, "persons", t.Persons(), "table_bytes", t.Bytes(),
		"read_seconds", read.Seconds(), "seconds", time.Since(t0).Seconds())
	return t, nil
}

// routedWay is the spills of the way of routed partitions: routed holds each partition's
// receipts and member rows, side (the run's household spill) what is already meant for the
// household pass.
type routedWay struct {
	routed, side *aggregate.Spill
	opts         aggregate.RoutedOptions
}

// joinRouted routes the receipts and member rows through t (the intake), then resolves the
// receipts set aside; the join of each partition is the household pass's (readPart).
func (r *run) joinRouted(ctx context.Context, t *aggregate.PersonTable, way *routedWay) error {
	r.stage("intake")
	if err := r.intakeRouted(ctx, t, way); err != nil {
		return err
	}
	r.log.Info("intake done", "receipts_read", r.read.rows.Load(), "rejected", int64(len(r.rejects.rows))+r.joinRefusals,
		"rejected_at_intake", len(r.rejects.rows), "refused_by_join", r.joinRefusals, "set_aside", r.unresolved.Len())
	if r.unresolved.Len() > 0 {
		way.routed.KeepOnRead() // read once for the member rows, again in the household pass
		r.stage("resolve")
		if err := r.resolveByPartitions(ctx, way.routed, way.side); err != nil {
			return err
		}
	}
	way.opts = aggregate.RoutedOptions{Month: r.month, KnownInsurer: r.knownInsurer, HalfDecided: r.MembersDecided,
		Files: r.memberFiles, KeepMembers: r.KeepMembers, Resolved: aggregate.ResolvedHouseholds(r.resolved)}
	return nil
}

// knownInsurer tells whether the members master (or the caller, Config.KnownInsurers) knows
// the insurer; read once the master's insurers are noted.
func (r *run) knownInsurer(ins string) bool { _, ok := r.insurers[ins]; return ok }

// intakeRouted reads the receipts and the member rows into the routed spill (intake), and
// the history into the side spill.
func (r *run) intakeRouted(ctx context.Context, t *aggregate.PersonTable, way *routedWay) error {
	routers := make([]*aggregate.Router, r.workers+1)
	routes := make([]intakeRouter, len(routers))
	for w := range routers {
		routers[w] = aggregate.NewRouter(t, way.routed, way.side, w, r.knownInsurer, r.unresolved)
		routes[w] = routers[w]
	}
	history := func(ctx context.Context) error { return r.readHistory(ctx, r.householdPart(way.side, r.workers+1)) }
	err := r.intake(ctx, routes, false, history) // the insurers were noted by the table's read
	for _, rt := range routers {
		r.joinRefusals += rt.Refusals()
	}
	return err
}

// readPart joins partition q for the household pass, into res's memory: its records are in
// res.scratch, and the Part returned is the side spill's, which the pass decodes after them.
func (r *run) readPart(way *routedWay) func(res *partResult, q int) (aggregate.Part, error) {
	return func(res *partResult, q int) (aggregate.Part, error) {
		part, st, err := res.routed.Join(way.routed, way.side, q, &way.opts, &res.scratch)
		if err != nil {
			if errors.Is(err, aggregate.ErrMisrouted) {
				return part, &misroutedError{err, r.tableBudget}
			}
			return part, err
		}
		r.membersConflicting.Add(st.Conflicting)
		r.routedRefusals.Add(st.Refused)
		return part, nil
	}
}

// misroutedError is a routed partition's refusal (aggregate.ErrMisrouted), with what the
// operator can do about it.
type misroutedError struct {
	err    error
	budget int64 // the least --memory that builds a person table
}

func (e *misroutedError) Error() string {
	return fmt.Sprintf("%v (the person table sent a record to a partition that does not hold its person: an input file changed during the run, or two ids share a 64-bit hash; nothing was written. If the inputs did not change, a run with --memory below %d takes the way of person partitions, which has no person table)", e.err, e.budget)
}

func (e *misroutedError) Unwrap() error { return e.err }
