// Package synth makes synthetic populations and their months of receipts, reproducible from a
// seed, for runs, tests and benchmarks.
//
// Generate writes, under Config.Out:
//
//	members.parquet                          eligibility rows (receipt.MemberRow), household order
//	history.parquet                          prior counting months (receipt.HistoryRow)
//	receipts/YYYY-MM/part-NNNN.parquet       receipts (receipt.Row), household order
//	uke/YYYY-MM/RECEIPTC-NNNN-G.UKE          with Format "uke": the same receipts as UKE files
//	uke/YYYY-MM/RECEIPTY-NNNN-G.CYO          (医科/DPC/歯科, 調剤), grouped by institution
//
// A receipt_id is the one its UKE file gives it (receipt.ReadUKE): institution_id, 請求年月
// (the month after the service month), volume 00 and the レセプト番号, so the two formats name
// every receipt alike and ReadUKE over the UKE files yields exactly the Parquet rows.
//
// The population is calibrated to public figures: insurer types, income classes, the split of
// receipt kinds and the tail of costs come from distributions.json, where every table names
// its source (fixtures/synth/distributions.json is the same file for readers of fixtures/).
//
// Every household is drawn from its own random streams, derived from (Seed, household index)
// and, for receipts, the month: a household is rebuilt identically by whichever task needs it,
// so files are written in parallel, memory stays flat at any population size, and the same
// Config gives byte-identical files.
package synth
