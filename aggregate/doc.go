// Package aggregate turns a month of receipts into households: it joins receipts to the
// members master (held in memory as a Directory when it fits the budget, else through person
// partitions), partitions them by household hash so that one partition fits the memory
// budget (spilling to disk beyond it), sorts each partition, drops duplicate receipts and
// hands every household to the rules as plain Go structs with dense member indexes.
//
// The cut is the one that later lets the month run as one job per bucket: no code here assumes
// it sees every household of the month, only every receipt of each household it sees.
package aggregate
