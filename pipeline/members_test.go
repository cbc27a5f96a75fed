package pipeline

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/synth"
)

// A members queue hands every range out once, whoever asks: two readers each stop within
// their first range, and a third, late one (as a receipt worker done with its receipts) must
// drain every range left before they go on. Every row of the master is read exactly once, by
// all three, and their insurers are noted.
func TestMemberQueueHandsOutEveryRangeOnce(t *testing.T) {
	dir, month := synthMonth(t, 300)
	r, err := newRun(synthConfig(dir, month, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	ranges, total, err := r.memberRanges(13)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 13 || total != r.memberRows[filepath.Join(dir, "in", synth.MembersFile)] {
		t.Fatalf("%d ranges of %d rows", len(ranges), total)
	}
	q := &memberQueue{r: r, ranges: ranges, note: true}
	seen := make([]int, total)
	counts := make([]int, 3)
	var mu sync.Mutex
	var started, done sync.WaitGroup
	started.Add(2)
	lateDone := make(chan struct{})
	for w := range counts {
		done.Add(1)
		go func() {
			defer done.Done()
			if w == 2 {
				started.Wait() // the other two hold a range each
				defer close(lateDone)
			}
			first := true
			err := q.drain(context.Background(), func(m *aggregate.Member, index int64) error {
				if w < 2 && first {
					first = false
					started.Done()
					<-lateDone
				}
				mu.Lock()
				seen[index]++
				counts[w]++
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	done.Wait()
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("row %d read %d times", i+1, n)
		}
	}
	if counts[0] == 0 || counts[1] == 0 || counts[2] == 0 {
		t.Fatalf("rows read by each reader: %v, want every reader to have read some", counts)
	}
	if len(r.insurers) == 0 {
		t.Fatal("no insurer noted")
	}
}
