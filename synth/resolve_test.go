package synth

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// refused reports whether the batch's join refuses r in month m for a reason resolution
// answers: an insurer number of all 7s (or one the members lack), a person the members lack,
// or one with no row in force in m (aggregate.Directory.check). With a name_kana (and the
// birth date and sex every generated receipt has), such a receipt is set aside for
// resolution (aggregate.Unresolved.take).
func (d *dataset) refused(r receipt.Row, m rules.Month) bool {
	if strings.Trim(r.InsurerNo, "7") == "" {
		return true
	}
	_, ok := rowAt(d.persons[r.InsurerNo+"/"+r.PersonID], m)
	return !ok
}

// resolveKinds counts a month's receipts to resolve by kind: claimed under the all-7 number,
// under a mover's old card, or a lost person's with its name; and the receipts refused
// without a name, which are not to resolve.
type resolveKinds struct{ sevens, old, lost, nameless int }

func (k resolveKinds) total() int { return k.sevens + k.old + k.lost }

func (d *dataset) resolveKinds(k int) resolveKinds {
	var c resolveKinds
	m := d.cfg.Month + rules.Month(k)
	for _, r := range d.receipts[k] {
		switch {
		case !d.refused(r, m):
		case r.NameKana == "":
			c.nameless++
		case r.InsurerNo == allSevens:
			c.sevens++
		case r.PersonID[0] == 'K':
			c.old++
		default:
			c.lost++
		}
	}
	return c
}

// TestIssue19_ResolveShare: with Config.ResolveShare, the receipts to resolve are about that
// share of the month (none at 0), of every kind, and nothing else changes: the members, the
// history and every receipt are those of the same seed without it, but for the claimed
// insurer and person of the receipts made (or no longer made) to resolve, and the name of
// lost persons' receipts, dropped where they are not to resolve.
func TestIssue19_ResolveShare(t *testing.T) {
	base := Config{Households: 20_000, Month: rules.MonthOf(2025, 10), Seed: 1}
	gen := func(t *testing.T, cfg Config) *dataset {
		t.Helper()
		cfg.Out = filepath.Join(t.TempDir(), "out")
		d, err := generateAndRead(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	today := gen(t, base)
	todayKinds := today.resolveKinds(0)
	if todayKinds.total() == 0 || todayKinds.nameless != 0 || today.sum.ToResolve != nil {
		t.Fatalf("without ResolveShare: %+v to resolve, summary %v: want some, every refused receipt with its name, no count", todayKinds, today.sum.ToResolve)
	}
	for _, c := range []struct {
		name  string
		share float64
	}{
		{"none", 0},
		{"0.1%", 0.001},
		{"today's 0.4%", 0.004},
		{"1%", 0.01},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			cfg.ResolveShare, cfg.ResolveShareSet = c.share, true
			d := gen(t, cfg)
			if !slices.Equal(d.members, today.members) || !slices.Equal(d.history, today.history) {
				t.Fatal("the members or the history differ from those without ResolveShare")
			}
			sameReceiptsBut(t, today, d)

			kinds, total := d.resolveKinds(0), len(d.receipts[0])
			got := kinds.total()
			t.Logf("%d receipts: %d to resolve (%.3f%%; %d all-7s, %d old cards, %d lost persons'), %d refused without a name", total, got,
				100*float64(got)/float64(total), kinds.sevens, kinds.old, kinds.lost, kinds.nameless)
			if int64(got) != d.sum.ToResolve[0] {
				t.Errorf("%d receipts to resolve, the summary says %d", got, d.sum.ToResolve[0])
			}
			if c.share == 0 {
				if got != 0 {
					t.Errorf("share 0: %d receipts to resolve (%+v), want none", got, kinds)
				}
				// The lost persons' receipts are still there, refused NOT_ELIGIBLE.
				if kinds.nameless != todayKinds.lost {
					t.Errorf("share 0: %d receipts refused without a name, want the %d lost persons' of today", kinds.nameless, todayKinds.lost)
				}
				return
			}
			if want := c.share * float64(total); math.Abs(float64(got)-want) > 0.2*want {
				t.Errorf("%d receipts to resolve of %d, want %.0f ±20%%", got, total, want)
			}
			if kinds.sevens == 0 || kinds.old == 0 || kinds.lost == 0 {
				t.Errorf("%+v: want receipts to resolve of every kind", kinds)
			}
			// Today's mix while the lost persons' receipts suffice: most of them theirs.
			if c.share <= 0.004 && (kinds.lost < got/2 || kinds.sevens > kinds.old) {
				t.Errorf("%+v: want most of them lost persons', then old cards, then all-7s, as today", kinds)
			}
		})
	}
}

