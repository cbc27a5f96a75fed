package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// smallMonth generates a small month once per test: its members, history and receipts
// directory (which holds the month's directory, as `batch gen` lays it out).
func smallMonth(t *testing.T) (in string) {
	t.Helper()
	in = filepath.Join(t.TempDir(), "in")
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 300, Month: rules.MonthOf(2025, 10), Seed: 5, Out: in}); err != nil {
		t.Fatal(err)
	}
	return in
}

// result is what one command did.
type result struct {
	code           int
	stdout, stderr string
}

func runBatch(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := command(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return result{exitCode(t, cmd.Run()), stdout.String(), stderr.String()}
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o666); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIssue17_3_NothingReadFails(t *testing.T) {
	in := smallMonth(t)
	members := filepath.Join(in, synth.MembersFile)
	month := filepath.Join(in, synth.ReceiptsDir, "2025-10")
	dir := t.TempDir()
	header := strings.Join([]string{"receipt_id", "service_month", "insurer_no", "person_id", "institution_id", "kind", "setting",
		"prescriber_id", "cost", "copay", "paid", "tokutei"}, ",") + "\n"
	headerOnly := writeFile(t, filepath.Join(dir, "header-only", "r.csv"), header)
	zeroRows := filepath.Join(dir, "zero-rows", "r.parquet")
	os.MkdirAll(filepath.Dir(zeroRows), 0o777)
	if err := parquet.WriteFile[receipt.Row](zeroRows, nil); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o777)
	unknown := filepath.Join(dir, "unknown")
	writeFile(t, filepath.Join(unknown, "receipts.txt"), header)
	writeFile(t, filepath.Join(unknown, "receipts.json"), "{}")

	cases := []struct {
		name     string
		receipts string
		month    string
		extra    []string
		code     int
		msg      string
	}{
		{"the README's receipts/ against gen's layout", filepath.Join(in, synth.ReceiptsDir), "2025-10", nil, 1,
			"holds no .csv or .parquet files, only directories: 2025-10/"},
		{"an empty directory", empty, "2025-10", nil, 1, empty + " is empty"},
		{"a header-only CSV", headerOnly, "2025-10", nil, 1, "read no receipts: " + headerOnly + " (0 rows)"},
		{"a zero-row Parquet file", zeroRows, "2025-10", nil, 1, "read no receipts: " + zeroRows + " (0 rows)"},
		{"files of unknown kinds", unknown, "2025-10", nil, 1, "holds no .csv or .parquet files: receipts.json, receipts.txt"},
		{"every receipt of another month", month, "2025-11", nil, 1, "was rejected MONTH_MISMATCH"},
		{"a header-only CSV, allowed", headerOnly, "2025-10", []string{"--allow-empty"}, 0, "receipts read     0"},
		{"an empty directory, allowed", empty, "2025-10", []string{"--allow-empty"}, 0, "receipts read     0"},
		{"every receipt of another month, allowed", month, "2025-11", []string{"--allow-empty"}, 0, "MONTH_MISMATCH"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out-%d", i))
			ledgerDir := filepath.Join(dir, fmt.Sprintf("ledger-%d", i))
			args := append([]string{"run", "--month", c.month, "--members", members, "--receipts", c.receipts,
				"--out", out, "--ledger", ledgerDir}, c.extra...)
			res := runBatch(t, args...)
			if res.code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, c.code, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout+res.stderr, c.msg) {
				t.Errorf("the run does not say %q:\nstdout:\n%s\nstderr:\n%s", c.msg, res.stdout, res.stderr)
			}
			if c.code != 0 {
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a refused run left %s", out)
				}
				if months, _ := os.ReadDir(filepath.Join(ledgerDir, "months")); len(months) > 0 {
					t.Errorf("a refused run recorded a month in the ledger: %v", months)
				}
			}
		})
	}
}

