package aggregate

import (
	"fmt"
	"testing"
)

// Keys shaped as a month's (sequential household and person numbers under a few insurers)
// spread evenly over range partitions, and keys that differ in where one string ends or in
// one byte anywhere hash apart.
func TestHash2Spreads(t *testing.T) {
	const keys, parts = 600_000, 192
	counts := make([]int, parts)
	for i := range keys {
		counts[PartOf(Hash2(fmt.Sprintf("0%07d", 1000+i%47), fmt.Sprintf("%09d", i)), parts)]++
	}
	mean := keys / parts
	for p, n := range counts {
		if n < mean*9/10 || n > mean*11/10 {
			t.Fatalf("partition %d holds %d keys, the mean is %d", p, n, mean)
		}
	}
	seen := map[uint64]string{}
	for _, k := range [][2]string{{"ab", "c"}, {"a", "bc"}, {"abc", ""}, {"", "abc"}, {"", ""},
		{"06139999", "000000147"}, {"06139999", "000000148"}, {"06139998", "000000147"},
		{"06139999", "000000147-01"}, {"06139999", "000000147-02"}, {"0613999", "9000000147"},
		{"x", "123456789012345678"}, {"x", "123456789012345679"}, {"x", "023456789012345678"}} {
		h := Hash2(k[0], k[1])
		if other, ok := seen[h]; ok {
			t.Fatalf("%q and %s hash alike", k, other)
		}
		seen[h] = fmt.Sprintf("%q", k)
	}
}

func BenchmarkHash2(b *testing.B) {
	ins, hh, person := "06139999", "000000147", "000000147-01"
	var sink uint64
	for b.Loop() {
		sink ^= Hash2(ins, hh) ^ Hash2(ins, person)
	}
	_ = sink
}
