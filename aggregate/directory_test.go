package aggregate

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
	"unsafe"

	"github.com/kougaku/batch/rules"
)

// TestDirectorySealIsScheduleFree seals the same master on 1 and on 8 goroutines, filled by
// 1 and by 3 shards, and checks that every person gets the same row in force and the same
// halving: which row heads a person's group may differ, the decision may not. The master has
// persons with several rows (class changes, gaps, rows that end before the month) and a
// 75th birthday in the month, so that inForce and halfLimits have choices to make.
func TestDirectorySealIsScheduleFree(t *testing.T) {
	oct := month("2025-10")
	rows := directoryRows(20_000)
	decide := func(shards, workers int) map[string]string {
		d := NewDirectory(oct, len(rows))
		sh := make([]*DirectoryShard, shards)
		for i := range sh {
			sh[i] = d.Shard(0)
		}
		base := d.Reserve(len(rows))
		for i := range rows {
			if err := sh[i%shards].Set(base+i, &rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Seal(workers); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for i := range rows {
			m := &rows[i]
			first := d.find(Hash2(m.InsurerNo, m.PersonID), m.InsurerNo, m.PersonID)
			if first < 0 {
				t.Fatalf("person %s not found", m.PersonID)
			}
			head := &d.rows[first]
			v := "none"
			if head.inForce == memberConflict {
				v = "conflict"
			}
			if head.inForce >= 0 {
				r := d.inForceRow(head)
				v = fmt.Sprintf("line %d half %v", r.Line, r.HalfNow)
			}
			got[m.PersonID] = v
		}
		conflicts := 0
		for _, v := range got {
			if v == "conflict" {
				conflicts++
			}
		}
		if int64(conflicts) != d.Conflicting() {
			t.Errorf("%d persons in conflict, the directory counts %d", conflicts, d.Conflicting())
		}
		return got
	}
	want := decide(1, 1)
	inForce, half, conflicts := 0, 0, 0
	for _, v := range want {
		if v != "none" && v != "conflict" {
			inForce++
		}
		if v == "conflict" {
			conflicts++
		}
		if v[len(v)-4:] == "true" {
			half++
		}
	}
	if inForce == 0 || inForce == len(want) || half == 0 || conflicts == 0 {
		t.Fatalf("the master makes no choices: %d of %d persons in force, %d halved, %d in conflict", inForce, len(want), half, conflicts)
	}
	for _, c := range [][2]int{{3, 8}, {1, 8}, {3, 2}} {
		if got := decide(c[0], c[1]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d shards, %d goroutines: decisions differ from one goroutine's", c[0], c[1])
		}
	}
}

// directoryRows makes persons of one to three eligibility rows around October 2025; every
// 7th person's last row names another household, which is a MEMBER_CONFLICT when it and
// another row are both in force in October.
func directoryRows(persons int) []Member {
	rnd := rand.New(rand.NewPCG(7, 11))
	var rows []Member
	line := int64(1)
	for p := range persons {
		id := fmt.Sprintf("P%06d", p)
		birth := rules.Date{Year: 1940 + rnd.IntN(60), Month: 1 + rnd.IntN(12), Day: 1 + rnd.IntN(28)}
		if p%50 == 0 {
			birth = rules.Date{Year: 1950, Month: 10, Day: 15} // 75 in October 2025
		}
		n := 1 + rnd.IntN(3)
		if p == 17 {
			n = 300 // a person of many rows: sorted n log n, and still the same decision
		}
		from := month("2020-01") + rules.Month(rnd.IntN(60))
		for k := 0; k < n; k++ {
			m := member(id, fmt.Sprintf("H%06d", p/2), "2020-01", "", rules.U70U)
			if p%7 == 3 && k == n-1 && n > 1 {
				m.HouseholdID += "-moved"
			}
			m.Birth, m.From, m.Line = birth, from, line
			line++
			if k < n-1 || rnd.IntN(4) == 0 {
				m.To = from + rules.Month(rnd.IntN(12))
			}
			rows = append(rows, m)
			from = max(from+rules.Month(rnd.IntN(6)), m.From) // rows may start in the same month
		}
	}
	rnd.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

// A member row is a cache line: the look-up of a receipt's person touches one.
func TestDirRowIsACacheLine(t *testing.T) {
	if n := unsafe.Sizeof(dirRow{}); n != 64 {
		t.Fatalf("dirRow is %d bytes", n)
	}
}

// TestEmitMarkedHouseholds: with marks, EmitInForce writes the rows in force of the
// households a joined receipt went to, all their persons', and of no other household (the
// marks are sized for far more households than here, so no other passes for marked).
func TestEmitMarkedHouseholds(t *testing.T) {
	oct := month("2025-10")
	born := rules.Date{Year: 1980, Month: 1, Day: 1}
	var mems []Member
	for h := range 50 {
		for p := range 3 {
			hh := "H" + strconv.Itoa(h)
			mems = append(mems, Member{InsurerNo: "01130012", PersonID: hh + "-" + strconv.Itoa(p), HouseholdID: hh,
				Birth: born, From: month("2020-01"), To: OpenEnd})
		}
	}
	d := sealedDirectory(t, oct, mems, 2)
	households, err := NewSpill("", 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	out, emit := NewHouseholdPart(households, 0), NewHouseholdPart(households, 1)
	marks := NewHouseholdMarks(d.Rows())
	out.MarkInto(marks)
	want := map[string]int{}
	for _, h := range []int{3, 17, 42} { // one receipt of one person in three households
		hh := "H" + strconv.Itoa(h)
		r := Receipt{ID: "R" + hh, InsurerNo: "01130012", PersonID: hh + "-1", Kind: rules.Medical, Setting: rules.Outpatient}
		if err := d.Join(&r, out); err != nil {
			t.Fatal(err)
		}
		want[hh] = 3
	}
	for w := range 3 {
		d.SettleMarks(marks, w, 3)
	}
	if err := d.EmitInForce(emit, 0, 1, marks); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for p := range households.Parts() {
		part, err := households.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		_, ms, _, err := decodeAll(part, new(Scratch))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			got[m.HouseholdID]++
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("member rows emitted by household %v, want %v", got, want)
	}
}

// sealedDirectory is a directory of mems for month m, added by one shard and sealed on
// workers goroutines.
func sealedDirectory(tb testing.TB, m rules.Month, mems []Member, workers int) *Directory {
	tb.Helper()
	d := NewDirectory(m, len(mems))
	sh := d.Shard(0)
	for i := range mems {
		if err := sh.Add(&mems[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := d.Seal(workers); err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestSamePackedDate: the comparison of a receipt's birth date with a member's packed one
// says what parsing the text and comparing the dates says, for texts that are the date,
// other dates, impossible dates, and not dates at all.
func TestSamePackedDate(t *testing.T) {
	dates := []rules.Date{{Year: 1960, Month: 1, Day: 1}, {Year: 2000, Month: 2, Day: 29}, {Year: 1899, Month: 12, Day: 31}, {Year: 2024, Month: 10, Day: 9}}
	texts := []string{"1960-01-01", "2000-02-29", "1899-12-31", "2024-10-09", "2024-10-9", "2024-1-09", "1960-01-01 ",
		" 1960-01-01", "1960/01/01", "19600101", "", "1960-01-0a", "1960-02-30", "2001-02-29", "0000-00-00", "1960-01-02",
		"2024-10-19", "2024-11-09", "2025-10-09", "+960-01-01", "1960-01-01\x00", "1960-13-01"}
	for _, d := range dates {
		for _, s := range texts {
			p, err := rules.ParseDate(s)
			want := err == nil && p == d
			if got := samePackedDate(s, uint32(packDate(d))); got != want {
				t.Errorf("samePackedDate(%q, %v) = %v, want %v", s, d, got, want)
			}
		}
	}
}
