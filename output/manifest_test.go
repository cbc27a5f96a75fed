package output

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func testManifest() Manifest {
	args := []string{"batch", "run", "--month", "2025-10", "--out", "/data/runs/2025-10"}
	return Manifest{
		RunID:        RunID(append(slices.Clone(args), "2025-10", "0f1e")...),
		CommandLine:  args,
		RulesVersion: "2025-10",
		ServiceMonth: "2025-10",
		Inputs: []Input{
			{Path: "/data/in/receipts.parquet", Size: 1234, SHA256: strings.Repeat("ab", 32), Rows: 30},
			{Path: "/data/in/members.csv", Size: 99, SHA256: strings.Repeat("01", 32), Rows: 4},
		},
		// Deliberately out of order: MarshalJSON sorts them.
		Outputs: []OutputFile{
			{Name: ReceiptBenefitFile, Rows: 25},
			{Name: HouseholdMonthFile, Rows: 3},
			{Name: RejectsFile, Rows: 3},
		},
		Reconciliation: Reconciliation{
			ReceiptsRead: 28, ReceiptsAccepted: 25, ReceiptsRejected: 3,
			PaidRead: 1_000_005, PaidAccepted: 1_000_000, PaidRejected: 5,
			BenefitCashHouseholds: 1200, BenefitCashReceipts: 1200, BenefitCashPersons: 1200,
			Balanced: true,
		},
		RejectsByReason:    map[string]int64{"UNKNOWN_PERSON": 1, "BAD_RECORD": 1, "AMOUNT_INVALID": 1},
		MembersConflicting: 2,
		Warnings:           []string{"members.csv:3: valid_to before valid_from", "history: no rows for insurer 39131001"},
	}
}

// wantManifestJSON pins the manifest's bytes: field order, indentation, sorted map keys,
// sorted outputs and warnings, trailing newline.
const wantManifestJSON = `{
  "run_id": "RUNID",
  "command_line": [
    "batch",
    "run",
    "--month",
    "2025-10",
    "--out",
    "/data/runs/2025-10"
  ],
  "rules_version": "2025-10",
  "service_month": "2025-10",
  "inputs": [
    {
      "path": "/data/in/receipts.parquet",
      "size": 1234,
      "sha256": "abababababababababababababababababababababababababababababababab",
      "rows": 30
    },
    {
      "path": "/data/in/members.csv",
      "size": 99,
      "sha256": "0101010101010101010101010101010101010101010101010101010101010101",
      "rows": 4
    }
  ],
  "outputs": [
    {
      "name": "household_month.parquet",
      "rows": 3
    },
    {
      "name": "receipt_benefit.parquet",
      "rows": 25
    },
    {
      "name": "rejects.parquet",
      "rows": 3
    }
  ],
  "reconciliation": {
    "receipts_read": 28,
    "receipts_accepted": 25,
    "receipts_rejected": 3,
    "paid_read": 1000005,
    "paid_accepted": 1000000,
    "paid_rejected": 5,
    "receipts_cancelled": 0,
    "paid_cancelled": 0,
    "benefit_cash_households": 1200,
    "benefit_cash_receipts": 1200,
    "benefit_cash_persons": 1200,
    "balanced": true
  },
  "rejects_by_reason": {
    "AMOUNT_INVALID": 1,
    "BAD_RECORD": 1,
    "UNKNOWN_PERSON": 1
  },
  "members_conflicting": 2,
  "resolved_by_reason": {},
  "warnings": [
    "history: no rows for insurer 39131001",
    "members.csv:3: valid_to before valid_from"
  ]
}
`

func TestManifestBytes(t *testing.T) {
	m := testManifest()
	want := strings.Replace(wantManifestJSON, "RUNID", m.RunID, 1)

	// The same manifest, with its order-sensitive parts shuffled, as a concurrent run
	// might assemble it.
	shuffled := testManifest()
	slices.Reverse(shuffled.Outputs)
	slices.Reverse(shuffled.Warnings)

	for i, m := range []Manifest{m, testManifest(), shuffled} {
		d := newDir(t)
		if err := d.WriteJSON(ManifestFile, m); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(d.TempPath(), ManifestFile))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("manifest %d:\n%s\nwant:\n%s", i, got, want)
		}
	}
	if !slices.Equal(m.Warnings, testManifest().Warnings) || m.Outputs[0].Name != ReceiptBenefitFile {
		t.Error("MarshalJSON reordered the caller's slices")
	}

	// And it reads back.
	var back Manifest
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if back.Reconciliation != m.Reconciliation || back.RejectsByReason["BAD_RECORD"] != 1 || len(back.Inputs) != 2 || back.MembersConflicting != 2 {
		t.Errorf("unmarshalled %+v", back)
	}
}

