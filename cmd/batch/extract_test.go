package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kougaku/batch/extract"
	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// synthLedger runs twelve synthetic months (2024-08 to 2025-07, a whole annual period) into a
// new ledger under dir and closes it, as `batch run --ledger` would month after month.
func synthLedger(t *testing.T, dir string, households int) string {
	t.Helper()
	ctx := context.Background()
	in := filepath.Join(dir, "in")
	first := rules.MonthOf(2024, 8)
	if _, err := synth.Generate(ctx, synth.Config{Households: households, Month: first, Months: 12, Seed: 4, Out: in}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger")
	l, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for m := first; m < first+12; m++ {
		if _, err := l.Run(ctx, pipeline.Config{Month: m, Members: []string{filepath.Join(in, synth.MembersFile)},
			Receipts: []string{filepath.Join(in, synth.ReceiptsDir, m.String())}, History: []string{filepath.Join(in, synth.HistoryFile)},
			Out: filepath.Join(dir, "out-"+m.String())}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// quietCLI is a command's outputs with stdout to w and nothing logged.
func quietCLI(w io.Writer) *cli { return &cli{stdout: w, stderr: &console{w: io.Discard}} }

func readManifest(t *testing.T, dir string) extract.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m extract.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExtractAndSimulateCommands runs both commands on a ledger and checks what they print
// and write.
func TestExtractAndSimulateCommands(t *testing.T) {
	dir := t.TempDir()
	led := synthLedger(t, dir, 1000)
	ctx := context.Background()

	out := filepath.Join(dir, "extract")
	var stdout bytes.Buffer
	if err := cmdExtract(ctx, []string{"--ledger", led, "--from", "2024-08", "--to", "2025-07", "--out", out}, quietCLI(&stdout)); err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	if !m.Reconciled || len(m.Months) != 12 || len(m.AnnualPeriods) != 1 || m.Totals.YenCash == 0 {
		t.Errorf("manifest %+v", m)
	}
	for _, want := range []string{"12 ledger month(s)", "¥" + group(m.Totals.YenInKind), "¥" + group(m.Totals.YenCash), "annual cap        2024-08..2025-07", "report.html"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("extract output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"benefit_households", "benefit_persons", "outpatient_limit", "annual_cap", "burden_deciles", "months"} {
		for _, ext := range []string{".parquet", ".csv"} {
			if _, err := os.Stat(filepath.Join(out, f+ext)); err != nil {
				t.Errorf("extract did not write %s%s", f, ext)
			}
		}
	}

	simOut := filepath.Join(dir, "simulate")
	stdout.Reset()
	if err := cmdSimulate(ctx, []string{"--ledger", led, "--month", "2025-07", "--out", simOut,
		"--scenario", "+5%", "--scenario", "+7.5%", "--scenario", "+10%", "--scenario", "+12.5%", "--scenario", "+15%"}, quietCLI(&stdout)); err != nil {
		t.Fatal(err)
	}
	text := stdout.String()
	for _, want := range []string{"every household's cash is the ledger's", "+5%", "+15%", "difference from now, yen", "difference per affected person", "kouki", "total"} {
		if !strings.Contains(text, want) {
			t.Errorf("simulate output lacks %q:\n%s", want, text)
		}
	}
	sm := readManifest(t, simOut)
	if len(sm.Scenarios) != 5 || !sm.Reconciled || len(sm.Months) != 1 {
		t.Errorf("simulation manifest %+v", sm)
	}
	for _, f := range []string{"scenario.parquet", "scenario.csv", "scenario_summary.parquet", "scenario_summary.csv"} {
		if _, err := os.Stat(filepath.Join(simOut, f)); err != nil {
			t.Errorf("simulate did not write %s", f)
		}
	}
	// A range of months, printed only.
	stdout.Reset()
	if err := cmdSimulate(ctx, []string{"--ledger", led, "--from", "2025-06", "--to", "2025-07", "--scenario", "+10%"}, quietCLI(&stdout)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "simulation of 2025-06, 2025-07") {
		t.Errorf("range output:\n%s", stdout.String())
	}
}

func TestExtractUsage(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"extract"}, "extract needs --ledger"},
		{[]string{"extract", "--ledger", "l", "--from", "2025-13", "--to", "2025-12", "--out", "o"}, "YYYY-MM"},
		{[]string{"extract", "--ledger", "l", "--from", "2025-10", "--to", "2025-09", "--out", "o"}, "before --from"},
		{[]string{"simulate", "--ledger", "l", "--month", "2025-10"}, "simulate needs"},
		{[]string{"simulate", "--ledger", "l", "--month", "2025-10", "--from", "2025-10", "--scenario", "+5%"}, "simulate needs"},
		{[]string{"simulate", "--ledger", "l", "--month", "2025-10", "--scenario", "+five%"}, "want +N%"},
		{[]string{"simulate", "--ledger", "l", "--month", "2025-10", "--scenario", "+5%", "--round", "0"}, "--round"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var err error
			switch c.args[0] {
			case "extract":
				err = cmdExtract(context.Background(), c.args[1:], quietCLI(&bytes.Buffer{}))
			default:
				err = cmdSimulate(context.Background(), c.args[1:], quietCLI(&bytes.Buffer{}))
			}
			if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v, want a usage error saying %q", err, c.msg)
			}
		})
	}
}