// sameReceiptsBut fails unless b's receipts are a's, but for what ResolveShare may change:
// the claimed insurer and person, from or to a claim that needs resolution (all-7s, an old
// card), and a name dropped from a receipt the join refuses.
func sameReceiptsBut(t *testing.T, a, b *dataset) {
	t.Helper()
	for k := range a.receipts {
		m := a.cfg.Month + rules.Month(k)
		ra, rb := a.receipts[k], b.receipts[k]
		if len(ra) != len(rb) {
			t.Fatalf("%s: %d receipts, %d without ResolveShare", m, len(rb), len(ra))
		}
		var claims, names int
		for i := range ra {
			x, y := ra[i], rb[i]
			if x.InsurerNo != y.InsurerNo || x.PersonID != y.PersonID {
				claims++
				if ok := toResolve(x) && (toResolve(y) || ownCard(b, y)) || toResolve(y) && ownCard(a, x); !ok {
					t.Fatalf("%s: receipt %s claimed as %s/%s, %s/%s without ResolveShare: want one an all-7 or old-card claim, the other that or the person's card",
						m, y.ReceiptID, y.InsurerNo, y.PersonID, x.InsurerNo, x.PersonID)
				}
			}
			if x.NameKana != y.NameKana {
				names++
				if y.NameKana != "" || !b.refused(y, m) {
					t.Fatalf("%s: receipt %s named %q, %q without ResolveShare: a name may only be dropped, from a receipt refused", m, y.ReceiptID, y.NameKana, x.NameKana)
				}
			}
			x.InsurerNo, x.PersonID, x.NameKana = y.InsurerNo, y.PersonID, y.NameKana
			if x != y {
				t.Fatalf("%s: receipt %d differs beyond its claim and name:\n with    %+v\n without %+v", m, i, y, ra[i])
			}
		}
		t.Logf("%s: %d receipts claimed otherwise, %d without their name", m, claims, names)
	}
}

// ownCard reports a claim under the card of a person the members know, born when the receipt
// says, of its sex: not an old card.
func ownCard(d *dataset, r receipt.Row) bool {
	rows := d.persons[r.InsurerNo+"/"+r.PersonID]
	return len(rows) > 0 && !toResolve(r) && rows[0].BirthDate == r.BirthDate && rows[0].Sex == r.Sex
}

// toResolve reports a claim that needs resolution: the all-7 number or a mover's old card.
func toResolve(r receipt.Row) bool { return r.InsurerNo == allSevens || r.PersonID[0] == 'K' }

