package extract

import "github.com/kougaku/batch/rules"

// The counter under a scenario. A receipt paid below its copay had a limit applied at the
// counter (現物給付): the institution collected the receipt's own limit and the rest became
// in-kind benefit. Under raised limits the counter would have collected the raised limit, so
// holding paid fixed would credit a raise with none of its in-kind effect (a one-receipt
// household capped at the counter would gain nothing at all). The simulation therefore moves
// such a receipt's paid by the change of the limit that explains it:
//
//   - the limit is identified by the paid amount: the receipt's own formula limit (its
//     cost, its person's age and halving, the household's class; the 70+ outpatient limit
//     for a 70+ outpatient receipt where the class has one; 特定疾病's own limit), or the
//     多数回 amount;
//   - paid moves by the scenario's limit minus the ledger's, and stays within [0, copay];
//   - a paid below copay matching neither is some other reduction (公費, …), which a
//     change of 高額療養費 limits leaves where it is.
//
// Under +0% every limit is the same, so every receipt keeps its paid and the recomputation is
// the ledger's. Under a raise no limit falls (rules.Table.Raised), so no paid falls, and the
// household's burden cannot fall either: the benefit never grows.

// counterPaid is rc's paid under table ts, given its paid under t0.
func counterPaid(t0, ts *rules.Table, h *rules.Household, rc *rules.Receipt, old, half bool) int64 {
	if rc.Paid >= rc.Copay {
		return rc.Paid
	}
	f0, tas0 := counterLimits(t0, h, rc, old, half)
	var d int64
	switch fs, tass := counterLimits(ts, h, rc, old, half); {
	case rc.Paid == f0:
		d = fs - f0
	case tas0 > 0 && rc.Paid == tas0:
		d = tass - tas0
	default:
		return rc.Paid
	}
	return min(max(rc.Paid+d, 0), rc.Copay)
}

// counterLimits are the limits a counter may have applied to rc alone under t: the formula's
// for the receipt's cost, and the 多数回 amount (0 where there is none).
func counterLimits(t *rules.Table, h *rules.Household, rc *rules.Receipt, old, half bool) (formula, tasukai int64) {
	switch {
	case rc.Tokutei == rules.Chou2 && !old:
		return t.Chou2, 0
	case rc.Tokutei != rules.TokuteiNone:
		return t.Chou, 0
	}
	var f rules.Formula
	if old {
		l := &t.O70[h.Class70]
		f, tasukai = l.Household, l.Tasukai
		if rc.Setting == rules.Outpatient && l.HasOutpatient {
			f, tasukai = l.Outpatient, 0
		}
	} else {
		l := &t.U70[h.ClassU70]
		f, tasukai = l.Monthly, l.Tasukai
	}
	if half {
		f, tasukai = f.Half(), tasukai/2
	}
	return f.Limit(rc.Cost), tasukai
}
