package receipt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// refParsed reads rows [from, to) of a members file the way of rows (ReadMembersRows, whose
// rows checkMember passed, then ParseMember): the rows read, and the error that stopped it.
func refParsed(t *testing.T, file string, from, to int64) ([]ParsedMember, error) {
	var got []ParsedMember
	err := ReadMembersRows(context.Background(), file, from, to, func(m MemberRow, line int64) error {
		p, err := ParseMember(&m)
		if err != nil {
			return &FileError{File: file, Line: line, Err: err}
		}
		got = append(got, cloneParsed(p))
		return nil
	})
	return got, err
}

func cloneParsed(p ParsedMember) ParsedMember {
	p.InsurerNo, p.PersonID, p.HouseholdID, p.Sex = strings.Clone(p.InsurerNo), strings.Clone(p.PersonID),
		strings.Clone(p.HouseholdID), strings.Clone(p.Sex)
	return p
}

// TestMembersParsedAgrees: on rows drawn from good and bad values of every column, with and
// without dictionaries, nulls, values to trim and optional columns left out, the way of
// columns reads the rows the way of rows reads, and stops at the same row with the same
// message. A bad row ends a read; the next read starts after it (row ranges), so that one
// file tries many bad rows.
func TestMembersParsedAgrees(t *testing.T) {
	type dictMember struct {
		InsurerNo       string  `parquet:"insurer_no,dict"`
		PersonID        string  `parquet:"person_id"`
		HouseholdID     string  `parquet:"household_id"`
		BirthDate       string  `parquet:"birth_date,dict"`
		Sex             *string `parquet:"sex,optional,dict"`
		ValidFrom       string  `parquet:"valid_from,dict"`
		ValidTo         *string `parquet:"valid_to,optional,dict"`
		CategoryU70     *string `parquet:"category_u70,optional,dict"`
		Category70      *string `parquet:"category_70,optional,dict"`
		HalfLimitsMonth *string `parquet:"half_limits_month,optional,dict"`
	}
	type plainMember struct {
		InsurerNo       string  `parquet:"insurer_no"`
		PersonID        string  `parquet:"person_id"`
		HouseholdID     string  `parquet:"household_id"`
		BirthDate       string  `parquet:"birth_date"`
		Sex             *string `parquet:"sex,optional"`
		ValidFrom       string  `parquet:"valid_from"`
		ValidTo         *string `parquet:"valid_to,optional"`
		CategoryU70     *string `parquet:"category_u70,optional"`
		Category70      *string `parquet:"category_70,optional"`
		HalfLimitsMonth *string `parquet:"half_limits_month,optional"`
	}
	type requiredOnly struct {
		InsurerNo   string `parquet:"insurer_no,dict"`
		PersonID    string `parquet:"person_id"`
		HouseholdID string `parquet:"household_id"`
		BirthDate   string `parquet:"birth_date"`
		ValidFrom   string `parquet:"valid_from,dict"`
	}
	s := func(v string) *string { return &v }
	// Good values first in each pool, mostly drawn; bad ones now and then.
	insurers := []string{"138000", " 06139999 ", "01130012", "13800", "1380000a", ""}
	persons := []string{"P1", " P2", "H1-01", " ", ""}
	births := []string{"1950-01-01", "2000-02-29", " 1949-12-31 ", "1951-02-29", "1950/01/01", "1799-12-31", "0000-01-01", ""}
	sexes := []*string{s("1"), s("2"), nil, s(" 2"), s("3"), s("M")}
	froms := []string{"2024-04", "2020-01", " 2025-10", "2024-13", "2024-4", "1700-01", ""}
	tos := []*string{nil, s("2026-03"), s(""), s("2030-12"), s("2019-12"), s("2024-00"), s("1799-12")}
	u70s := []*string{nil, s("A"), s(" U "), s("O"), s("X"), s("a")}
	o70s := []*string{nil, s("IPPAN"), s(" TEI2 "), s("GEN1"), s("GEN4"), s("ippan")}
	halves := []*string{nil, s(""), s("2025-10"), s("2025"), s("2025-13"), s("1000-01")}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int {
		if rng.IntN(40) == 0 {
			return rng.IntN(n)
		}
		return rng.IntN(min(n, 2))
	}
	const n = 6000
	var dict []dictMember
	var plain []plainMember
	var req []requiredOnly
	for i := range n {
		m := dictMember{InsurerNo: insurers[pick(len(insurers))], PersonID: persons[pick(len(persons))],
			HouseholdID: persons[pick(len(persons))], BirthDate: births[pick(len(births))], Sex: sexes[pick(len(sexes))],
			ValidFrom: froms[pick(len(froms))], ValidTo: tos[pick(len(tos))], CategoryU70: u70s[pick(len(u70s))],
			Category70: o70s[pick(len(o70s))], HalfLimitsMonth: halves[pick(len(halves))]}
		if i%97 == 0 {
			m.PersonID = "" // some bad rows for sure
		}
		dict = append(dict, m)
		plain = append(plain, plainMember(m))
		req = append(req, requiredOnly{m.InsurerNo, m.PersonID, m.HouseholdID, m.BirthDate, m.ValidFrom})
	}
	// Every column a dictionary, in pages of 1 KiB: several batches per row group, which take
	// the row group's dictionaries as read for its first.
	allDict := make([]allDictMember, len(dict))
	for i, m := range dict {
		allDict[i] = allDictMember(m)
		if m.PersonID == "P1" { // ids of many values, which fill a dictionary
			allDict[i].PersonID, allDict[i].HouseholdID = fmt.Sprintf("P%06d", i), fmt.Sprintf("H%06d", i/2)
		}
	}
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "dict.parquet"), filepath.Join(dir, "plain.parquet"), filepath.Join(dir, "required.parquet"),
		filepath.Join(dir, "alldict.parquet"), filepath.Join(dir, "fallback.parquet")}
	writeParquet(t, files[0], dict, 1000)
	writeParquet(t, files[1], plain, 1000)
	writeParquet(t, files[2], req, 1000)
	writeParquet(t, files[3], allDict, 2500, parquet.PageBufferSize(1024))
	// And dictionaries of at most 2 KiB: the ids' fall back to PLAIN pages within their
	// column chunks, as large writers' do.
	writeParquet(t, files[4], allDict, 2500, parquet.PageBufferSize(1024), parquet.DictionaryMaxBytes(2048))
	if encs := chunkEncodings(t, files[4], "person_id"); !slices.Contains(encs, format.RLEDictionary) || !slices.Contains(encs, format.Plain) {
		t.Fatalf("fallback.parquet: person_id's first chunk has pages of %v, want dictionary and PLAIN pages", encs)
	}
	agree := func(file string, from, to int64) ([]ParsedMember, error) {
		t.Helper()
		want, wantErr := refParsed(t, file, from, to)
		var got []ParsedMember
		gotErr := ReadMembersParsed(context.Background(), file, from, to, func(m *ParsedMember, _ int64) error {
			got = append(got, cloneParsed(*m))
			return nil
		})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s rows %d to %d: %d rows read, the way of rows %d; first difference at %d",
				file, from, to, len(got), len(want), firstDiff(got, want))
		}
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%s rows %d to %d: error %v, the way of rows %v", file, from, to, gotErr, wantErr)
		}
		routesAgree(t, file, from, to, got, gotErr)
		return got, gotErr
	}
	for _, file := range files {
		bad, rows := 0, 0
		for from := int64(0); from < n; {
			got, err := agree(file, from, n)
			rows += len(got)
			if err == nil {
				break
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line <= from {
				t.Fatalf("%s: error %v has no row after %d", file, err, from)
			}
			bad++
			from = fe.Line // the bad row is row fe.Line-1: start after it
		}
		if bad < 50 || rows < 3000 {
			t.Fatalf("%s: %d bad rows and %d good ones tried, too few to tell", file, bad, rows)
		}
		// Ranges that end anywhere, as the pipeline cuts a master among its readers.
		for range 40 {
			from := rng.Int64N(n)
			agree(file, from, from+1+rng.Int64N(n-from))
		}
	}
}