// TestCommandsHooked: the binary knows both commands (main.go's switch has them).
func TestCommandsHooked(t *testing.T) {
	for _, c := range []struct{ cmd, msg string }{{"extract", "extract needs"}, {"simulate", "simulate needs"}} {
		var stderr bytes.Buffer
		cmd := command(c.cmd)
		cmd.Stderr = &stderr
		if got := exitCode(t, cmd.Run()); got != 2 || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("batch %s: exit %d, stderr:\n%s\n(want exit 2 and %q: is `case %q` in main.go's switch?)", c.cmd, got, stderr.String(), c.msg, c.cmd)
		}
	}
}

// chromiumFlags run Chromium headless with nothing of its own on the network.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"}

// TestReportInChromium renders report.html in headless Chromium and checks that the rendered
// DOM shows every section's heading, the tables' totals and the charts, and that a screenshot
// is drawn.
func TestReportInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed: report.html is not rendered (apt-get install -y chromium)")
	}
	dir := t.TempDir()
	led := synthLedger(t, dir, 1000)
	out := filepath.Join(dir, "extract")
	if err := cmdExtract(context.Background(), []string{"--ledger", led, "--from", "2024-08", "--to", "2025-07", "--out", out}, quietCLI(&bytes.Buffer{})); err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	report := "file://" + filepath.Join(out, "report.html")
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		all := append(append(append([]string(nil), chromiumFlags...), "--user-data-dir="+filepath.Join(dir, "chromium-profile")), args...)
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, append(all, report)...)
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout
	}
	dom := string(run("--dump-dom"))
	for _, want := range []string{
		"1. 支給件数・支給金額・1件当たり金額", "2. 合計とうち多数回該当分", "3. 年齢区分・所得区分別", "4. 現金給付の人単位の内訳",
		"5. 外来特例 (外来の月額上限) に該当する患者の割合", "6. 外来の年間上限に該当する患者の割合", "7. 世帯の自己負担の十分位", "8. 台帳との照合",
		"協会けんぽ", "後期高齢者医療", "現物給付", "現金給付", "1件当たり金額 (円)", "うち多数回該当分",
		group(m.Totals.YenInKind), group(m.Totals.YenCash), group(m.Totals.YenInKind + m.Totals.YenCash), group(m.Totals.Households),
		`id="chart-benefit"`, `id="chart-outpatient"`, `id="chart-annual"`, `id="chart-deciles"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered report lacks %q", want)
		}
	}
	if n := strings.Count(dom, "<rect"); n < 20 {
		t.Errorf("the rendered charts have %d bars", n)
	}
	shot := filepath.Join(dir, "report.png")
	run("--window-size=1280,2400", "--screenshot="+shot)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 20000 {
		t.Fatalf("screenshot: %v, %d bytes", err, len(png))
	}
}

// TestIssue17_15_SimulateHouseholdsFile: `simulate --households FILE` writes a row per household
// month and scenario whose sums are the scenario totals the command writes and prints; the
// file has the same bytes whatever the workers and partitions, and an existing file is refused.
func TestIssue17_15_SimulateHouseholdsFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	in := filepath.Join(dir, "in")
	first := rules.MonthOf(2025, 6)
	if _, err := synth.Generate(ctx, synth.Config{Households: 400, Month: first, Months: 2, Seed: 7, Out: in}); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "ledger")
	l, err := ledger.Open(led)
	if err != nil {
		t.Fatal(err)
	}
	for m := first; m < first+2; m++ {
		if _, err := l.Run(ctx, pipeline.Config{Month: m, Members: []string{filepath.Join(in, synth.MembersFile)},
			Receipts: []string{filepath.Join(in, synth.ReceiptsDir, m.String())}, History: []string{filepath.Join(in, synth.HistoryFile)},
			Out: filepath.Join(dir, "out-"+m.String())}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	scenarios := []string{"+5%", "+10%"}
	simulate := func(households, out string, extra ...string) (string, error) {
		args := []string{"--ledger", led, "--from", "2025-06", "--to", "2025-07", "--households", households}
		for _, s := range scenarios {
			args = append(args, "--scenario", s)
		}
		if out != "" {
			args = append(args, "--out", out)
		}
		var stdout bytes.Buffer
		err := cmdSimulate(ctx, append(args, extra...), quietCLI(&stdout))
		return stdout.String(), err
	}
	hh, simOut := filepath.Join(dir, "households.parquet"), filepath.Join(dir, "sim")
	text, err := simulate(hh, simOut, "--workers", "2")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := output.ReadAll[extract.HouseholdScenarioRow](hh)
	if err != nil {
		t.Fatal(err)
	}
	summary, err := output.ReadAll[extract.SimRow](filepath.Join(simOut, extract.ScenarioSummaryFile+".parquet"))
	if err != nil {
		t.Fatal(err)
	}
	type sums struct{ households, nowTotal, inKind, cash, total, difference, affected int64 }
	got := map[string]*sums{}
	months := map[string]bool{}
	for _, r := range rows {
		s := got[r.Scenario]
		if s == nil {
			s = &sums{}
			got[r.Scenario] = s
		}
		s.households++
		s.nowTotal += r.NowTotal
		s.inKind += r.InKind
		s.cash += r.Cash
		s.total += r.Total
		s.difference += r.Difference
		if r.Total != r.NowTotal {
			s.affected++
		}
		months[r.ServiceMonth] = true
		if r.NowTotal != r.NowInKind+r.NowCash || r.Total != r.InKind+r.Cash || r.Difference != r.Total-r.NowTotal ||
			r.RecomputedCash != r.NowCash || r.InsurerType != extract.InsurerType(r.InsurerNo) {
			t.Errorf("inconsistent row %+v", r)
		}
	}
	if len(months) != 2 {
		t.Errorf("rows of months %v, want 2025-06 and 2025-07", months)
	}
	var totals int
	for _, want := range summary {
		if want.InsurerType != extract.TypeTotal {
			continue
		}
		totals++
		s := got[want.Scenario]
		if s == nil {
			t.Errorf("no household row of scenario %s", want.Scenario)
			continue
		}
		if s.households != want.Households || s.nowTotal != want.NowTotal || s.inKind != want.InKind || s.cash != want.Cash ||
			s.total != want.Total || s.difference != want.Difference || s.affected != want.AffectedHouseholds {
			t.Errorf("scenario %s: the household rows sum to %+v, the summary says %+v", want.Scenario, *s, want)
		}
		if want.Difference >= 0 || want.Households == 0 {
			t.Errorf("scenario %s: a raise should save on this ledger: %+v", want.Scenario, want)
		}
		if !strings.Contains(text, group(want.Total)) {
			t.Errorf("the printed summary lacks %s's total %s:\n%s", want.Scenario, group(want.Total), text)
		}
	}
	if totals != len(scenarios) || len(got) != len(scenarios) {
		t.Errorf("%d summary totals and %d scenarios in the household file, want %d", totals, len(got), len(scenarios))
	}
	if want := fmt.Sprintf("households  %s (%s rows)", hh, group(int64(len(rows)))); !strings.Contains(text, want) {
		t.Errorf("simulate output lacks %q:\n%s", want, text)
	}

	// One worker and a budget small enough to spill in many partitions: the same bytes.
	again := filepath.Join(dir, "households-again.parquet")
	if _, err := simulate(again, "", "--workers", "1", "--memory", strconv.Itoa(4<<20), "--spill-dir", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	a, errA := os.ReadFile(hh)
	b, errB := os.ReadFile(again)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("the household file differs with other workers and partitions (%v, %v)", errA, errB)
	}
	// An existing file is refused before anything is computed, and left as it was.
	if _, err := simulate(hh, ""); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("an existing --households file: %v", err)
	}
	if c, err := os.ReadFile(hh); err != nil || !bytes.Equal(c, a) {
		t.Errorf("the refused run touched the existing file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".households*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
