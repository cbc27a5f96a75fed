package output

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWriteReceiptBenefit measures writing a whole receipt_benefit file, Close and
// fsync included: one op is one file of benchRows rows.
func BenchmarkWriteReceiptBenefit(b *testing.B) {
	const benchRows, batch = 1 << 18, 4096
	rows := receiptBenefits(benchRows, 0, false)
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"default", Options{}},
		{"rowgroup=64k", Options{MaxRowsPerRowGroup: 1 << 16}},
		{"page=64KiB", Options{PageBufferSize: 64 << 10}},
	} {
		b.Run(c.name, func(b *testing.B) { benchWrite(b, rows, batch, c.opt) })
	}
	// Rows shaped like a generated month's: households in hash order, their receipts
	// together, amounts of a few thousand yen, benefits mostly zero.
	b.Run("month", func(b *testing.B) { benchWrite(b, monthReceiptBenefits(benchRows), batch, Options{}) })
	b.Run("month-parquet-go", func(b *testing.B) {
		defer func(was bool) { columnEngine = was }(columnEngine)
		columnEngine = false
		benchWrite(b, monthReceiptBenefits(benchRows), batch, Options{})
	})
}

// BenchmarkWriteMonth measures the two other large files of a month, shaped as a generated
// month's.
func BenchmarkWriteMonth(b *testing.B) {
	const benchRows, batch = 1 << 18, 4096
	b.Run("PersonMonth", func(b *testing.B) { benchWrite(b, monthPersons(benchRows), batch, Options{}) })
	b.Run("HouseholdMonth", func(b *testing.B) { benchWrite(b, monthHouseholds(benchRows), batch, Options{}) })
}