// routesAgree: ReadMemberRoutes reads of every row that ReadMembersParsed read (rows, up to
// its error fullErr) the route columns alone, and fails no sooner: a row it refuses has a
// route field that the whole read refuses too, so the whole read stops there or before.
// When the whole read's row fails on a route field alone, both say the same.
func routesAgree(t *testing.T, file string, from, to int64, rows []ParsedMember, fullErr error) {
	t.Helper()
	var got []ParsedMember
	err := ReadMemberRoutes(context.Background(), file, from, to, func(m *ParsedMember, _ int64) error {
		got = append(got, cloneParsed(*m))
		return nil
	})
	if len(got) < len(rows) {
		t.Fatalf("%s rows %d to %d: routes read %d rows (error %v), the whole read %d", file, from, to, len(got), err, len(rows))
	}
	for i, m := range rows {
		want := ParsedMember{InsurerNo: m.InsurerNo, PersonID: m.PersonID, HouseholdID: m.HouseholdID, From: m.From, To: m.To}
		if got[i] != want {
			t.Fatalf("%s row %d: routes read %+v, want %+v", file, from+int64(i)+1, got[i], want)
		}
	}
	var fe, fullFE *FileError
	if err != nil {
		if !errors.As(err, &fe) || !errors.As(fullErr, &fullFE) || fullFE.Line > fe.Line {
			t.Fatalf("%s rows %d to %d: routes read stopped at %v, the whole read at %v", file, from, to, err, fullErr)
		}
		if fullFE.Line == fe.Line && routeFieldError(fullErr) && err.Error() != fullErr.Error() {
			t.Fatalf("%s rows %d to %d: routes read says %v, the whole read %v", file, from, to, err, fullErr)
		}
	}
}

