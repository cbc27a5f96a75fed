// Command corrections writes a correction file for a benchmark: every Nth receipt of a month's
// normalized receipts with its amounts raised by half, as a correction run would bring them.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
)

func main() {
	every := flag.Int("every", 100, "take every Nth receipt (100: 1%)")
	offset := flag.Int("offset", 0, "start at this receipt (less than --every): another set of receipts")
	out := flag.String("out", "corrections.parquet", "output file")
	flag.Parse()
	files, err := receipt.ExpandPaths(flag.Args())
	if err != nil {
		fail(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		fail(err)
	}
	w := parquet.NewGenericWriter[receipt.Row](f)
	n, i := 0, 0
	for _, file := range files {
		err := output.Each(file, func(rows []receipt.Row) error {
			for _, r := range rows {
				if i%*every == *offset {
					r.Cost, r.Copay, r.Paid = r.Cost/10*15, r.Copay/10*15, r.Paid/10*15
					if _, err := w.Write([]receipt.Row{r}); err != nil {
						return err
					}
					n++
				}
				i++
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
	}
	if err := w.Close(); err != nil {
		fail(err)
	}
	f.Close()
	fmt.Printf("%d corrections of %d receipts into %s\n", n, i, *out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "corrections:", err)
	os.Exit(1)
}