func TestIssue17_8_WarningsInSummaryAndStrict(t *testing.T) {
	in := smallMonth(t)
	month := filepath.Join(in, synth.ReceiptsDir, "2025-10")
	writeFile(t, filepath.Join(month, "notes.txt"), "the October delivery\n")
	os.MkdirAll(filepath.Join(month, "old"), 0o777)
	args := []string{"run", "--month", "2025-10", "--members", filepath.Join(in, synth.MembersFile), "--receipts", month}

	out := filepath.Join(t.TempDir(), "out")
	res := runBatch(t, append(args, "--out", out)...)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	for _, want := range []string{"warnings          2", filepath.Join(month, "notes.txt") + ": not read", filepath.Join(month, "old") + "/: not read (a directory"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the summary does not say %q:\n%s", want, res.stdout)
		}
	}
	var m struct{ Warnings []string }
	data, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil || len(m.Warnings) != 2 {
		t.Errorf("manifest warnings %q (%v), want the two skipped entries", m.Warnings, err)
	}

	strictOut := filepath.Join(t.TempDir(), "strict")
	res = runBatch(t, append(args, "--out", strictOut, "--strict")...)
	if res.code != 1 || !strings.Contains(res.stderr, "--strict: the run has 2 warning(s)") {
		t.Errorf("--strict with warnings: exit %d, want 1 with the warnings named:\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(strictOut); !os.IsNotExist(err) {
		t.Errorf("a --strict run with warnings left %s", strictOut)
	}
	os.Remove(filepath.Join(month, "notes.txt"))
	os.Remove(filepath.Join(month, "old"))
	res = runBatch(t, append(args, "--out", strictOut, "--strict")...)
	if res.code != 0 || strings.Contains(res.stdout, "warnings") {
		t.Errorf("--strict without warnings: exit %d, want 0 and no warnings:\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// commandNames are the commands whose --help TestIssue17_11_HelpAndBadValues reads back.
var commandNames = []string{"run", "correct", "annual", "extract", "simulate", "gen", "scan", "compact"}

func TestIssue17_11_HelpAndBadValues(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flagLine := regexp.MustCompile(`(?m)^  --([a-z-]+)`)
	common := readmeSection(t, string(readme), "Flags of every command")
	for _, name := range commandNames {
		res := runBatch(t, name, "--help")
		if res.code != 0 || !strings.HasPrefix(res.stdout, "usage: batch "+name) {
			t.Errorf("%s --help: exit %d, stdout:\n%s\nstderr:\n%s", name, res.code, res.stdout, res.stderr)
			continue
		}
		flags := flagLine.FindAllStringSubmatch(res.stdout, -1)
		if len(flags) < 4 {
			t.Errorf("%s --help lists %d flags:\n%s", name, len(flags), res.stdout)
		}
		section := readmeSection(t, string(readme), "`batch "+name+"`")
		for _, f := range flags {
			if !strings.Contains(section, "`--"+f[1]) && !strings.Contains(common, "`--"+f[1]) {
				t.Errorf("%s accepts --%s, which README's section on it does not describe", name, f[1])
			}
		}
		if res := runBatch(t, "help", name); res.code != 0 || !strings.HasPrefix(res.stdout, "usage: batch "+name) {
			t.Errorf("help %s: exit %d:\n%s", name, res.code, res.stdout)
		}
	}
	dir := t.TempDir()
	bad := []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--month", "2025-10", "--members", "m", "--receipts", "r", "--out", dir + "/o", "--workers", "-1"}, "--workers -1: must not be negative"},
		{[]string{"run", "--month", "2025-10", "--members", "m", "--receipts", "r", "--out", dir + "/o", "--memory", "0"}, "--memory 0: must be greater than 0"},
		{[]string{"run", "--month", "2025-10", "--members", "m", "--receipts", "r", "--out", dir + "/o", "--log-format", "xml"}, "--log-format \"xml\""},
		{[]string{"run", "--month", "2025-10", "--members", "m", "--receipts", "r", "--out", dir + "/o", "--log-level", "loud"}, "--log-level \"loud\""},
		{[]string{"annual", "--period", "2025-04", "--ledger", dir, "--out", dir + "/o"}, "starts in August"},
		{[]string{"simulate", "--ledger", dir, "--month", "2025-10", "--scenario", "+5%", "--memory", "-5"}, "--memory -5"},
		{[]string{"gen", "--households", "10", "--month", "2025-10", "--out", dir + "/o", "--format", "csv"}, "--format \"csv\""},
		{[]string{"gen", "--households", "10", "--month", "2025-10", "--out", dir + "/o", "--resolve-share", "1.5"}, "--resolve-share 1.5: want a share from 0 to 1"},
		{[]string{"gen", "--households", "10", "--month", "2025-10", "--out", dir + "/o", "--resolve-share", "-0.1"}, "--resolve-share -0.1"},
		{[]string{"scan", "--receipts", dir, "--workers", "0"}, "--workers 0: must be greater than 0"},
	}
	for _, c := range bad {
		res := runBatch(t, c.args...)
		if res.code != 2 || !strings.Contains(res.stderr, c.msg) {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, res.code, c.msg, res.stderr)
		}
	}
}

// readmeSection is the text of README under the heading "#### "+title, to the next heading.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	i := strings.Index(readme, "\n#### "+title+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", title)
	}
	rest := readme[i+1:]
	if j := strings.Index(rest[1:], "\n#"); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

