package receipt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleMembers() []MemberRow {
	return []MemberRow{
		{InsurerNo: "138000", PersonID: "P1", HouseholdID: "H1", BirthDate: "1950-01-01", Sex: "1",
			ValidFrom: "2020-04", CategoryU70: "", Category70: "IPPAN"},
		{InsurerNo: "06139999", PersonID: "P2", HouseholdID: "H1", BirthDate: "1980-02-29", Sex: "2",
			ValidFrom: "2020-04", ValidTo: "2025-03", CategoryU70: "U", HalfLimitsMonth: "2025-01"},
		{InsurerNo: "138000", PersonID: "P,3", HouseholdID: "H2", BirthDate: "2010-12-31",
			ValidFrom: "2025-04", ValidTo: "2025-04", CategoryU70: "A"},
	}
}

type memberGot struct {
	M   MemberRow
	Src string
}

func readMembers(t *testing.T, file string) ([]memberGot, error) {
	t.Helper()
	var got []memberGot
	err := ReadMembers(context.Background(), file, func(m MemberRow, line int64) error {
		got = append(got, memberGot{m, Position(file, line)})
		return nil
	})
	return got, err
}

func TestMembersRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows := sampleMembers()
	var buf bytes.Buffer
	if err := WriteMembersCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	csvFile := writeFile(t, dir, "m.csv", buf.Bytes())
	pqFile := filepath.Join(dir, "m.parquet")
	writeParquet(t, pqFile, rows, 0)
	for _, tc := range []struct {
		file string
		srcs []string
	}{
		{csvFile, []string{csvFile + ":2", csvFile + ":3", csvFile + ":4"}},
		{pqFile, []string{pqFile + ":row 1", pqFile + ":row 2", pqFile + ":row 3"}},
	} {
		got, err := readMembers(t, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var want []memberGot
		for i, m := range rows {
			want = append(want, memberGot{m, tc.srcs[i]})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.file, got, want)
		}
	}
}

