// Package rules is the only place that knows the law: the limit tables, versioned by service
// month, and the household-month computation of 高額療養費 with its apportionment to receipts.
//
// It is pure computation: no I/O beyond reading the tables it embeds or is handed, no clock, no
// logging, deterministic, and allocation-free per household in steady state. Money is int64
// yen throughout; configured rates are decimals converted once into exact integer ratios.
package rules