func TestIssue17_13_SummaryAlignsReasonCodes(t *testing.T) {
	var b bytes.Buffer
	printCounts(&b, "    ", map[string]int64{"BIRTHDATE_MISMATCH": 1234, "DUPLICATE_RECEIPT": 5, "BAD_RECORD": 70})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	col := -1
	for _, l := range lines {
		i := strings.LastIndex(l, " ") + 1 // where the count starts
		if col >= 0 && i != col {
			t.Errorf("counts start at columns %d and %d:\n%s", col, i, b.String())
		}
		col = i
		if !regexp.MustCompile(`^    [A-Z_]+ +[0-9,]+$`).MatchString(l) {
			t.Errorf("line %q runs the code into its count", l)
		}
	}
}

// TestIssue17_13_LogLinesKeepOffTheProgressLine: a log line written while a progress line
// is drawn starts on a cleared line, and the progress line is drawn again after it.
func TestIssue17_13_LogLinesKeepOffTheProgressLine(t *testing.T) {
	var b bytes.Buffer
	c := &console{w: &b}
	c.draw("intake   1,000 receipts read")
	c.Write([]byte("level=INFO msg=\"members master in memory\"\n"))
	c.draw("")
	c.Write([]byte("level=INFO msg=done\n"))
	want := "\r\033[Kintake   1,000 receipts read" +
		"\r\033[Klevel=INFO msg=\"members master in memory\"\nintake   1,000 receipts read" +
		"\r\033[K" +
		"level=INFO msg=done\n"
	if b.String() != want {
		t.Errorf("console wrote %q, want %q", b.String(), want)
	}
}

func TestIssue17_14_LogFormatAndLevel(t *testing.T) {
	in := smallMonth(t)
	dir := t.TempDir()
	run := func(name string, extra ...string) string {
		args := append([]string{"run", "--month", "2025-10", "--members", filepath.Join(in, synth.MembersFile),
			"--receipts", filepath.Join(in, synth.ReceiptsDir, "2025-10"), "--out", filepath.Join(dir, name)}, extra...)
		res := runBatch(t, args...)
		if res.code != 0 {
			t.Fatalf("%v: exit %d:\n%s", extra, res.code, res.stderr)
		}
		return res.stderr
	}
	jsonLine := regexp.MustCompile(`(?m)^\{"time":"[^"]+","level":"INFO","msg":"run complete"`)
	if got := run("default"); !jsonLine.MatchString(got) || strings.Contains(got, `"DEBUG"`) {
		t.Errorf("not a terminal, no flags: want JSON at INFO, got:\n%s", got)
	}
	if got := run("text", "--log-format", "text"); !strings.Contains(got, "level=INFO msg=\"run complete\"") || strings.Contains(got, "level=DEBUG") || strings.Contains(got, "{") {
		t.Errorf("--log-format text: got:\n%s", got)
	}
	if got := run("debug", "--log-level", "debug"); !strings.Contains(got, `"level":"DEBUG"`) {
		t.Errorf("--log-level debug logs no DEBUG line:\n%s", got)
	}
	if got := run("warn", "--log-level", "warn"); strings.Contains(got, `"INFO"`) {
		t.Errorf("--log-level warn logs INFO lines:\n%s", got)
	}
}