// benchWrite writes rows as one file per op and reports rows/s, the file's bytes per row and
// the process's CPU time per row (user and system: zstd, the writer and the fsync).
func benchWrite[T any](b *testing.B, rows []T, batch int, opt Options) {
	d := newDir(b)
	var size int64
	files := 0
	cpu0 := cpuTime()
	for b.Loop() {
		name := "f" + strconv.Itoa(files) + ".parquet"
		files++
		w, err := NewWriter[T](d, name, opt)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(rows); i += batch {
			if err := w.Write(rows[i:min(i+batch, len(rows))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(d.TempPath(), name))
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
		os.Remove(filepath.Join(d.TempPath(), name)) // keep the disk footprint flat
	}
	cpu := cpuTime() - cpu0
	n := float64(len(rows)) * float64(files)
	b.ReportMetric(n/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/float64(len(rows)), "B/row")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/row")
}

// cpuTime is the CPU time the process has used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// monthHousehold is one household of a generated month, as the three files see it.
type monthHousehold struct {
	id, insurer string
	persons     int
	u70         bool
}

// monthHouseholdAt returns the k-th household of a month: ids are random numbers (the
// pipeline writes households in hash order), insurers a few hundred.
func monthHouseholdAt(r *rand.Rand) monthHousehold {
	insurer := fmt.Sprintf("%08d", 1_000_000+r.IntN(400)*137)
	if r.IntN(4) == 0 {
		insurer = strconv.Itoa(100_000 + r.IntN(300)*7)
	}
	return monthHousehold{
		id:      fmt.Sprintf("%09d", r.IntN(4_150_000)),
		insurer: insurer,
		persons: 1 + r.IntN(3),
		u70:     r.IntN(3) != 0,
	}
}

// yen returns an amount of a few thousand yen, in tens, skewed like medical costs.
func yen(r *rand.Rand) int64 {
	return int64(r.ExpFloat64()*1_500+50) * 10
}

// monthReceiptBenefits returns n receipt rows, about two and a half per household.
func monthReceiptBenefits(n int) []ReceiptBenefit {
	r := rand.New(rand.NewPCG(1, 2))
	monthKinds := []string{"medical", "medical", "dental", "pharmacy", "dpc"}
	rows := make([]ReceiptBenefit, 0, n)
	for len(rows) < n {
		h := monthHouseholdAt(r)
		receipts := 1 + r.IntN(4)
		for j := 0; j < receipts && len(rows) < n; j++ {
			inst := fmt.Sprintf("%02d%08d", 1+r.IntN(47), r.IntN(100_000_000))
			kind := monthKinds[r.IntN(len(monthKinds))]
			setting := "outpatient"
			if kind == "dpc" || r.IntN(20) == 0 {
				setting = "inpatient"
			}
			prescriber, tokutei := "", ""
			if kind == "pharmacy" {
				prescriber = fmt.Sprintf("%02d%08d", 1+r.IntN(47), r.IntN(100_000_000))
			}
			if r.IntN(200) == 0 {
				tokutei = "長"
			}
			cost := yen(r)
			if setting == "inpatient" {
				cost *= 20
			}
			copay := cost * 3 / 10 / 10 * 10
			var benefit int64
			if r.IntN(8) == 0 {
				benefit = r.Int64N(copay + 1)
			}
			rows = append(rows, ReceiptBenefit{
				ReceiptID:     inst + "-202511-00-" + h.id + strconv.Itoa(j),
				InsurerNo:     h.insurer,
				HouseholdID:   h.id,
				PersonID:      h.id + "-0" + strconv.Itoa(1+r.IntN(h.persons)),
				ServiceMonth:  "2025-10",
				Kind:          kind,
				Setting:       setting,
				Cost:          cost,
				Copay:         copay,
				Paid:          copay,
				Included:      r.IntN(2) == 0,
				BenefitCash:   benefit,
				InstitutionID: inst,
				PrescriberID:  prescriber,
				Tokutei:       tokutei,
			})
		}
	}
	return rows
}

// monthPersons returns n person rows, their households' persons together.
func monthPersons(n int) []PersonMonth {
	r := rand.New(rand.NewPCG(3, 4))
	rows := make([]PersonMonth, 0, n)
	for len(rows) < n {
		h := monthHouseholdAt(r)
		for j := 0; j < h.persons && len(rows) < n; j++ {
			age := AgeGroupU70
			if !h.u70 {
				age = AgeGroup70Plus
			}
			p := PersonMonth{
				InsurerNo:    h.insurer,
				HouseholdID:  h.id,
				PersonID:     h.id + "-0" + strconv.Itoa(j+1),
				ServiceMonth: "2025-10",
				AgeGroup:     age,
			}
			p.OutpatientPaid = yen(r)
			if r.IntN(12) == 0 {
				p.InpatientPaid = yen(r) * 20
			}
			if r.IntN(10) == 0 {
				p.OutpatientBenefitCash = r.Int64N(p.OutpatientPaid + 1)
			}
			p.BenefitCash = p.OutpatientBenefitCash
			rows = append(rows, p)
		}
	}
	return rows
}

// monthHouseholds returns n household rows.
func monthHouseholds(n int) []HouseholdMonth {
	r := rand.New(rand.NewPCG(5, 6))
	u70 := []string{"A", "I", "U", "E", "O"}
	o70 := []string{"GEN1", "IPPAN", "TEI1", "TEI2", "GEN3"}
	rows := make([]HouseholdMonth, n)
	for i := range rows {
		h := monthHouseholdAt(r)
		hm := HouseholdMonth{
			InsurerNo:    h.insurer,
			HouseholdID:  h.id,
			ServiceMonth: "2025-10",
			Receipts:     1 + r.IntN(6),
			RulesVersion: "2025-10",
		}
		if h.u70 {
			hm.CategoryU70 = u70[r.IntN(len(u70))]
		} else {
			hm.Category70 = o70[r.IntN(len(o70))]
		}
		hm.CopayTotal = yen(r) * int64(hm.Receipts)
		hm.PaidTotal = hm.CopayTotal
		if r.IntN(15) == 0 {
			hm.PriorBenefitMonths = int32(r.IntN(12))
		}
		if r.IntN(10) == 0 {
			hm.StageA = r.Int64N(hm.PaidTotal/2 + 1)
			hm.BenefitCash = hm.StageA
			hm.CountsForTasukai = true
		}
		if r.IntN(30) == 0 {
			hm.StageB = r.Int64N(hm.PaidTotal/4 + 1)
			hm.BenefitCash += hm.StageB
			hm.BenefitInKind = r.Int64N(50_000)
		}
		rows[i] = hm
	}
	return rows
}
