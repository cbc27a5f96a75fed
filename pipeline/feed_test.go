package pipeline

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/rules"
)

// feedWorker collects what Households gives it.
type feedWorker struct {
	mu   *sync.Mutex
	seen *[]string
	done *[]int
}

func (w feedWorker) Household(h *aggregate.Household) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	*w.seen = append(*w.seen, h.InsurerNo+"/"+h.HouseholdID+":"+strings.Repeat("r", len(h.Receipts)))
	return nil
}

func (w feedWorker) Done(q int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	*w.done = append(*w.done, q)
	return nil
}

// TestHouseholds: fed records become the run's households, every partition done once and
// in order; a receipt whose person was not fed is an error, not a household short of it.
func TestHouseholds(t *testing.T) {
	month := rules.Month(2025*12 + 9)
	birth, err := rules.ParseDate("1990-01-01")
	if err != nil {
		t.Fatal(err)
	}
	member := func(person, household string) aggregate.Member {
		return aggregate.Member{InsurerNo: "06139999", PersonID: person, HouseholdID: household, Birth: birth,
			Sex: "1", From: month - 5, To: aggregate.OpenEnd, ClassU70: rules.U70U}
	}
	members := []aggregate.Member{member("P1", "H1"), member("P2", "H1"), member("P3", "H2")}
	receipt := func(id, person string) aggregate.Receipt {
		return aggregate.Receipt{ID: id, InsurerNo: "06139999", PersonID: person, InstitutionID: "1311111111",
			Kind: rules.Medical, Setting: rules.Outpatient, Cost: 100000, Copay: 30000}
	}
	feed := func(receipts []aggregate.Receipt) Feed {
		return Feed{Month: month, Receipts: int64(len(receipts)), Workers: 2,
			ReadReceipts: func(_ context.Context, emit func(*aggregate.Receipt) error) error {
				for i := range receipts {
					if err := emit(&receipts[i]); err != nil {
						return err
					}
				}
				return nil
			},
			ReadMembers: func(_ context.Context, emit func(*aggregate.Member) error) error {
				for i := range members {
					if err := emit(&members[i]); err != nil {
						return err
					}
				}
				return nil
			}}
	}
	var mu sync.Mutex
	var seen []string
	var done []int
	newWorker := func() FeedWorker { return feedWorker{&mu, &seen, &done} }
	err = Households(context.Background(), feed([]aggregate.Receipt{receipt("R1", "P1"), receipt("R2", "P2"), receipt("R3", "P3")}), newWorker)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if got := strings.Join(seen, " "); got != "06139999/H1:rr 06139999/H2:r" {
		t.Errorf("households %q", got)
	}
	for i, q := range done {
		if q != i {
			t.Fatalf("partitions done in the order %v", done)
		}
	}
	if len(done) == 0 {
		t.Fatal("no partition done")
	}
	err = Households(context.Background(), feed([]aggregate.Receipt{receipt("R1", "P1"), receipt("R9", "P9")}), newWorker)
	if err == nil || !strings.Contains(err.Error(), "refused 1 of the fed receipts") {
		t.Errorf("a receipt of a person not fed: %v", err)
	}
}
