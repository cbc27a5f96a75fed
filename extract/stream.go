package extract

import (
	"context"
	"fmt"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
)

// follower streams one file of a ledger month beside its household rows, a household at a
// time. It needs no map because the ledger keeps a month's files in one household order: a
// run writes every file household by household in the same order, and a Version reads every
// file's layers newest first hiding the same households, so the rows of each household come
// in one run, in the order of the household rows. next checks that as it goes.
type follower[T any] struct {
	what  string
	key   func(*T) ledger.HouseholdKey
	ch    chan []T
	err   error // set before ch is closed
	buf   []T
	pos   int
	group []T
}

const followBatch = 2048

// follow starts reading with scan (a Version method) on its own goroutine, which stops when
// ctx is cancelled: cancel it when the follower is abandoned.
func follow[T any](ctx context.Context, what string, scan func(func(*T) error) error, key func(*T) ledger.HouseholdKey) *follower[T] {
	f := &follower[T]{what: what, key: key, ch: make(chan []T, 4)}
	go func() {
		batch := make([]T, 0, followBatch)
		send := func() error {
			select {
			case f.ch <- batch:
				batch = make([]T, 0, followBatch)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := scan(func(r *T) error {
			batch = append(batch, *r)
			if len(batch) == followBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		f.err = err
		close(f.ch)
	}()
	return f
}

// head is the next row, nil at the end.
func (f *follower[T]) head() (*T, error) {
	for f.pos == len(f.buf) {
		b, ok := <-f.ch
		if !ok {
			return nil, f.err
		}
		f.buf, f.pos = b, 0
	}
	return &f.buf[f.pos], nil
}

// next returns the rows of household k (reused by the next call). Every household row has at
// least one row in the files followed (a household month has a receipt, and its patient a
// person row), so none is an error: the order is not what the ledger promises.
func (f *follower[T]) next(k ledger.HouseholdKey) ([]T, error) {
	f.group = f.group[:0]
	for {
		r, err := f.head()
		if err != nil {
			return nil, err
		}
		if r == nil || f.key(r) != k {
			break
		}
		f.group = append(f.group, *r)
		f.pos++
	}
	if len(f.group) == 0 {
		return nil, fmt.Errorf("extract: the ledger's %s rows are not in the order of its household rows at household %s of insurer %s", f.what, k.HouseholdID, k.InsurerNo)
	}
	return f.group, nil
}

// end checks that no rows are left over.
func (f *follower[T]) end() error {
	r, err := f.head()
	if err != nil {
		return err
	}
	if r != nil {
		k := f.key(r)
		return fmt.Errorf("extract: the ledger has %s rows of household %s of insurer %s, which has no household row", f.what, k.HouseholdID, k.InsurerNo)
	}
	return nil
}

func householdKey(r *output.HouseholdMonth) ledger.HouseholdKey {
	return ledger.HouseholdKey{InsurerNo: r.InsurerNo, HouseholdID: r.HouseholdID}
}
func personKey(r *output.PersonMonth) ledger.HouseholdKey {
	return ledger.HouseholdKey{InsurerNo: r.InsurerNo, HouseholdID: r.HouseholdID}
}
func receiptKey(r *output.ReceiptBenefit) ledger.HouseholdKey {
	return ledger.HouseholdKey{InsurerNo: r.InsurerNo, HouseholdID: r.HouseholdID}
}
