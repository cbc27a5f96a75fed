package receipt

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	for _, name := range []string{"b.csv", "a.PARQUET", "c.Csv", "notes.txt", "d.csv.bak", "sub/e.csv"} {
		p := filepath.Join(in, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(p), filepath.Base(p), nil)
	}
	if err := os.Mkdir(filepath.Join(in, "dir.csv"), 0o755); err != nil { // a directory, not a file
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(in, "b.csv"), filepath.Join(in, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(in, "gone"), filepath.Join(in, "dangling.csv")); err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, dir, "z.txt", nil)

	got, err := ExpandPaths([]string{filepath.Join(in, "c.Csv"), in, other, in + "/./b.csv", other})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(in, "c.Csv"), // as given, first
		filepath.Join(in, "a.PARQUET"),
		filepath.Join(in, "b.csv"), // link.csv is the same file
		other,                      // an explicit file is kept whatever its extension
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	missing := filepath.Join(dir, "nope.csv")
	if _, err := ExpandPaths([]string{in, missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing path: got %v, want an error naming %s", err, missing)
	}
	if got, err := ExpandPaths(nil); err != nil || len(got) != 0 {
		t.Errorf("no paths: %v, %v", got, err)
	}
}

func TestWriteReceiptsCSVCancelColumn(t *testing.T) {
	rows := sampleRows(3)
	for i := range rows {
		rows[i].Cancel = false
	}
	var buf bytes.Buffer
	if err := WriteReceiptsCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(buf.String(), "\n")
	if strings.Contains(header, "cancel") || strings.Count(header, ",") != 13 {
		t.Errorf("no canceled rows: header %q", header)
	}
	rows[1].Cancel = true
	buf.Reset()
	if err := WriteReceiptsCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasSuffix(lines[0], ",cancel") || !strings.HasSuffix(lines[1], ",false") || !strings.HasSuffix(lines[2], ",true") {
		t.Errorf("with a canceled row: %q", lines[:3])
	}
}

func TestFileErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    FileError
		want string
	}{
		{FileError{"r.csv", 17, os.ErrClosed}, "r.csv:17: " + os.ErrClosed.Error()},
		{FileError{"r.parquet", 3, os.ErrClosed}, "r.parquet:row 3: " + os.ErrClosed.Error()},
		{FileError{"r.csv", 0, os.ErrClosed}, "r.csv: " + os.ErrClosed.Error()},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
