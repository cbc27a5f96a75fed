// Package extract has one job: actuarial tables and the report from the ledger. It reads the
// months a ledger holds (never the inputs of a run, never a run's output directory) and
// writes, into one directory that appears whole or not at all, tables an actuary can set
// beside the published statistics (社会保障審議会医療保険部会 資料: 支給件数, 支給金額 and
// 1件当たり金額 by insurer type, 現物給付 and 現金給付, 多数回; the share of 70+ patients
// reaching the outpatient limits; the 機械的なモデル試算 of a uniform raise of every limit), as
// Parquet and CSV, with a self-contained HTML report.
//
// Two operations:
//
//   - Run (batch extract): the benefit tables of a range of months as the ledger has them;
//   - Simulate (batch simulate): the same months recomputed from the ledger's receipts and
//     members under scenario tables, every scenario in one pass over each month.
//
// Every table says which unit it counts (household months, person months or persons) and
// every yen total of every table reconciles to the ledger's household rows of its months:
// Run checks that before it commits.
package extract
