package synth

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

func TestReproducibleBytes(t *testing.T) {
	cfg := Config{Households: 3000, Month: rules.MonthOf(2024, 5), Months: 2, Seed: 9, Faults: true, FilesPerMonth: 2}
	a, b := cfg, cfg
	a.Out, a.Workers = filepath.Join(t.TempDir(), "a"), 1
	b.Out, b.Workers = filepath.Join(t.TempDir(), "b"), 4
	sa, err := Generate(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Generate(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Files) != len(sb.Files) || len(sa.Files) != 2+2*2 {
		t.Fatalf("files: %d and %d, want 6", len(sa.Files), len(sb.Files))
	}
	for i := range sa.Files {
		x, err := os.ReadFile(sa.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(sb.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs (workers 1 and 4)", filepath.Base(sa.Files[i]))
		}
	}
	// Another seed is another population.
	c := cfg
	c.Out, c.Seed = filepath.Join(t.TempDir(), "c"), 10
	sc, err := Generate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(sa.Files[0])
	y, _ := os.ReadFile(sc.Files[0])
	if bytes.Equal(x, y) {
		t.Error("seeds 9 and 10 gave the same members file")
	}
}

func TestLayout(t *testing.T) {
	d := sharedData(t)
	out := d.cfg.Out
	want := []string{filepath.Join(out, MembersFile), filepath.Join(out, HistoryFile),
		filepath.Join(out, ReceiptsDir, "2024-05", "part-0000.parquet"),
		filepath.Join(out, ReceiptsDir, "2024-06", "part-0000.parquet")}
	if !slices.Equal(d.sum.Files, want) {
		t.Fatalf("files %v, want %v", d.sum.Files, want)
	}
	err := filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !slices.Contains(want, p) {
			t.Errorf("unexpected file %s (a temporary left behind?)", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.sum.Receipts) != 2 || int64(len(d.receipts[0])) != d.sum.Receipts[0] || int64(len(d.receipts[1])) != d.sum.Receipts[1] {
		t.Errorf("summary receipts %v, read %d and %d", d.sum.Receipts, len(d.receipts[0]), len(d.receipts[1]))
	}
	persons := 0 // the movers' rows under their old insurer, and their namesakes', are no one generated
	for k := range d.persons {
		if _, id, _ := strings.Cut(k, "/"); id[0] != 'K' && id[0] != 'N' {
			persons++
		}
	}
	if d.sum.Households != 30_000 || d.sum.Persons != int64(persons) {
		t.Errorf("summary households %d persons %d; members file has %d persons", d.sum.Households, d.sum.Persons, len(d.persons))
	}
	for k, rs := range d.receipts {
		month := (d.cfg.Month + rules.Month(k)).String()
		for _, r := range rs {
			if r.ServiceMonth != month {
				t.Fatalf("receipt %s in %s has service month %s", r.ReceiptID, month, r.ServiceMonth)
			}
		}
	}
}

func TestFilesPerMonthSplitsHouseholds(t *testing.T) {
	base := Config{Households: 2000, Month: rules.MonthOf(2023, 1), Seed: 3}
	one, three := base, base
	one.Out = filepath.Join(t.TempDir(), "one")
	three.Out, three.FilesPerMonth = filepath.Join(t.TempDir(), "three"), 3
	a, err := generateAndRead(one)
	if err != nil {
		t.Fatal(err)
	}
	b, err := generateAndRead(three)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.sum.Files) != 2+3 {
		t.Fatalf("files %v, want members, history and 3 parts", b.sum.Files)
	}
	// The parts are contiguous ranges of households in order: together, the single file.
	if !slices.Equal(a.receipts[0], b.receipts[0]) {
		t.Error("three parts do not concatenate to the single file")
	}
}

func TestInsurerTypeShares(t *testing.T) {
	d := sharedData(t)
	got := counter{}
	for key := range d.persons {
		got[typeOf[strings.SplitN(key, "/", 2)[0]].String()]++
	}
	want := normalised(d.model(t).d.InsurerTypes.Persons)
	for name, p := range want {
		g := got.share(name)
		if abs(g-p) > tolerance(p, got.total())+0.01 {
			t.Errorf("%s: %.3f of persons, want %.3f", name, g, p)
		}
		t.Logf("%s: %.3f of persons (want %.3f)", name, g, p)
	}
}

func TestAged7074Shares(t *testing.T) {
	d := sharedData(t)
	all, old := counter{}, counter{}
	for key, rows := range d.persons {
		tp := typeOf[strings.SplitN(key, "/", 2)[0]].String()
		b := mustDate(t, rows[0].BirthDate)
		all[tp]++
		if rules.IsElderly(b, d.cfg.Month) && rules.MonthOf(b.Year+75, b.Month) > d.cfg.Month {
			old[tp]++
		}
	}
	for name, p := range d.model(t).d.Aged7074.Share {
		g := float64(old[name]) / float64(all[name])
		if abs(g-p) > 4*math.Sqrt(p*(1-p)/float64(all[name]))+0.1*p+0.005 {
			t.Errorf("%s: %.3f aged 70–74, want %.3f", name, g, p)
		}
		t.Logf("%s: %.3f aged 70–74 (want %.3f)", name, g, p)
	}
}

// TestClassShares compares the classes of households, by the age group of the head (the one
// the class is drawn for), with the seed's shares.
func TestClassShares(t *testing.T) {
	d := sharedData(t)
	m := d.model(t)
	u70, o70 := map[string]counter{}, map[string]counter{}
	for key, rows := range d.persons {
		if !isHead(rows[0].PersonID) {
			continue
		}
		row, ok := rowAt(rows, d.cfg.Month)
		if !ok {
			continue
		}
		tp := typeOf[strings.SplitN(key, "/", 2)[0]].String()
		if rules.IsElderly(mustDate(t, row.BirthDate), d.cfg.Month) {
			addTo(o70, tp, row.Category70)
		} else {
			addTo(u70, tp, row.CategoryU70)
		}
	}
	check := func(what string, got map[string]counter, want map[string]map[string]float64) {
		for tp, shares := range want {
			c := got[tp]
			if c.total() < 300 {
				continue // too few heads of this age group for a share to mean anything
			}
			for class, p := range normalised(shares) {
				if g := c.share(class); abs(g-p) > tolerance(p, c.total()) {
					t.Errorf("%s %s %s: %.3f of %d households, want %.3f", what, tp, class, g, c.total(), p)
				} else if testing.Verbose() {
					t.Logf("%s %s %s: %.3f of %d households (want %.3f)", what, tp, class, g, c.total(), p)
				}
			}
		}
	}
	check("category_u70", u70, m.d.ClassU70.Shares)
	check("category_70", o70, m.d.Class70.Shares)
	if o70["kouki"].total() < 300 || o70["kokuho"].total() < 300 || u70["kyokai"].total() < 300 {
		t.Errorf("too few households to check: %v %v", o70, u70)
	}
}

func addTo(m map[string]counter, k, v string) {
	if m[k] == nil {
		m[k] = counter{}
	}
	m[k][v]++
}

// TestCategoriesPresentWhereNeeded: a household has a class for an age group exactly when a
// member is of that group in some generated month, and its rows agree month by month.
func TestCategoriesPresentWhereNeeded(t *testing.T) {
	d := sharedData(t)
	type hm struct{ hh, month string }
	seen := map[hm]receipt.MemberRow{}
	needU70, need70 := map[string]bool{}, map[string]bool{}
	for _, rows := range d.persons {
		b := mustDate(t, rows[0].BirthDate)
		for k := range d.cfg.Months {
			m := d.cfg.Month + rules.Month(k)
			row, ok := rowAt(rows, m)
			if !ok {
				continue
			}
			key := hm{row.InsurerNo + "/" + row.HouseholdID, m.String()}
			if prev, ok := seen[key]; ok && (prev.CategoryU70 != row.CategoryU70 || prev.Category70 != row.Category70) {
				t.Fatalf("household %s in %s: rows disagree (%+v, %+v)", key.hh, key.month, prev, row)
			}
			seen[key] = row
			if rules.IsElderly(b, m) {
				need70[key.hh] = true
			} else {
				needU70[key.hh] = true
			}
		}
	}
	for key, row := range seen {
		if needU70[key.hh] != (row.CategoryU70 != "") || need70[key.hh] != (row.Category70 != "") {
			t.Errorf("household %s: categories %q/%q, members under 70 %v, 70+ %v", key.hh, row.CategoryU70, row.Category70, needU70[key.hh], need70[key.hh])
		}
		if row.Category70 == "IPPAN2" && typeOf[row.InsurerNo] != kouki {
			t.Errorf("household %s: IPPAN2 outside 後期", key.hh)
		}
	}
}

func TestReceiptVolumeAndKinds(t *testing.T) {
	d := sharedData(t)
	m := d.model(t)
	kinds := counter{}
	var personMonths int
	for k, rs := range d.receipts {
		month := d.cfg.Month + rules.Month(k)
		for _, rows := range d.persons {
			if _, ok := rowAt(rows, month); ok {
				personMonths++
			}
		}
		for _, r := range rs {
			kinds[kindGroup(r)]++
		}
	}
	perPerson := float64(kinds.total()) / float64(personMonths)
	if want := m.d.Targets.PerPersonMonth; abs(perPerson-want) > 0.08 {
		t.Errorf("%.3f receipts per person-month, want about %.2f", perPerson, want)
	}
	for kind, p := range m.d.Targets.KindShare {
		tol := 0.02
		if kind == "inpatient" {
			tol = 0.004
		}
		if g := kinds.share(kind); abs(g-p) > tol {
			t.Errorf("%s: %.4f of receipts, want %.4f", kind, g, p)
		}
	}
	t.Logf("%.3f receipts per person-month; kinds %v", perPerson, kinds)
}

func kindGroup(r receipt.Row) string {
	switch {
	case r.Setting == inpatient:
		return "inpatient"
	case r.Kind == kindMedical:
		return "outpatient"
	}
	return r.Kind
}

// TestPharmacyPrescriber: every pharmacy receipt names an outpatient receipt of the same person
// and month (a medical one, or now and then a dental one) as its prescriber.
func TestPharmacyPrescriber(t *testing.T) {
	d := sharedData(t)
	var pharmacy, dental int
	for _, rs := range d.receipts {
		places := map[string]string{} // person/institution → kind of an outpatient receipt
		for _, r := range rs {
			if r.Kind != kindPharmacy && r.Setting == outpatient {
				places[r.InsurerNo+"/"+r.PersonID+"/"+r.InstitutionID] = r.Kind
			}
		}
		for _, r := range rs {
			if r.Kind != kindPharmacy {
				if r.PrescriberID != "" {
					t.Fatalf("%s: %s receipt with a prescriber", r.ReceiptID, r.Kind)
				}
				continue
			}
			pharmacy++
			kind, ok := places[r.InsurerNo+"/"+r.PersonID+"/"+r.PrescriberID]
			switch {
			case !ok:
				t.Fatalf("%s: prescriber %s is none of the person's outpatient receipts", r.ReceiptID, r.PrescriberID)
			case kind == kindDental:
				dental++
				if r.PrescriberID[2] != tensuDental {
					t.Errorf("%s: dental prescriber %s without 点数表 digit 3", r.ReceiptID, r.PrescriberID)
				}
			case r.PrescriberID[2] != tensuMedical:
				t.Errorf("%s: medical prescriber %s without 点数表 digit 1", r.ReceiptID, r.PrescriberID)
			}
			if r.InstitutionID[2] != tensuPharmacy || r.Setting != outpatient {
				t.Errorf("%s: pharmacy at %s, %s", r.ReceiptID, r.InstitutionID, r.Setting)
			}
		}
	}
	if pharmacy == 0 || dental == 0 || dental*10 > pharmacy {
		t.Errorf("%d pharmacy receipts, %d of them from a dentist: want many, a few", pharmacy, dental)
	}
}

// TestAmounts checks every receipt's money against the person: copay is cost × their rate
// rounded to 10 yen, and paid is the copay or a limit applied at the counter.
func TestAmounts(t *testing.T) {
	d := sharedData(t)
	set := rules.Default()
	var inKind, chou, chou2, big int
	for k, rs := range d.receipts {
		month := d.cfg.Month + rules.Month(k)
		tab, err := set.For(month)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !(0 <= r.Paid && r.Paid <= r.Copay && r.Copay <= r.Cost) || r.Cost%10 != 0 || r.Copay%10 != 0 {
				t.Fatalf("%s: cost %d copay %d paid %d", r.ReceiptID, r.Cost, r.Copay, r.Paid)
			}
			rows := d.persons[r.InsurerNo+"/"+r.PersonID]
			row, ok := rowAt(rows, month)
			if !ok {
				continue // NOT_ELIGIBLE: checked in TestEligibility
			}
			if row.BirthDate != r.BirthDate || row.Sex != r.Sex {
				t.Fatalf("%s: birth %s sex %s, member has %s %s", r.ReceiptID, r.BirthDate, r.Sex, row.BirthDate, row.Sex)
			}
			b := mustDate(t, row.BirthDate)
			old := rules.IsElderly(b, month)
			o70, _ := rules.ParseClass70(row.Category70)
			u70, _ := rules.ParseClassU70(row.CategoryU70)
			p := person{birth: b}
			rate := copayTenths(typeOf[r.InsurerNo], &p, old, o70, month)
			if r.Copay != copayOf(r.Cost, rate) {
				t.Fatalf("%s: copay %d of cost %d, want rate %d割", r.ReceiptID, r.Copay, r.Cost, rate)
			}
			if r.Cost > 10_000_000 {
				big++
			}
			switch r.Tokutei {
			case tokuteiChou:
				chou++
				if r.Paid != min(r.Copay, 10_000) {
					t.Errorf("%s: chou paid %d of copay %d", r.ReceiptID, r.Paid, r.Copay)
				}
			case tokuteiChou2:
				chou2++
				if r.Paid != min(r.Copay, 20_000) || old || (u70 != rules.U70A && u70 != rules.U70I) {
					t.Errorf("%s: chou2 paid %d of copay %d, class %s, 70+ %v", r.ReceiptID, r.Paid, r.Copay, u70, old)
				}
			case "":
				if r.Paid == r.Copay {
					continue
				}
				inKind++
				lim, _ := counterLimit(tab, old, classSeg{u70: u70, o70: o70}, r.Setting == outpatient, r.Cost)
				if r.Paid != lim {
					t.Errorf("%s: paid %d, neither copay %d nor the counter limit %d", r.ReceiptID, r.Paid, r.Copay, lim)
				}
			default:
				t.Errorf("%s: tokutei %q", r.ReceiptID, r.Tokutei)
			}
		}
	}
	if inKind == 0 || chou == 0 {
		t.Errorf("limits at the counter: %d receipts, chou %d, chou2 %d: want some of each", inKind, chou, chou2)
	}
	t.Logf("in kind %d, chou %d, chou2 %d, above 10M yen %d", inKind, chou, chou2, big)
}

func TestReceiptIDsUnique(t *testing.T) {
	d := sharedData(t)
	seen := map[string]bool{}
	for _, rs := range d.receipts {
		for _, r := range rs {
			if seen[r.ReceiptID] {
				t.Fatalf("receipt id %s twice", r.ReceiptID)
			}
			seen[r.ReceiptID] = true
			// The UKE form: institution, 審査支払機関 1, 請求年月 (the month after), volume 00,
			// レセプト番号.
			m, _ := rules.ParseMonth(r.ServiceMonth)
			claim := strings.ReplaceAll((m + 1).String(), "-", "")
			no := strings.TrimPrefix(r.ReceiptID, r.InstitutionID+"-1-"+claim+"-00-")
			if no == r.ReceiptID || no == "" || strings.Trim(no, "0123456789") != "" || no[0] == '0' {
				t.Fatalf("receipt id %s: want institution-1-claim month-00-number", r.ReceiptID)
			}
		}
	}
}

// TestEligibility: a clean run's receipts all name a known person; a few fall outside the
// person's eligibility (資格喪失後), and persons turning 70 and 75 are in the population.
func TestEligibility(t *testing.T) {
	d := sharedData(t)
	var total, notEligible int
	for k, rs := range d.receipts {
		month := d.cfg.Month + rules.Month(k)
		for _, r := range rs {
			if r.InsurerNo == allSevens {
				continue // 不詳: the batch resolves it by name, birth date and sex
			}
			rows, ok := d.persons[r.InsurerNo+"/"+r.PersonID]
			if !ok {
				t.Fatalf("%s: unknown person %s in a clean run", r.ReceiptID, r.PersonID)
			}
			total++
			if _, ok := rowAt(rows, month); !ok {
				notEligible++
			}
		}
	}
	if notEligible == 0 || notEligible*200 > total {
		t.Errorf("%d of %d receipts outside eligibility: want a few", notEligible, total)
	}
	var turn70, turn75, bornFirst, half, moved, changed int
	households := map[string]map[string]bool{} // person → household ids
	for key, rows := range d.persons {
		b := mustDate(t, rows[0].BirthDate)
		m70, m75 := rules.MonthOf(b.Year+70, b.Month), rules.MonthOf(b.Year+75, b.Month)
		if m70 == d.cfg.Month || m75 == d.cfg.Month {
			if m70 == d.cfg.Month {
				turn70++
			} else {
				turn75++
			}
			if b.Day == 1 {
				bornFirst++
			}
		}
		classes := map[string]bool{}
		for _, r := range rows {
			if r.HalfLimitsMonth != "" {
				half++
			}
			addSet(households, key, r.HouseholdID)
			classes[r.CategoryU70+"/"+r.Category70] = true
		}
		if len(households[key]) > 1 {
			moved++
		}
		if len(classes) > 1 {
			changed++
		}
	}
	t.Logf("turning 70: %d, 75: %d (born on the 1st %d); half_limits_month %d; moved %d; class changed %d",
		turn70, turn75, bornFirst, half, moved, changed)
	if turn70 == 0 || turn75 == 0 || bornFirst == 0 || half == 0 || moved == 0 || changed == 0 {
		t.Error("want some of each")
	}
}

func addSet(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func TestHistory(t *testing.T) {
	d := sharedData(t)
	first := d.cfg.Month
	perHousehold := map[string]int{}
	for _, h := range d.history {
		m, err := rules.ParseMonth(h.ServiceMonth)
		if err != nil || m < first-11 || m >= first {
			t.Fatalf("history month %s: want one of the 11 before %s", h.ServiceMonth, first)
		}
		perHousehold[h.InsurerNo+"/"+h.HouseholdID]++
	}
	tasukai := 0
	for _, n := range perHousehold {
		if n >= 3 {
			tasukai++
		}
	}
	if tasukai == 0 || tasukai*10 > d.cfg.Households {
		t.Errorf("%d households with 3+ counting months of %d: want some", tasukai, d.cfg.Households)
	}
}

// TestFaults: with faults on, the same receipts come out, a few of them spoiled in each way.
func TestFaults(t *testing.T) {
	clean := sharedData(t)
	cfg := clean.cfg
	cfg.Out, cfg.Faults = filepath.Join(t.TempDir(), "faults"), true
	d, err := generateAndRead(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kinds := counter{}
	for k := range d.receipts {
		a, b := clean.receipts[k], d.receipts[k]
		if len(a) != len(b) {
			t.Fatalf("month %d: %d receipts clean, %d with faults", k, len(a), len(b))
		}
		for i := range a {
			if a[i] == b[i] {
				continue
			}
			switch x, y := a[i], b[i]; {
			case y.PersonID != x.PersonID && !containsKey(clean.persons, y.InsurerNo+"/"+y.PersonID):
				kinds["unknown person"]++
			case y.Copay > y.Cost && y.Paid == y.Copay && y.Cost == x.Cost:
				kinds["copay > cost"]++
			case y.ServiceMonth != x.ServiceMonth:
				kinds["wrong month"]++
			default:
				t.Errorf("receipt %s changed in an unplanned way: %+v → %+v", x.ReceiptID, x, y)
			}
		}
	}
	n := len(d.receipts[0]) + len(d.receipts[1])
	if kinds["unknown person"] == 0 || kinds["copay > cost"] == 0 || kinds["wrong month"] == 0 || kinds.total()*1000 > n {
		t.Errorf("faults %v of %d receipts: want a few of each", kinds, n)
	}
}

func containsKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func TestRefusesNonEmptyOut(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stale.parquet"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(context.Background(), Config{Households: 10, Month: rules.MonthOf(2024, 5), Out: dir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err %v, want a refusal of a non-empty directory", err)
	}
}

func TestCancelLeavesNoFinishedFiles(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "out")
	_, err := Generate(ctx, Config{Households: 100_000, Month: rules.MonthOf(2024, 5), Out: out})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("file %s left behind", p)
		}
		return nil
	})
}

func (d *dataset) model(t testing.TB) *model {
	t.Helper()
	m, err := loadModel()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
