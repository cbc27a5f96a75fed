package aggregate

import (
	"fmt"
	"math"
	"testing"

	"github.com/kougaku/batch/rules"
)

// Partitions are ranges of the hash space: their order is the hash order at any count.
func TestPartOfIsRangeOrdered(t *testing.T) {
	for _, parts := range []int{1, 2, 7, 64, 1000} {
		prev := 0
		for _, h := range []uint64{0, 1, 1 << 20, 1 << 40, 1 << 62, 1<<63 + 5, math.MaxUint64 - 1, math.MaxUint64} {
			p := PartOf(h, parts)
			if p < prev || p >= parts {
				t.Fatalf("parts %d: hash %x → %d after %d", parts, h, p, prev)
			}
			prev = p
		}
	}
}

func month(s string) rules.Month { m, _ := rules.ParseMonth(s); return m }

func member(person, household, from, to string, u70 rules.ClassU70) Member {
	m := Member{InsurerNo: "06139999", PersonID: person, HouseholdID: household, Birth: rules.Date{Year: 1980, Month: 1, Day: 2},
		Sex: "1", From: month(from), To: OpenEnd, ClassU70: u70, Line: 1}
	if to != "" {
		m.To = month(to)
	}
	return m
}

func rec(id, person string, file int32, line int64) Receipt {
	return Receipt{File: file, Line: line, ID: id, InsurerNo: "06139999", PersonID: person, InstitutionID: "1311111111",
		Setting: rules.Inpatient, Cost: 100000, Copay: 30000, Paid: 30000}
}

// TestJoinAndHouseholds runs receipts and members through both ways, person partitions and
// a Directory, in memory and on disk, and checks the joins, the rejects and the households
// handed to the rules: the same on every way.
func TestJoinAndHouseholds(t *testing.T) {
	mems := []Member{member("P1", "H1", "2020-01", "", rules.U70U), member("P2", "H1", "2020-01", "", rules.U70U),
		member("P3", "H2", "2020-01", "2025-08", rules.U70A), member("P4", "H3", "2020-01", "", rules.U70E)}
	recs := []Receipt{rec("R1", "P1", 0, 2), rec("R2", "P2", 0, 3), rec("R1", "P1", 1, 9), rec("R3", "P3", 0, 4), rec("R4", "nobody", 0, 5)}
	for _, way := range []string{"partitions", "directory"} {
		for _, dir := range []string{"", t.TempDir()} {
			households, _ := NewSpill(sub(dir, "households"), 4, 3)
			rejects := map[string]string{}
			reject := func(r *Receipt, reason, _ string) error {
				rejects[fmt.Sprintf("%s@%d:%d", r.ID, r.File, r.Line)] = reason
				return nil
			}
			if way == "partitions" {
				joinByPartitions(t, dir, mems, recs, households, reject)
			} else {
				joinByDirectory(t, mems, recs, households, reject)
			}
			var seen []string
			for q := 0; q < households.Parts(); q++ {
				part, err := households.Read(q)
				if err != nil {
					t.Fatal(err)
				}
				err = Households(part, month("2025-10"), true, reject, func(h *Household) error {
					seen = append(seen, fmt.Sprintf("%s:%d/%d", h.HouseholdID, len(h.Receipts), len(h.Rules.Members)))
					for i, r := range h.Rules.Receipts {
						if h.Persons[r.Member] != h.Receipts[i].PersonID {
							t.Errorf("receipt %s mapped to member %s", r.ID, h.Persons[r.Member])
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{"R1@1:9": "DUPLICATE_RECEIPT", "R3@0:4": "NOT_ELIGIBLE", "R4@0:5": "UNKNOWN_PERSON"}
			if fmt.Sprint(rejects) != fmt.Sprint(want) {
				t.Errorf("%s, dir %q: rejects %v, want %v", way, dir, rejects, want)
			}
			// H1 with its two receipts and two members; H3 only with a member (all households
			// asked for); H2's only person is no longer eligible in October.
			got := fmt.Sprint(seen)
			if len(seen) != 2 || !(got == "[H1:2/2 H3:0/1]" || got == "[H3:0/1 H1:2/2]") {
				t.Errorf("%s, dir %q: households %v", way, dir, seen)
			}
			households.Close()
		}
	}
}

func sub(dir, name string) string {
	if dir == "" {
		return ""
	}
	return dir + "/" + name
}

func joinByPartitions(t *testing.T, dir string, mems []Member, recs []Receipt, households *Spill, reject func(*Receipt, string, string) error) {
	t.Helper()
	persons, _ := NewSpill(sub(dir, "persons"), 3, 2)
	defer persons.Close()
	a, b := NewPersonPart(persons, 0), NewPersonPart(persons, 1)
	for i := range mems {
		if err := a.Member(&mems[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range recs {
		if err := b.Receipt(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	a.Flush()
	b.Flush()
	out := NewHouseholdPart(households, 0)
	for p := 0; p < persons.Parts(); p++ {
		part, err := persons.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := JoinPartition(part, month("2025-10"), func(string) bool { return true }, false, nil, nil, out); err != nil {
			t.Fatal(err)
		}
	}
	out.Flush()
}

func joinByDirectory(t *testing.T, mems []Member, recs []Receipt, households *Spill, reject func(*Receipt, string, string) error) {
	t.Helper()
	d := NewDirectory(month("2025-10"), 1)
	a, b := d.Shard(0), d.Shard(16)
	base := d.Reserve(2)
	for i := range mems[:2] { // two rows reserved and set by another shard, the rest appended
		if err := b.Set(base+i, &mems[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range mems[2:] {
		if err := a.Add(&mems[2+i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Seal(2); err != nil {
		t.Fatal(err)
	}
	out, members := NewHouseholdPart(households, 0), NewHouseholdPart(households, 1)
	if err := d.EmitInForce(members, 0, 1, nil); err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := d.Join(&recs[i], out); err != nil {
			t.Fatal(err)
		}
	}
	out.Flush()
	members.Flush()
}

func TestHalfLimitsFromEligibility(t *testing.T) {
	birth := rules.Date{Year: 1950, Month: 10, Day: 15}
	oct := month("2025-10")
	cases := []struct {
		name string
		rows []Member
		want bool
	}{
		{"leaves the insurer in the birthday month", []Member{{Birth: birth, From: month("2010-01"), To: oct}}, true},
		{"joins 後期 in the birthday month", []Member{{Birth: birth, From: oct, To: OpenEnd}}, true},
		{"stays, one row", []Member{{Birth: birth, From: month("2010-01"), To: OpenEnd}}, false},
		{"stays, class changes that month", []Member{{Birth: birth, From: month("2010-01"), To: month("2025-09")}, {Birth: birth, From: oct, To: OpenEnd}}, false},
	}
	for _, c := range cases {
		m := inForce(c.rows, oct)
		if got := halfLimits(c.rows, m, oct); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