func TestManifestEmptyLists(t *testing.T) {
	b, err := json.Marshal(Manifest{RunID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"command_line":[]`, `"inputs":[]`, `"outputs":[]`, `"rejects_by_reason":{}`, `"warnings":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("%s has a null", b)
	}
}

func TestRunID(t *testing.T) {
	id := RunID("batch", "run", "--month", "2025-10")
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("RunID = %q, want 32 lowercase hex digits", id)
	}
	if again := RunID("batch", "run", "--month", "2025-10"); again != id {
		t.Errorf("RunID not deterministic: %s, %s", id, again)
	}
	distinct := [][]string{
		{"batch", "run", "--month", "2025-10"},
		{"batch", "run", "--month", "2025-11"},
		{"batchrun", "--month", "2025-10"},
		{"batch", "run--month", "2025-10"},
		{"run", "batch", "--month", "2025-10"},
		{"batch", "run", "--month", "2025-10", ""},
		{},
		{""},
	}
	seen := map[string]int{}
	for i, parts := range distinct {
		id := RunID(parts...)
		if j, dup := seen[id]; dup {
			t.Errorf("RunID(%q) = RunID(%q)", parts, distinct[j])
		}
		seen[id] = i
	}
}

func TestReconciliationCheck(t *testing.T) {
	balanced := testManifest().Reconciliation
	cases := []struct {
		name   string
		change func(r *Reconciliation)
		want   []string // failing equations
	}{
		{"balanced", func(r *Reconciliation) {}, nil},
		{"balanced with nothing read", func(r *Reconciliation) { *r = Reconciliation{} }, nil},
		{"a receipt lost", func(r *Reconciliation) { r.ReceiptsAccepted-- }, []string{EqReceipts}},
		{"a receipt counted twice", func(r *Reconciliation) { r.ReceiptsRejected++ }, []string{EqReceipts}},
		{"paid of a reject missing", func(r *Reconciliation) { r.PaidRejected = 0 }, []string{EqPaid}},
		{"paid read short", func(r *Reconciliation) { r.PaidRead -= 1 }, []string{EqPaid}},
		{"receipt apportionment off by a yen", func(r *Reconciliation) { r.BenefitCashReceipts++ }, []string{EqBenefitReceipts}},
		{"person sum off", func(r *Reconciliation) { r.BenefitCashPersons = 0 }, []string{EqBenefitPersons}},
		{"household sum off", func(r *Reconciliation) { r.BenefitCashHouseholds += 10 }, []string{EqBenefitReceipts, EqBenefitPersons}},
		{"everything off", func(r *Reconciliation) {
			r.ReceiptsRead, r.PaidRead, r.BenefitCashReceipts, r.BenefitCashPersons = 0, 0, 1, 2
		}, []string{EqReceipts, EqPaid, EqBenefitReceipts, EqBenefitPersons}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := balanced
			c.change(&r)
			err := r.Check()
			var got []string
			for _, e := range Imbalances(err) {
				got = append(got, e.Equation)
				if !strings.Contains(err.Error(), e.Equation) {
					t.Errorf("error %q does not name %s", err, e.Equation)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("failing equations %q, want %q (error: %v)", got, c.want, err)
			}
			if (err == nil) != (c.want == nil) {
				t.Errorf("Check() = %v", err)
			}
			if serr := r.Settle(); r.Balanced != (c.want == nil) || (serr == nil) != (err == nil) {
				t.Errorf("Settle set Balanced=%v, returned %v", r.Balanced, serr)
			}
		})
	}

	r := balanced
	r.PaidAccepted -= 7
	if got := r.Check().Error(); got != "reconciliation: paid_read = paid_accepted + paid_rejected does not hold: 1000005 ≠ 999998 (off by 7)" {
		t.Errorf("message %q", got)
	}
}

// Digest gives a file's size and SHA-256, for a file longer than its read buffer.
func TestDigest(t *testing.T) {
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7919 >> 3)
	}
	path := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	size, sum, err := Digest(path)
	want := sha256.Sum256(data)
	if err != nil || size != int64(len(data)) || sum != hex.EncodeToString(want[:]) {
		t.Fatalf("Digest = %d, %s, %v; want %d, %x", size, sum, err, len(data), want)
	}
	if _, _, err := Digest(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("Digest of an absent file: no error")
	}
}
