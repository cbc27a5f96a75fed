package pipeline

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// TestIssue17_13_JoinLogCountsRefusals: the log line that ends the join counts the receipts
// the join refused (an unknown person, a receipt out of eligibility), which reach the
// rejects only in the household pass, beside those refused at the intake, on both ways of the
// join.
func TestIssue17_13_JoinLogCountsRefusals(t *testing.T) {
	const month = "2025-10"
	m, _ := rules.ParseMonth(month)
	good := monthCases(t, month)
	mem, rec, hist := goldenInputs(good)
	ins := good[0].InsurerNo
	bad := func(id, person, service string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: service, InsurerNo: ins, PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 500000, Copay: 150000, Paid: 150000}
	}
	rec = append(rec, bad("X1", "NOBODY-1", month), bad("X2", "NOBODY-2", month), bad("X3", "NOBODY-3", "2025-09"))
	for _, way := range []struct {
		name     string
		persons  bool
		unrouted bool
		msg      string
	}{{"in memory", false, false, "intake and join done"}, {"routed partitions", true, false, "intake done"}, {"person partitions", true, true, "join done"}} {
		t.Run(way.name, func(t *testing.T) {
			dir := t.TempDir()
			mp, rp, hp := writeInputs(t, dir, "csv", mem, rec, hist)
			var logs bytes.Buffer
			out := runMonth(t, dir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp},
				Out: filepath.Join(dir, "out"), PersonPartitions: way.persons, Unrouted: way.unrouted, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			if len(out.rejects) != 3 {
				t.Fatalf("%d rejects, want 3 (two UNKNOWN_PERSON, one MONTH_MISMATCH): %+v", len(out.rejects), out.rejects)
			}
			var rejected, atIntake, byJoin int64
			found := false
			for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
				var rec map[string]any
				if json.Unmarshal(l, &rec) != nil || rec["msg"] != way.msg {
					continue
				}
				found = true
				rejected, atIntake, byJoin = num(rec["rejected"]), num(rec["rejected_at_intake"]), num(rec["refused_by_join"])
			}
			if !found {
				t.Fatalf("no %q line in the log:\n%s", way.msg, logs.String())
			}
			if rejected != 3 || atIntake != 1 || byJoin != 2 {
				t.Errorf("%q logs rejected %d (intake %d, join %d), want 3 (1, 2)", way.msg, rejected, atIntake, byJoin)
			}
		})
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