func TestMembersOptionalColumnsAndOrder(t *testing.T) {
	data := "valid_from, Person_ID ,household_id,insurer_no,birth_date,other\r\n" +
		"2024-04,P1,H1, 138000 ,1950-01-01,x\r\n"
	file := writeFile(t, t.TempDir(), "m.csv", []byte(data))
	got, err := readMembers(t, file)
	if err != nil {
		t.Fatal(err)
	}
	want := []memberGot{{MemberRow{InsurerNo: "138000", PersonID: "P1", HouseholdID: "H1", BirthDate: "1950-01-01", ValidFrom: "2024-04"}, file + ":2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestMembersParquetRequiredOnly: GenericReader[MemberRow] reads a file without the
// optional columns, leaving them empty.
func TestMembersParquetRequiredOnly(t *testing.T) {
	type requiredMember struct {
		ValidFrom   string `parquet:"valid_from"`
		HouseholdID string `parquet:"household_id"`
		PersonID    string `parquet:"person_id"`
		InsurerNo   string `parquet:"insurer_no"`
		BirthDate   string `parquet:"birth_date"`
	}
	file := filepath.Join(t.TempDir(), "m.parquet")
	writeParquet(t, file, []requiredMember{{"2024-04", "H1", "P1", "138000", "1950-01-01"}, {"2024-05", "H2", " P2 ", "138000", "1960-01-01"}}, 0)
	got, err := readMembers(t, file)
	if err != nil {
		t.Fatal(err)
	}
	want := []memberGot{
		{MemberRow{InsurerNo: "138000", PersonID: "P1", HouseholdID: "H1", BirthDate: "1950-01-01", ValidFrom: "2024-04"}, file + ":row 1"},
		{MemberRow{InsurerNo: "138000", PersonID: "P2", HouseholdID: "H2", BirthDate: "1960-01-01", ValidFrom: "2024-05"}, file + ":row 2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestBadMembers: a bad member row stops the read with a FileError at its line.
func TestBadMembers(t *testing.T) {
	const header = "insurer_no,person_id,household_id,birth_date,sex,valid_from,valid_to,category_u70,category_70,half_limits_month\n"
	const good = "138000,P1,H1,1950-01-01,1,2020-04,,,IPPAN,\n"
	for _, tc := range []struct {
		name, line, msg string
	}{
		{"birth date format", "138000,P2,H1,1950/01/01,1,2020-04,,,IPPAN,", `birth_date: bad date "1950/01/01"`},
		{"birth date day", "138000,P2,H1,1951-02-29,1,2020-04,,,IPPAN,", `birth_date: bad date "1951-02-29"`},
		{"valid_from", "138000,P2,H1,1950-01-01,1,2020-4,,,IPPAN,", `valid_from: bad month "2020-4"`},
		{"valid_to", "138000,P2,H1,1950-01-01,1,2020-04,2020-00,,IPPAN,", `valid_to: bad month "2020-00"`},
		{"reversed", "138000,P2,H1,1950-01-01,1,2020-04,2020-03,,IPPAN,", "valid_to 2020-03 is before valid_from 2020-04"},
		{"u70 code", "138000,P2,H1,1950-01-01,1,2020-04,,X,,", `category_u70: unknown code "X"`},
		{"70 code", "138000,P2,H1,1950-01-01,1,2020-04,,,GEN4,", `category_70: unknown code "GEN4"`},
		{"half month", "138000,P2,H1,1950-01-01,1,2020-04,,,IPPAN,2025", `half_limits_month: bad month "2025"`},
		{"sex", "138000,P2,H1,1950-01-01,9,2020-04,,,IPPAN,", `sex: unknown code "9"`},
		{"insurer", "13800,P2,H1,1950-01-01,1,2020-04,,,IPPAN,", `insurer_no: bad number "13800"`},
		{"person", "138000, ,H1,1950-01-01,1,2020-04,,,IPPAN,", "person_id: empty"},
		{"household", "138000,P2,,1950-01-01,1,2020-04,,,IPPAN,", "household_id: empty"},
		{"field count", "138000,P2,H1,1950-01-01,1,2020-04", "field count: got 6 fields, want 10"},
		{"quote", `138000,P"2,H1,1950-01-01,1,2020-04,,,IPPAN,`, `column 9: bare "`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "m.csv", []byte(header+good+tc.line+"\n"+good))
			got, err := readMembers(t, file)
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(err.Error(), tc.msg) ||
				!strings.HasPrefix(err.Error(), file+":3: ") {
				t.Fatalf("got %v, want a FileError at %s:3 containing %q", err, file, tc.msg)
			}
			if len(got) != 1 {
				t.Errorf("%d rows delivered before the bad one, want 1", len(got))
			}
		})
	}
}

func TestBadMemberParquet(t *testing.T) {
	rows := sampleMembers()
	rows[2].Category70 = "BAD"
	file := filepath.Join(t.TempDir(), "m.parquet")
	writeParquet(t, file, rows, 0)
	_, err := readMembers(t, file)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 3 || !strings.HasPrefix(err.Error(), file+":row 3: category_70") {
		t.Fatalf("got %v", err)
	}
}

func TestMembersMissingColumn(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "m.csv", []byte("insurer_no,person_id,birth_date,valid_from\n138000,P1,1950-01-01,2020-04\n"))
	_, err := readMembers(t, file)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 1 || !strings.Contains(err.Error(), "household_id") {
		t.Fatalf("got %v", err)
	}
	type noHousehold struct {
		InsurerNo string `parquet:"insurer_no"`
		PersonID  string `parquet:"person_id"`
		BirthDate string `parquet:"birth_date"`
		ValidFrom string `parquet:"valid_from"`
	}
	pq := filepath.Join(dir, "m.parquet")
	writeParquet(t, pq, []noHousehold{{"138000", "P1", "1950-01-01", "2020-04"}}, 0)
	if _, err := readMembers(t, pq); !errors.As(err, &fe) || !strings.Contains(err.Error(), "household_id") {
		t.Fatalf("got %v", err)
	}
}

func TestHistory(t *testing.T) {
	dir := t.TempDir()
	rows := []HistoryRow{{"138000", "H1", "2024-11"}, {"06139999", "H2", "2025-01"}}
	var buf bytes.Buffer
	if err := WriteHistoryCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	csvFile := writeFile(t, dir, "h.csv", buf.Bytes())
	pqFile := filepath.Join(dir, "h.parquet")
	writeParquet(t, pqFile, rows, 0)
	for file, wantSrc := range map[string][]string{
		csvFile: {csvFile + ":2", csvFile + ":3"},
		pqFile:  {pqFile + ":row 1", pqFile + ":row 2"},
	} {
		var got []HistoryRow
		var srcs []string
		err := ReadHistory(context.Background(), file, func(h HistoryRow, line int64) error {
			got = append(got, h)
			srcs = append(srcs, Position(file, line))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("%s: got %+v", file, got)
		}
		if !reflect.DeepEqual(srcs, wantSrc) {
			t.Errorf("sources %q, want %q", srcs, wantSrc)
		}
	}
	bad := writeFile(t, dir, "bad.csv", []byte("insurer_no,household_id,service_month\n138000,H1,2024-11\n138000,H1,24-11\n"))
	err := ReadHistory(context.Background(), bad, func(HistoryRow, int64) error { return nil })
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(err.Error(), `service_month: bad month "24-11"`) {
		t.Fatalf("got %v", err)
	}
	errStop := errors.New("stop")
	if err := ReadHistory(context.Background(), csvFile, func(HistoryRow, int64) error { return errStop }); err != errStop {
		t.Fatalf("callback error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, file := range []string{csvFile, pqFile} {
		if err := ReadHistory(ctx, file, func(HistoryRow, int64) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled: got %v", err)
		}
	}
}

// TestIsDate: isDate accepts exactly what time.Parse(time.DateOnly) accepts, on every day of
// four centuries' leap-year edges and on malformed strings.
func TestIsDate(t *testing.T) {
	var cases []string
	for _, y := range []string{"0000", "1900", "1996", "2000", "2023", "2024", "2100", "9999"} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				cases = append(cases, fmt.Sprintf("%s-%02d-%02d", y, m, d))
			}
		}
	}
	cases = append(cases, "", "2024-1-01", "2024-01-1", "2024/01/01", "2024-01-01 ", " 2024-01-01", "2O24-01-01",
		"2024-0a-01", "2024-01-0x", "20240101", "2024-001-01", "+024-01-01", "2024-01--1")
	for _, s := range cases {
		_, err := time.Parse(time.DateOnly, s)
		if got := isDate(s); got != (err == nil) {
			t.Errorf("isDate(%q) = %v, time.Parse says %v", s, got, err)
		}
	}
}

// TestMembersParquetDictionary: dictionary-encoded columns, with nulls and values to trim,
// over several row groups, read whole and by row ranges, give what the same rows give
// without dictionaries.
func TestMembersParquetDictionary(t *testing.T) {
	type dictMember struct {
		InsurerNo   string  `parquet:"insurer_no,dict"`
		PersonID    string  `parquet:"person_id"`
		HouseholdID string  `parquet:"household_id"`
		BirthDate   string  `parquet:"birth_date"`
		Sex         *string `parquet:"sex,optional,dict"`
		ValidFrom   string  `parquet:"valid_from,dict"`
		Category70  *string `parquet:"category_70,optional,dict"`
	}
	type plainMember struct {
		InsurerNo   string  `parquet:"insurer_no"`
		PersonID    string  `parquet:"person_id"`
		HouseholdID string  `parquet:"household_id"`
		BirthDate   string  `parquet:"birth_date"`
		Sex         *string `parquet:"sex,optional"`
		ValidFrom   string  `parquet:"valid_from"`
		Category70  *string `parquet:"category_70,optional"`
	}
	s := func(v string) *string { return &v }
	insurers := []string{"138000", " 06139999 ", "01130012"}
	sexes := []*string{s("1"), s("2"), nil, s(" 2")}
	cats := []*string{nil, s("IPPAN"), s(" TEI2 "), s("GEN1")}
	var dict []dictMember
	var plain []plainMember
	for i := range 3000 {
		m := dictMember{InsurerNo: insurers[i%3], PersonID: fmt.Sprintf("P%d", i), HouseholdID: fmt.Sprintf("H%d", i/3),
			BirthDate: "1950-01-01", Sex: sexes[i%4], ValidFrom: fmt.Sprintf("2024-%02d", 1+i%12), Category70: cats[(i/7)%4]}
		dict = append(dict, m)
		plain = append(plain, plainMember(m))
	}
	dir := t.TempDir()
	dictFile, plainFile := filepath.Join(dir, "dict.parquet"), filepath.Join(dir, "plain.parquet")
	writeParquet(t, dictFile, dict, 700)
	writeParquet(t, plainFile, plain, 700)
	read := func(file string, from, to int64) []MemberRow {
		var got []MemberRow
		err := ReadMembersRows(context.Background(), file, from, to, func(m MemberRow, _ int64) error {
			// The strings alias the page, valid during the call only.
			got = append(got, MemberRow{InsurerNo: strings.Clone(m.InsurerNo), PersonID: strings.Clone(m.PersonID),
				HouseholdID: strings.Clone(m.HouseholdID), BirthDate: strings.Clone(m.BirthDate), Sex: strings.Clone(m.Sex),
				ValidFrom: strings.Clone(m.ValidFrom), Category70: strings.Clone(m.Category70)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, r := range [][2]int64{{0, 3000}, {0, 1}, {650, 1450}, {1399, 1401}, {2999, 3000}} {
		got, want := read(dictFile, r[0], r[1]), read(plainFile, r[0], r[1])
		if len(got) != int(r[1]-r[0]) || !reflect.DeepEqual(got, want) {
			t.Fatalf("rows %v: %d rows read with dictionaries, not the %d without", r, len(got), len(want))
		}
	}
	// The values themselves: trimmed, nulls empty.
	got := read(dictFile, 0, 3000)
	if got[1].InsurerNo != "06139999" || got[2].Sex != "" || got[3].Sex != "2" || got[14].Category70 != "TEI2" || got[0].Category70 != "" {
		t.Fatalf("rows read as %+v", got[:4])
	}
}
