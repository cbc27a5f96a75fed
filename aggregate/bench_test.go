package aggregate

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/kougaku/batch/rules"
)

// BenchmarkHouseholdPass measures the household pass over one partition shaped as a generated
// month's (~50,000 receipts, the size the pipeline cuts partitions to): decoding, sorting,
// duplicates, grouping and building every household, the rules left out. One op is one pass
// over the partition; it reports ns per receipt.
func BenchmarkHouseholdPass(b *testing.B) {
	part, receipts := benchPartition(b, 13_000)
	var s Scratch
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := s.Households(part, month("2025-10"), false, func(*Receipt, string, string) error { return nil },
			func(h *Household) error { n += len(h.Receipts); return nil }); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("no receipts")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(receipts), "ns/receipt")
}

// benchPartition makes one in-memory household partition of benchMonth's households, joined
// through a directory.
func benchPartition(b *testing.B, households int) (Part, int) {
	mems, recs := benchMonth(households)
	part := joinedPartition(b, month("2025-10"), mems, recs, nil, 1)
	return part, len(recs)
}

// BenchmarkJoin measures joining a month's receipts, in a random order, to a directory of
// their members and appending them to 192 household partitions spilled to disk: the
// directory's look-up and checks, the encoding, the spill's appends and writes. It reports
// ns per receipt.
func BenchmarkJoin(b *testing.B) {
	mems, recs := benchMonth(40_000)
	d := sealedDirectory(b, month("2025-10"), mems, 2)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		spill, err := NewSpill(b.TempDir(), 192, 1)
		if err != nil {
			b.Fatal(err)
		}
		spill.SetChunkSize(64 << 10)
		out := NewHouseholdPart(spill, 0)
		b.StartTimer()
		for i := range recs {
			if err := d.Join(&recs[i], out); err != nil {
				b.Fatal(err)
			}
		}
		if err := out.Flush(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		spill.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(recs)), "ns/receipt")
}

// benchMonth makes households households, of 1 to 4 persons with 0 to 3 receipts each, the
// receipts in a random order.
func benchMonth(households int) ([]Member, []Receipt) {
	rng := rand.New(rand.NewPCG(1, 2))
	var mems []Member
	var recs []Receipt
	for h := range households {
		hh := strconv.Itoa(1_000_000 + h)
		for p := range 1 + rng.IntN(4) {
			person := hh + "-0" + strconv.Itoa(p)
			mems = append(mems, Member{InsurerNo: "0113" + strconv.Itoa(1000+h%50), PersonID: person, HouseholdID: hh,
				Birth: rules.Date{Year: 1950 + rng.IntN(70), Month: 1, Day: 1}, From: month("2020-01"), To: OpenEnd})
			for k := range rng.IntN(4) {
				recs = append(recs, Receipt{File: 0, Line: int64(len(recs) + 1), ID: "13" + strconv.Itoa(rng.IntN(90_000_000)) + "-202511-00-" + strconv.Itoa(k),
					InsurerNo: mems[len(mems)-1].InsurerNo, PersonID: person, InstitutionID: "13" + strconv.Itoa(rng.IntN(90_000_000)),
					Kind: rules.Medical, Setting: rules.Outpatient, Cost: 10_000, Copay: 3_000, Paid: 3_000})
			}
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return mems, recs
}

// BenchmarkDirectorySeal measures Seal on two goroutines over the rows of 2,000,000 persons
// (about 4 million rows, their slots 64 MiB as a month's are): putting every row into the
// slots and deciding each person's row in force. It reports ns per row.
func BenchmarkDirectorySeal(b *testing.B) {
	rows := directoryRows(2_000_000)
	var elapsed int64
	for b.Loop() {
		b.StopTimer()
		d := NewDirectory(month("2025-10"), len(rows))
		sh := d.Shard(0)
		for i := range rows {
			if err := sh.Add(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		if err := d.Seal(2); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start).Nanoseconds()
	}
	b.ReportMetric(float64(elapsed)/float64(b.N)/float64(len(rows)), "ns/row")
}
