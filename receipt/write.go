package receipt

import (
	"encoding/csv"
	"io"
	"strconv"
)

// The writers below produce the contract's CSV inputs, for tests across the project and for
// the synthetic generator. Parquet inputs need no helper: Row, MemberRow and HistoryRow carry
// the contract's column names as parquet tags, so write them with
// parquet.NewGenericWriter[Row](w) (Write, then Close) and the readers here read them back.

// WriteReceiptsCSV writes rows as a receipts CSV with a header line. The cancel column is
// written only when some row has Cancel set, so a normal month's file looks like the
// contract's minimal one.
func WriteReceiptsCSV(w io.Writer, rows []Row) error {
	withCancel := false
	for i := range rows {
		if rows[i].Cancel {
			withCancel = true
			break
		}
	}
	withKana := false
	for i := range rows {
		if rows[i].NameKana != "" {
			withKana = true
			break
		}
	}
	cols := receiptColumns[:ColNameKana:ColNameKana]
	if withKana {
		cols = append(cols, receiptColumns[ColNameKana])
	}
	if withCancel {
		cols = append(cols, receiptColumns[ColCancel])
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	for i := range rows {
		r := &rows[i]
		rec = append(rec[:0], r.ReceiptID, r.ServiceMonth, r.InsurerNo, r.PersonID, r.InstitutionID,
			r.Kind, r.Setting, r.PrescriberID, strconv.FormatInt(r.Cost, 10), strconv.FormatInt(r.Copay, 10),
			strconv.FormatInt(r.Paid, 10), r.Tokutei, r.BirthDate, r.Sex)
		if withKana {
			rec = append(rec, r.NameKana)
		}
		if withCancel {
			rec = append(rec, strconv.FormatBool(r.Cancel))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteMembersCSV writes rows as a members CSV with a header line.
func WriteMembersCSV(w io.Writer, rows []MemberRow) error {
	withKana := false // the optional column only when some row has a name
	for i := range rows {
		if rows[i].NameKana != "" {
			withKana = true
			break
		}
	}
	cw := csv.NewWriter(w)
	cols := memberColumns[:mNameKana:mNameKana]
	if withKana {
		cols = append(cols, memberColumns[mNameKana])
	}
	if err := cw.Write(cols); err != nil {
		return err
	}
	for i := range rows {
		m := &rows[i]
		rec := []string{m.InsurerNo, m.PersonID, m.HouseholdID, m.BirthDate, m.Sex,
			m.ValidFrom, m.ValidTo, m.CategoryU70, m.Category70, m.HalfLimitsMonth}
		if withKana {
			rec = append(rec, m.NameKana)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteHistoryCSV writes rows as a history CSV with a header line.
func WriteHistoryCSV(w io.Writer, rows []HistoryRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(historyColumns); err != nil {
		return err
	}
	for i := range rows {
		h := &rows[i]
		if err := cw.Write([]string{h.InsurerNo, h.HouseholdID, h.ServiceMonth}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
