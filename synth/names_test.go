package synth

import (
	"strings"
	"testing"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/rules"
)

// TestIssue19_GenMakesReceiptsToResolve: every member row has a kana name; some receipts are
// claimed under a mover's old card (a row there that ended before the month, with the same
// name, birth date and sex as the person's row in force) and a few under the all-7 不詳
// number, about 0.1% of the receipts together; some institutions write the name in
// half-width, which normalizes to the master's; a few movers have a namesake in force.
func TestIssue19_GenMakesReceiptsToResolve(t *testing.T) {
	d := sharedData(t)
	namesakes := 0
	for _, m := range d.members {
		if m.NameKana == "" {
			t.Fatalf("member %s/%s without name_kana", m.InsurerNo, m.PersonID)
		}
		if m.PersonID[0] == 'N' {
			namesakes++
		}
	}
	var total, old, sevens, half int
	for k, rs := range d.receipts {
		month := d.cfg.Month + rules.Month(k)
		for _, r := range rs {
			total++
			switch {
			case r.InsurerNo == allSevens:
				sevens++
			case r.PersonID[0] == 'K':
				old++
				rows := d.persons[r.InsurerNo+"/"+r.PersonID]
				if _, ok := rowAt(rows, month); ok || len(rows) != 1 || aggregate.KanaKey(rows[0].NameKana) != aggregate.KanaKey(r.NameKana) ||
					rows[0].BirthDate != r.BirthDate || rows[0].Sex != r.Sex {
					t.Fatalf("%s: claimed under the old card %s, whose rows %+v should have ended with the same name, birth date and sex", r.ReceiptID, r.PersonID, rows)
				}
			}
			if r.NameKana == "" {
				t.Fatalf("%s: no name_kana", r.ReceiptID)
			}
			if strings.ContainsRune(r.NameKana, 'ｰ') || strings.ContainsAny(r.NameKana, "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ") {
				half++
			}
		}
	}
	share := float64(old+sevens) / float64(total)
	t.Logf("%d receipts: %d under an old card, %d all-7s (%.3f%%), %d half-width; %d namesakes", total, old, sevens, 100*share, half, namesakes)
	if old == 0 || sevens == 0 || namesakes == 0 || share < 0.0003 || share > 0.003 {
		t.Errorf("%d under an old card, %d all-7s (%.3f%% of %d), %d namesakes: want some of each, about 0.1%% together", old, sevens, 100*share, total, namesakes)
	}
	if half < total/20 || half > total/4 {
		t.Errorf("%d of %d receipts with a half-width name, want about 1 in %d", half, total, halfWidthInst)
	}
}
