package receipt

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// splitEvent is one result of reading a record: its fields and start line, or the syntax
// error it had. Both readers are reduced to a list of these to compare them.
type splitEvent struct {
	Fields []string
	Line   int64
	Err    string // a ParseError with its positions, or ""
	Fatal  bool
}

func splitOurs(data []byte) []splitEvent {
	c := newCSVReader(bytes.NewReader(data))
	var out []splitEvent
	for {
		fields, line, syntax, err := c.read()
		if err == io.EOF {
			return out
		}
		switch {
		case err != nil:
			return append(out, splitEvent{Err: err.Error(), Fatal: true})
		case syntax != nil:
			out = append(out, splitEvent{Err: syntax.Error()})
		default:
			ev := splitEvent{Line: line}
			for _, f := range fields {
				ev.Fields = append(ev.Fields, string(f))
			}
			out = append(out, ev)
		}
	}
}

// splitStdlib reads data with encoding/csv set up as csvReader promises to behave.
func splitStdlib(data []byte) []splitEvent {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	r.FieldsPerRecord = -1
	var out []splitEvent
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			fatal := pe.Err == csv.ErrQuote && unterminated(data, pe)
			out = append(out, splitEvent{Err: pe.Error(), Fatal: fatal})
			if fatal {
				return out
			}
			continue
		}
		if err != nil {
			return append(out, splitEvent{Err: err.Error(), Fatal: true})
		}
		line, _ := r.FieldPos(0)
		out = append(out, splitEvent{Fields: rec, Line: int64(line)})
	}
}

// unterminated tells the two kinds of ErrQuote apart, which encoding/csv does not: text
// after a closing quote (the reader goes on with the next record) points at that quote; a
// quoted field still open at the end of the input points past the end of the last line.
func unterminated(data []byte, pe *csv.ParseError) bool {
	lines := bytes.SplitAfter(bytes.TrimPrefix(data, utf8BOM), []byte("\n"))
	if pe.Line-1 >= len(lines) {
		return true
	}
	l := lines[pe.Line-1]
	return pe.Column-1 >= len(l) || l[pe.Column-1] != '"'
}

// compareSplit checks csvReader against encoding/csv on data.
func compareSplit(t *testing.T, data []byte) {
	t.Helper()
	want := splitStdlib(data)
	got := splitOurs(data)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q\n got %+v\nwant %+v", data, got, want)
	}
}

func TestCSVReaderMatchesStdlib(t *testing.T) {
	for _, in := range []string{
		"",
		"\n",
		"a",
		"a,b,c\n1,2,3\n",
		"a,b\r\n1,2\r\n",
		"a,b\r\n1,2\r",
		"a,b\n\n\n1,2\n\r\n3,4",
		`a,"b,c",d` + "\n",
		`"a""b",c` + "\n",
		`"multi` + "\n" + `line",x` + "\n" + "next,1\n",
		`"multi` + "\r\n" + `line",x` + "\r\n",
		`"",""` + "\n",
		`,,` + "\n",
		`a,b"c,d` + "\n" + "e,f\n",
		`"a"b,c` + "\n" + "e,f\n",
		`"a",b` + "\n" + `"unterminated,c` + "\n" + "e,f\n",
		`"a` + "\n",
		`a,"b` + "\n\n\n",
		"\xEF\xBB\xBFh1,h2\n1,2\n",
		"x\ry,z\n",
		`"q"` + "\n" + `"r"`,
		"  a , b \n",
		strings.Repeat("x", 300<<10) + ",y\n" + `"` + strings.Repeat("z", 300<<10) + `"` + "\n", // lines longer than the buffer
	} {
		compareSplit(t, []byte(in))
	}
}

// FuzzCSVReaderMatchesStdlib holds csvReader to encoding/csv's syntax on arbitrary input.
func FuzzCSVReaderMatchesStdlib(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", `"a""b",c` + "\n", "\"x\ny\",z\r\n,\n", `a"b,c`, `"a"b`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareSplit(t, data)
	})
}

func TestCSVReaderLines(t *testing.T) {
	in := "h\n\n\"a\nb\"\r\n\r\nc\n\"d\"\n"
	var got []string
	c := newCSVReader(strings.NewReader(in))
	for {
		f, line, _, err := c.read()
		if err != nil {
			break
		}
		got = append(got, fmt.Sprintf("%d:%q", line, f[0]))
	}
	want := []string{`1:"h"`, `3:"a\nb"`, `6:"c"`, `7:"d"`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
