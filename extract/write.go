package extract

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/kougaku/batch/output"
)

// writeTable writes rows as name.parquet and name.csv into d. The CSV has the Parquet file's
// columns, named by the same tags, so the two can be read interchangeably.
func writeTable[T any](d *output.Dir, name string, rows []T) ([]output.OutputFile, error) {
	w, err := output.NewWriter[T](d, name+".parquet", output.Options{})
	if err != nil {
		return nil, err
	}
	if err := w.Write(rows); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	data, err := csvOf(rows)
	if err != nil {
		return nil, err
	}
	if err := writeFile(d, name+".csv", data); err != nil {
		return nil, err
	}
	n := int64(len(rows))
	return []output.OutputFile{{Name: name + ".parquet", Rows: n}, {Name: name + ".csv", Rows: n}}, nil
}

// writeFile puts a file into the directory's temporary path; Commit publishes and fsyncs it
// with the rest.
func writeFile(d *output.Dir, name string, data []byte) error {
	return os.WriteFile(filepath.Join(d.TempPath(), name), data, 0o666)
}

// csvOf renders rows of a struct type whose fields are strings, integers, booleans and
// floats, with a header of the fields' parquet tags.
func csvOf[T any](rows []T) ([]byte, error) {
	t := reflect.TypeFor[T]()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	rec := make([]string, t.NumField())
	for i := range rec {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("parquet"), ",")
		rec[i] = name
	}
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	for _, r := range rows {
		v := reflect.ValueOf(r)
		for i := range rec {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.String:
				rec[i] = f.String()
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				rec[i] = strconv.FormatInt(f.Int(), 10)
			case reflect.Bool:
				rec[i] = strconv.FormatBool(f.Bool())
			case reflect.Float32, reflect.Float64:
				rec[i] = strconv.FormatFloat(f.Float(), 'f', -1, 64)
			default:
				return nil, fmt.Errorf("extract: csv: column %s of kind %s", t.Field(i).Name, f.Kind())
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// Manifest is manifest.json of an extract or a simulation: what was read (ledger month
// versions), what was written, the ledger's totals over the months and the check: for an
// extract, that every table's yen equals the ledger's household rows; for a simulation, that
// every household recomputed under the ledger's tables got the ledger's cash back. Like a
// run's, it holds no time or host, so the same ledger and command give the same bytes.
type Manifest struct {
	Command       string              `json:"command"`
	CommandLine   []string            `json:"command_line"`
	From          string              `json:"from"`
	To            string              `json:"to"`
	Months        []MonthInput        `json:"months"`
	Scenarios     []string            `json:"scenarios,omitempty"`
	AnnualPeriods []string            `json:"annual_periods,omitempty"`
	Outputs       []output.OutputFile `json:"outputs"`
	Totals        Totals              `json:"totals"`
	Reconciled    bool                `json:"reconciled"`
	Warnings      []string            `json:"warnings"`
}

// MonthInput is one ledger month read.
type MonthInput struct {
	Month         string `json:"month"`
	LedgerVersion int    `json:"ledger_version"`
	RulesVersion  string `json:"rules_version"`
}

// Totals are the ledger's totals over the months read.
type Totals struct {
	Households int64 `json:"households"`
	Cases      int64 `json:"cases,omitempty"` // an extract's; a simulation does not count them
	YenInKind  int64 `json:"yen_in_kind"`
	YenCash    int64 `json:"yen_cash"`
}
