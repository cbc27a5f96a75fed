package ledger

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/receipt"
)

// HouseholdsFile lists, in a layer after the first, the households the layer holds in full.
const HouseholdsFile = "households.parquet"

// HouseholdKey names a household under its insurer.
type HouseholdKey struct {
	InsurerNo   string `parquet:"insurer_no"`
	HouseholdID string `parquet:"household_id"`
}

func (k HouseholdKey) String() string { return k.InsurerNo + "\x00" + k.HouseholdID }

// scan streams the rows of one file of a version: the newest layer first, then each older
// layer without the households a newer one holds. A layer without the file (members are kept
// in the first layer only) is passed over.
func scan[T any](v *Version, file string, key func(*T) HouseholdKey, fn func(*T) error) error {
	hidden := newKeys()
	var buf []byte // a row's key bytes, built without allocating
	for i := len(v.Layers) - 1; i >= 0; i-- {
		path := filepath.Join(v.Layers[i], file)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		err := output.Each(path, func(rows []T) error {
			for k := range rows {
				if hidden.size() > 0 {
					hk := key(&rows[k])
					buf = append(append(append(buf[:0], hk.InsurerNo...), 0), hk.HouseholdID...)
					if hidden.has(buf) {
						continue
					}
				}
				if err := fn(&rows[k]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return &DamagedError{v.Month, err.Error()}
		}
		if err := v.hideKeys(i, hidden); err != nil {
			return err
		}
	}
	return nil
}

// HouseholdMonths streams the household rows of a version.
func (v *Version) HouseholdMonths(fn func(*output.HouseholdMonth) error) error {
	return scan(v, output.HouseholdMonthFile, func(r *output.HouseholdMonth) HouseholdKey {
		return HouseholdKey{r.InsurerNo, r.HouseholdID}
	}, fn)
}

// Receipts streams the accepted receipts of a version with their benefit.
func (v *Version) Receipts(fn func(*output.ReceiptBenefit) error) error {
	return scan(v, output.ReceiptBenefitFile, func(r *output.ReceiptBenefit) HouseholdKey {
		return HouseholdKey{r.InsurerNo, r.HouseholdID}
	}, fn)
}

// Persons streams the person rows of a version.
func (v *Version) Persons(fn func(*output.PersonMonth) error) error {
	return scan(v, output.PersonMonthFile, func(r *output.PersonMonth) HouseholdKey {
		return HouseholdKey{r.InsurerNo, r.HouseholdID}
	}, fn)
}

// Resolved streams the receipts of a version that were found by name (resolved.parquet).
func (v *Version) Resolved(fn func(*output.ResolvedReceipt) error) error {
	return scan(v, output.ResolvedFile, func(r *output.ResolvedReceipt) HouseholdKey {
		return HouseholdKey{r.InsurerNo, r.HouseholdID}
	}, fn)
}

// Members streams the member rows in force in the month (kept by the first layer).
func (v *Version) Members(fn func(*receipt.MemberRow) error) error {
	return scan(v, pipeline.MembersFile, func(r *receipt.MemberRow) HouseholdKey {
		return HouseholdKey{r.InsurerNo, r.HouseholdID}
	}, fn)
}

// callerError marks an error of a scanColumns callback, which is not the file's fault.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// seekLimit: up to this many households, a keyed read finds their rows from the household
// columns alone and then decodes only the pages that hold them (a cascade's few households of
// a month); beyond it the file is read whole, since the pages would nearly all be touched.
var seekLimit = 20_000 // a variable so that tests can take both ways

// scanColumns streams the chosen columns of one file of a version with the layering of scan:
// the newest layer first, then each older layer without the households a newer one holds.
// Only the rows of the households keys are passed on (every row when keys is nil). cols must
// begin with insurer_no and household_id. fn gets each row as its batch and index, and the
// row's household key bytes (see keySet); they are valid during the call only. Reading
// columns page by page this way is some thirty times faster than decoding rows.
func scanColumns(ctx context.Context, v *Version, file string, cols []string, keys *keySet, fn func(b *pqcol.Batch, i int, key []byte) error) error {
	xs, err := v.indexes()
	if err != nil {
		return err
	}
	hidden := &hider{seen: newKeys(), byIndex: xs != nil && keys != nil}
	var key []byte
	each := func(b *pqcol.Batch) error {
		ins, hh := b.Bytes(0), b.Bytes(1)
		for j := range b.Len {
			key = appendKey(key, ins.At(j), hh.At(j))
			if !keys.has(key) || hidden.hides(key) {
				continue
			}
			if err := fn(b, j, key); err != nil {
				return callerError{err}
			}
		}
		return nil
	}
	indexed := xs != nil && keys != nil && (file == output.ReceiptBenefitFile || file == pipeline.MembersFile)
	for i := len(v.Layers) - 1; i >= 0; i-- {
		path := filepath.Join(v.Layers[i], file)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		r, err := pqcol.Open(path, cols...)
		if err != nil {
			return &DamagedError{v.Month, err.Error()}
		}
		if indexed {
			err = r.ScanRanges(ctx, indexRanges(xs[i], keys, hidden, file == pipeline.MembersFile), each)
		} else if keys != nil && keys.size() <= seekLimit {
			var ranges [][2]int64
			if ranges, err = keyRanges(ctx, r, keys, hidden); err == nil {
				if err = r.Select(cols...); err == nil {
					err = r.ScanRanges(ctx, ranges, each)
				}
			}
		} else {
			err = r.Scan(ctx, each)
		}
		r.Close()
		var ce callerError
		switch {
		case errors.As(err, &ce):
			return ce.err
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return &DamagedError{v.Month, err.Error()}
		}
		if hidden.byIndex {
			hidden.holders = append(hidden.holders, xs[i])
		} else if err := v.hideKeys(i, hidden.seen); err != nil {
			return err
		}
	}
	return nil
}

// hider says whether a layer newer than the one being read, and which has the file read,
// holds a household in full, so that the older layer's rows of it are passed over (a layer
// without the file, as members are kept in the first layer only, hides nothing of it). For the
// few households a keyed read wants, those layers' indexes are asked (a look-up in each);
// otherwise (or without indexes) their household lists are gathered as each is read
// (hideKeys), which for a month of 24 layers was 230,000 keys read and hashed for a
// correction of 10,000 households.
type hider struct {
	byIndex bool // holders' indexes are asked; else seen holds what they hide
	seen    *keySet
	holders []*index // the indexes of the layers read so far
}

func (h *hider) hides(key []byte) bool {
	if !h.byIndex {
		return h.seen.size() > 0 && h.seen.has(key)
	}
	if len(h.holders) == 0 {
		return false
	}
	hash := fnv(key)
	for _, x := range h.holders {
		if _, ok := x.householdHashed(key, hash); ok {
			return true
		}
	}
	return false
}

// keyRanges reads the household columns of r and returns the ranges of rows of the households
// keys that hidden does not hide.
func keyRanges(ctx context.Context, r *pqcol.Reader, keys *keySet, hidden *hider) ([][2]int64, error) {
	if err := r.Select("insurer_no", "household_id"); err != nil {
		return nil, err
	}
	var ranges [][2]int64
	var key []byte
	err := r.Scan(ctx, func(b *pqcol.Batch) error {
		ins, hh := b.Bytes(0), b.Bytes(1)
		for j := range b.Len {
			key = appendKey(key, ins.At(j), hh.At(j))
			if !keys.has(key) || hidden.hides(key) {
				continue
			}
			row := b.First + int64(j)
			if n := len(ranges); n > 0 && ranges[n-1][1] == row {
				ranges[n-1][1]++
			} else {
				ranges = append(ranges, [2]int64{row, row + 1})
			}
		}
		return nil
	})
	return ranges, err
}

// indexRanges returns, from a layer's index, the ranges of rows in its receipts (or members)
// file of the households keys that hidden does not hide: what keyRanges finds by scanning.
func indexRanges(x *index, keys *keySet, hidden *hider, members bool) [][2]int64 {
	var ranges [][2]int64
	for _, key := range byHash(keys) {
		if hidden.hides(key) {
			continue
		}
		if i, ok := x.household(key); ok {
			if r := x.rows(i, members); r[1] > r[0] {
				ranges = append(ranges, r)
			}
		}
	}
	slices.SortFunc(ranges, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	merged := ranges[:0]
	for _, r := range ranges {
		if n := len(merged); n > 0 && merged[n-1][1] == r[0] {
			merged[n-1][1] = r[1]
		} else {
			merged = append(merged, r)
		}
	}
	return merged
}

// hideKeys adds the households layer i holds in full to hidden, so that older layers' rows of
// them are passed over. The first layer holds the whole month and hides nothing.
func (v *Version) hideKeys(i int, hidden *keySet) error {
	if i == 0 {
		return nil
	}
	err := output.Each(filepath.Join(v.Layers[i], HouseholdsFile), func(keys []HouseholdKey) error {
		for _, k := range keys {
			hidden.add(k.String())
		}
		return nil
	})
	if err != nil {
		return &DamagedError{v.Month, err.Error()}
	}
	return nil
}
