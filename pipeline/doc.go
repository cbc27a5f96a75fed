// Package pipeline runs one service month: it reads the inputs, routes receipts through the
// partitions of package aggregate, computes every household with package rules and writes the
// outputs and the reconciled manifest into a directory that appears whole or not at all. It
// owns the concurrency, the memory budget and the manifest.
//
// The month goes through three passes, each bounded in memory by partitioning:
//
//	intake   readers (one per file, concurrently) → Arrow batches → checks per receipt →
//	         person partitions (by hash of insurer and person), with the members master
//	join     per person partition: receipts meet their eligibility rows → household
//	         partitions (by hash of insurer and household), with the history
//	compute  per household partition: households in hash order → rules → rows, written in
//	         partition order by one writer per output file
//
// Partitions are ranges of the hash space, so the order of the outputs is the hash order
// whatever the number of partitions or workers: outputs are byte-identical at any --workers.
package pipeline
