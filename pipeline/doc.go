// Package pipeline runs one service month: it reads the inputs, routes receipts through the
// partitions of package aggregate, computes every household with package rules and writes the
// outputs and the reconciled manifest into a directory that appears whole or not at all. It
// owns the concurrency, the memory budget and the manifest.
//
// A receipt meets its eligibility row in one of three ways, chosen from the size of the
// members master against the memory budget (logged as "run planned", "person table sealed"):
//
//	members  the master read on every worker into an aggregate.Directory held in memory
//	intake   readers (one per file, concurrently) → Arrow batches → checks per receipt →
//	         the receipt joined to its person in the directory → household partitions (by
//	         hash of insurer and household), with the history; then the member rows in
//	         force of the households that got a receipt (of every household with
//	         Config.KeepMembers, which writes them all)
//
// or, for a master too large for a directory whose person table fits the budget, routed
// partitions (routed.go), one spill:
//
//	members  the master read into an aggregate.PersonTable: per person, the household
//	         partition of the rows that cover the month
//	intake   readers → Arrow batches → checks per receipt → the partition the table names,
//	         with the master read again (unknown and not-eligible persons' receipts are
//	         refused or set aside here), the history beside them
//	compute  per partition: a directory of its member rows, probed by its receipts, joined
//	         straight into the household pass's records (aggregate.RoutedJoin)
//
// or, for a master whose table would not fit either, two spills bounded by partitioning:
//
//	intake   readers → Arrow batches → checks per receipt → person partitions (by hash of
//	         insurer and person), with the members master
//	join     per person partition: a directory of its member rows, probed by its receipts
//	         → household partitions, with the history
//
// Every way gives the household pass the same records; then
//
//	compute  per household partition: duplicates dropped, households in hash order → rules
//	         → rows, written in partition order by one writer per output file (package
//	         output's column engine for the monthly files)
//
// Households builds the households of a month fed as records (the ledger's, which extract's
// simulation recomputes) by the same person partitions, join and household pass.
//
// Partitions are ranges of the hash space, so the order of the outputs is the hash order
// whatever the number of partitions or workers: outputs are byte-identical at any --workers.
package pipeline