// routeFieldError tells an error about one of the route columns.
func routeFieldError(err error) bool {
	for _, c := range []string{"insurer", "person_id", "household_id", "valid_from", "valid_to"} {
		if strings.Contains(err.Error(), c) {
			return true
		}
	}
	return false
}

// allDictMember is the members' row type with a dictionary on every column.
type allDictMember struct {
	InsurerNo       string  `parquet:"insurer_no,dict"`
	PersonID        string  `parquet:"person_id,dict"`
	HouseholdID     string  `parquet:"household_id,dict"`
	BirthDate       string  `parquet:"birth_date,dict"`
	Sex             *string `parquet:"sex,optional,dict"`
	ValidFrom       string  `parquet:"valid_from,dict"`
	ValidTo         *string `parquet:"valid_to,optional,dict"`
	CategoryU70     *string `parquet:"category_u70,optional,dict"`
	Category70      *string `parquet:"category_70,optional,dict"`
	HalfLimitsMonth *string `parquet:"half_limits_month,optional,dict"`
}

// chunkEncodings is the encodings of the data pages of column name's first chunk.
func chunkEncodings(t *testing.T, path, name string) []format.Encoding {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var encs []format.Encoding
	for _, c := range pf.Metadata().RowGroups[0].Columns {
		if c.MetaData.PathInSchema[0] == name {
			for _, s := range c.MetaData.EncodingStats {
				if s.PageType == format.DataPage || s.PageType == format.DataPageV2 {
					encs = append(encs, s.Encoding)
				}
			}
		}
	}
	return encs
}

func firstDiff(a, b []ParsedMember) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// FuzzMemberFields: for any values of a row, the way of columns (readField per value, then
// row, or judge when row refuses) accepts what checkMember and ParseMember accept, reads it
// as ParseMember does, and refuses the rest with their message.
func FuzzMemberFields(f *testing.F) {
	f.Add("138000", "P1", "H1", "1950-01-01", "1", "2020-04", "", "", "IPPAN", "")
	f.Add("06139999", "P2", "H1", "2000-02-29", "", "2020-04", "2020-03", "A", "", "2025-10")
	f.Add("1380000", " ", "H1", "1799-12-31", "3", "2020-4", "2021-00", "X", "GEN4", "2025")
	f.Fuzz(func(t *testing.T, ins, per, hh, birth, sex, from, to, u70, o70, half string) {
		raw := [numMemberColumns]string{ins, per, hh, birth, sex, from, to, u70, o70, half}
		var mb memberBatch
		mb.bad = []bool{false}
		var v [numMemberColumns]string
		for c := range raw {
			fl := readField(c, []byte(raw[c]))
			mb.s[c], mb.n[c] = []string{fl.s}, []int32{fl.n}
			mb.bad[0] = mb.bad[0] || !fl.ok
			v[c] = string(trimSpace([]byte(raw[c])))
		}
		var got ParsedMember
		var gotErr error
		if !mb.row(0, &got) {
			gotErr = mb.judge(0, &got)
		}
		row := memberFromCSV(v[:])
		wantErr := checkMember(&row)
		var want ParsedMember
		if wantErr == nil {
			want, wantErr = ParseMember(&row)
		}
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, want %v", raw, gotErr, wantErr)
		}
		if gotErr == nil && got != want {
			t.Fatalf("%q: read %+v, want %+v", raw, got, want)
		}
	})
}