// TestIssue19_ResolveShareLayout: under ResolveShare too, the rows do not depend on how the
// month is cut into files nor on the workers (blocks made small here, so that files start
// inside them and span several), and with faults (made common here) at share 0 nothing is
// to resolve: an unknown-person fault has no name.
func TestIssue19_ResolveShareLayout(t *testing.T) {
	defer func(b int64) { resolveBlock = b }(resolveBlock)
	resolveBlock = 300
	m, err := loadModel()
	if err != nil {
		t.Fatal(err)
	}
	faulty, dist := *m, *m.d
	dist.Faults.Share = 0.02
	faulty.d = &dist
	generate := func(cfg Config) *dataset {
		t.Helper()
		g, err := newGenerator(cfg, &faulty)
		if err == nil {
			err = prepareOut(cfg.Out)
		}
		var sum Summary
		if err == nil {
			sum, err = g.run(context.Background())
		}
		var d *dataset
		if err == nil {
			d, err = readBack(g.cfg, sum)
		}
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, share := range []float64{0, 0.01} {
		cfg := Config{Households: 2000, Month: rules.MonthOf(2025, 3), Months: 2, Seed: 11, Faults: true,
			ResolveShare: share, ResolveShareSet: true}
		one, three := cfg, cfg
		one.Out, one.Workers = filepath.Join(t.TempDir(), "one"), 1
		three.Out, three.Workers, three.FilesPerMonth = filepath.Join(t.TempDir(), "three"), 3, 3
		a, b := generate(one), generate(three)
		for k := range a.receipts {
			if !slices.Equal(a.receipts[k], b.receipts[k]) {
				t.Errorf("share %g, month %d: three parts on 3 workers are not the single file", share, k)
			}
			if a.sum.ToResolve[k] != b.sum.ToResolve[k] {
				t.Errorf("share %g, month %d: %d and %d to resolve", share, k, a.sum.ToResolve[k], b.sum.ToResolve[k])
			}
			kinds, faults := a.resolveKinds(k), 0
			for _, r := range a.receipts[k] {
				if strings.HasSuffix(r.PersonID, "-99") {
					faults++
				}
			}
			t.Logf("share %g, month %d: %d receipts, %d faults, to resolve %+v", share, k, len(a.receipts[k]), faults, kinds)
			if share == 0 && (kinds.total() != 0 || faults == 0) {
				t.Errorf("share 0 with faults, month %d: %+v to resolve, %d unknown-person faults: want none to resolve, some faults", k, kinds, faults)
			}
			if want := share * float64(len(a.receipts[k])); share > 0 && math.Abs(float64(kinds.total())-want) > 0.2*want {
				t.Errorf("share %g, month %d: %d to resolve, want %.0f ±20%%", share, k, kinds.total(), want)
			}
		}
	}
}

// TestIssue19_ResolveShareUKE: the UKE files say the claims and names the Parquet files do.
func TestIssue19_ResolveShareUKE(t *testing.T) {
	cfg := Config{Households: 3000, Month: rules.MonthOf(2025, 10), Seed: 4, Faults: true, FilesPerMonth: 2,
		Format: FormatUKE, ResolveShare: 0.01, ResolveShareSet: true, Out: filepath.Join(t.TempDir(), "out")}
	d, err := generateAndRead(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, err := receipt.ExpandUKEPaths([]string{filepath.Join(cfg.Out, UKEDir, cfg.Month.String())})
	if err != nil {
		t.Fatal(err)
	}
	var got []receipt.Row
	for _, f := range files {
		rows, _ := readUKEFile(t, f)
		got = append(got, rows...)
	}
	byID := func(a, b receipt.Row) int { return strings.Compare(a.ReceiptID, b.ReceiptID) }
	want := slices.Clone(d.receipts[0])
	slices.SortFunc(want, byID)
	slices.SortFunc(got, byID)
	if !slices.Equal(got, want) {
		t.Errorf("the UKE files' %d receipts are not the Parquet files' %d", len(got), len(want))
	}
	if kinds := d.resolveKinds(0); kinds.sevens == 0 || kinds.old == 0 || kinds.lost == 0 {
		t.Errorf("%+v: want some of each kind through the UKE files", kinds)
	}
}

func TestIssue19_ResolveShareRefusesNonsense(t *testing.T) {
	for _, share := range []float64{-0.001, 1.5, math.NaN(), math.Inf(1)} {
		cfg := Config{Households: 10, Month: rules.MonthOf(2025, 10), Seed: 1, Out: filepath.Join(t.TempDir(), "out"),
			ResolveShare: share, ResolveShareSet: true}
		if _, err := Generate(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "resolve share") {
			t.Errorf("share %g: %v, want refused", share, err)
		}
		if _, err := os.Stat(cfg.Out); !os.IsNotExist(err) {
			t.Errorf("share %g: the output directory was made", share)
		}
	}
}
