package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kougaku/batch/synth"
)

// TestIssue19_GenResolveShare: `batch gen --resolve-share F` makes F of the month's receipts
// ones the batch sets aside to resolve by name (its log's set_aside, counted by the join
// itself), none at 0; without the flag gen says nothing of it.
func TestIssue19_GenResolveShare(t *testing.T) {
	toResolve := regexp.MustCompile(`(?m)^to resolve by name: ([0-9,]+) receipts \(([0-9.]+)%\)$`)
	for _, c := range []struct {
		name string
		flag []string
		want float64 // share set aside; -1: as the population makes them
	}{
		{"without the flag", nil, -1},
		{"none", []string{"--resolve-share", "0"}, 0},
		{"1%", []string{"--resolve-share", "0.01"}, 0.01},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			var out, errs bytes.Buffer
			args := append([]string{"gen", "--households", "3000", "--month", "2025-10", "--seed", "3", "--out", in}, c.flag...)
			if code := run(context.Background(), args, &out, &errs); code != 0 {
				t.Fatalf("gen: exit %d\n%s", code, errs.String())
			}
			said := toResolve.FindStringSubmatch(out.String())
			if (said != nil) != (c.want >= 0) {
				t.Fatalf("gen %v printed:\n%s", c.flag, out.String())
			}
			out.Reset()
			errs.Reset()
			args = []string{"run", "--month", "2025-10", "--members", filepath.Join(in, synth.MembersFile),
				"--receipts", filepath.Join(in, synth.ReceiptsDir, "2025-10"), "--history", filepath.Join(in, synth.HistoryFile),
				"--out", filepath.Join(dir, "out"), "--log-format", "json"}
			if code := run(context.Background(), args, &out, &errs); code != 0 {
				t.Fatalf("run: exit %d\n%s", code, errs.String())
			}
			setAside, receipts := int64(0), int64(0)
			for _, line := range strings.Split(errs.String(), "\n") {
				var l struct {
					Msg      string `json:"msg"`
					SetAside int64  `json:"set_aside"`
					Read     int64  `json:"receipts_read"`
				}
				if json.Unmarshal([]byte(line), &l) != nil {
					continue
				}
				switch l.Msg {
				case "receipts resolved by name, birth date and sex":
					setAside = l.SetAside
				case "run complete":
					receipts = l.Read
				}
			}
			if receipts == 0 {
				t.Fatalf("no receipts_read in the run's log:\n%s", errs.String())
			}
			share := float64(setAside) / float64(receipts)
			t.Logf("%d of %d receipts set aside to resolve (%.3f%%)", setAside, receipts, 100*share)
			switch {
			case c.want < 0:
				if setAside == 0 {
					t.Error("without --resolve-share, no receipt to resolve")
				}
				return
			case c.want == 0 && setAside != 0:
				t.Errorf("--resolve-share 0: %d receipts set aside to resolve", setAside)
			case c.want > 0 && (share < 0.8*c.want || share > 1.2*c.want):
				t.Errorf("--resolve-share %g: %.3f%% set aside", c.want, 100*share)
			}
			if n, _ := strconv.ParseInt(strings.ReplaceAll(said[1], ",", ""), 10, 64); n != setAside {
				t.Errorf("gen said %s to resolve, the run set aside %d", said[1], setAside)
			}
		})
	}
}
