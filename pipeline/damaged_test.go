package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIssue17_13_TruncatedParquetMessage: a receipts or members Parquet file cut in half
// stops the run with a message that names the file once and says, in plain words, that it
// is not a readable Parquet file.
func TestIssue17_13_TruncatedParquetMessage(t *testing.T) {
	m, mem, rec, _ := boundsInputs(t)
	for _, which := range []string{"receipts", "members"} {
		t.Run(which, func(t *testing.T) {
			dir := t.TempDir()
			mp, rp, _ := writeInputs(t, dir, "parquet", mem, rec, nil)
			cut := rp
			if which == "members" {
				cut = mp
			}
			b, err := os.ReadFile(cut)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			_, err = Run(context.Background(), Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, Out: out})
			if err == nil {
				t.Fatal("a run over a file cut in half succeeded")
			}
			msg := err.Error()
			if n := strings.Count(msg, cut); n != 1 {
				t.Errorf("message names %s %d times, want once: %s", cut, n, msg)
			}
			if !strings.Contains(msg, "not a readable Parquet file (cut short or damaged)") {
				t.Errorf("message does not say the file is cut short or damaged: %s", msg)
			}
			if strings.Contains(msg, "parquet-go") || strings.Contains(msg, "magic") {
				t.Errorf("message shows the library's internals: %s", msg)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the failed run left %s (%v)", out, err)
			}
		})
	}
}
