package pqcol

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// flat is a subset of sample's columns, in another order, as Rows reads them.
type flat struct {
	Flag  bool   `parquet:"flag"`
	Cost  int64  `parquet:"cost"`
	ID    string `parquet:"id"`
	Small int32  `parquet:"small"`
	Kind  string `parquet:"kind,dict"`
	Wide  int    `parquet:"small"` // an INT32 column into an int
}

// TestRows reads every row into structs and compares each field with what was written,
// across row groups and pages.
func TestRows(t *testing.T) {
	rows := makeRows(25_000, 9)
	path := writeRows(t, rows, parquet.PageBufferSize(2048), parquet.MaxRowsPerRowGroup(6000))
	var got []flat
	if err := Rows(context.Background(), path, func(b []flat) error { got = append(got, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(got), len(rows))
	}
	for i, w := range rows {
		want := flat{Flag: w.Flag, Cost: w.Cost, ID: w.ID, Small: w.Small, Kind: w.Kind, Wide: int(w.Small)}
		if got[i] != want {
			t.Fatalf("row %d: %+v, want %+v", i, got[i], want)
		}
	}
}

type withFloat struct {
	Name  string  `parquet:"name"`
	Share float64 `parquet:"share"`
}

func TestRowsFloatsAndMismatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	in := []withFloat{{"a", 0.25}, {"b", 1.5}, {"c", -3}}
	w := parquet.NewGenericWriter[withFloat](f)
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()
	var got []withFloat
	if err := Rows(context.Background(), path, func(b []withFloat) error { got = append(got, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != in[0] || got[1] != in[1] || got[2] != in[2] {
		t.Fatalf("got %+v, want %+v", got, in)
	}
	type wrongKind struct {
		Share string `parquet:"share"`
	}
	err = Rows(context.Background(), path, func([]wrongKind) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "share") {
		t.Fatalf("a string field over a DOUBLE column: %v", err)
	}
	type missing struct {
		Nope string `parquet:"nope"`
	}
	if err := Rows(context.Background(), path, func([]missing) error { return nil }); err == nil {
		t.Fatal("a field without a column was accepted")
	}
	type pointer struct {
		Name *string `parquet:"name"`
	}
	if err := Rows(context.Background(), path, func([]pointer) error { return nil }); err == nil {
		t.Fatal("a pointer field was accepted")
	}
}
