package ledger

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
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
	hidden := map[HouseholdKey]struct{}{}
	for i := len(v.Layers) - 1; i >= 0; i-- {
		path := filepath.Join(v.Layers[i], file)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		err := output.Each(path, func(rows []T) error {
			for k := range rows {
				if len(hidden) > 0 {
					if _, ok := hidden[key(&rows[k])]; ok {
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
		if err := v.hide(i, hidden); err != nil {
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

// Members streams the member rows in force in the month (kept by the first layer).
func (v *Version) Members(fn func(*receipt.MemberRow) error) error {
	return scan(v, pipeline.MembersFile, func(r *receipt.MemberRow) HouseholdKey {
		return HouseholdKey{r.InsurerNo, r.HouseholdID}
	}, fn)
}

// rowKey is the household columns of a layer file, read alone to find the rows of a few
// households.
type rowKey struct {
	InsurerNo   string `parquet:"insurer_no"`
	HouseholdID string `parquet:"household_id"`
}

// scanKeys streams the rows of one file of a version that belong to the households keys,
// with the layering of scan. It reads the household columns first and then only the runs of
// rows of those households (a household's rows are contiguous: every file is written in
// household order), so a few households cost a few pages, not the whole file.
func scanKeys[T any](v *Version, file string, keys map[HouseholdKey]struct{}, fn func(*T) error) error {
	hidden := map[HouseholdKey]struct{}{}
	for i := len(v.Layers) - 1; i >= 0; i-- {
		path := filepath.Join(v.Layers[i], file)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		var runs [][2]int64
		var row int64
		err := output.Each(path, func(rows []rowKey) error {
			for k := range rows {
				key := HouseholdKey{rows[k].InsurerNo, rows[k].HouseholdID}
				_, want := keys[key]
				if _, hid := hidden[key]; want && !hid {
					if n := len(runs); n > 0 && runs[n-1][1] == row {
						runs[n-1][1]++
					} else {
						runs = append(runs, [2]int64{row, row + 1})
					}
				}
				row++
			}
			return nil
		})
		if err == nil {
			err = output.Runs(path, runs, func(rows []T) error {
				for k := range rows {
					if err := fn(&rows[k]); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err != nil {
			return &DamagedError{v.Month, err.Error()}
		}
		if err := v.hide(i, hidden); err != nil {
			return err
		}
	}
	return nil
}

// hide adds the households layer i holds in full to hidden, so that older layers' rows of them
// are passed over. The first layer holds the whole month and hides nothing.
func (v *Version) hide(i int, hidden map[HouseholdKey]struct{}) error {
	if i == 0 {
		return nil
	}
	err := output.Each(filepath.Join(v.Layers[i], HouseholdsFile), func(keys []HouseholdKey) error {
		for _, k := range keys {
			hidden[k] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return &DamagedError{v.Month, err.Error()}
	}
	return nil
}
