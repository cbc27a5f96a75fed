package rules

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// ClassU70 is a household's under-70 income class (ア〜オ).
type ClassU70 uint8

// Under-70 classes, in the codes of CONTRACT.md §1.2.
const (
	U70None ClassU70 = iota
	U70A             // ア
	U70I             // イ
	U70U             // ウ
	U70E             // エ
	U70O             // オ
	numU70
)

var u70Codes = [numU70]string{"", "A", "I", "U", "E", "O"}

// Class70 is a household's 70+ income class.
type Class70 uint8

// 70+ classes, in the codes of CONTRACT.md §1.2.
const (
	O70None   Class70 = iota
	O70Gen3           // 現役並みⅢ
	O70Gen2           // 現役並みⅡ
	O70Gen1           // 現役並みⅠ
	O70Ippan          // 一般 (後期 一般Ⅰ)
	O70Ippan2         // 後期 一般Ⅱ
	O70Tei2           // 低所得Ⅱ
	O70Tei1           // 低所得Ⅰ
	num70
)

var o70Codes = [num70]string{"", "GEN3", "GEN2", "GEN1", "IPPAN", "IPPAN2", "TEI2", "TEI1"}

func (c ClassU70) String() string { return u70Codes[c] }
func (c Class70) String() string  { return o70Codes[c] }

// LowIncome reports a 低所得 class, which has no 多数回 amount.
func (c Class70) LowIncome() bool { return c == O70Tei2 || c == O70Tei1 }

// ParseClassU70 reads an under-70 class code; the empty string is U70None.
func ParseClassU70(s string) (ClassU70, error) {
	for i, c := range u70Codes {
		if c == s {
			return ClassU70(i), nil
		}
	}
	return 0, fmt.Errorf("category_u70 %q: want one of A, I, U, E, O or empty", s)
}

// ParseClass70 reads a 70+ class code; the empty string is O70None.
func ParseClass70(s string) (Class70, error) {
	for i, c := range o70Codes {
		if c == s {
			return Class70(i), nil
		}
	}
	return 0, fmt.Errorf("category_70 %q: want one of GEN3, GEN2, GEN1, IPPAN, IPPAN2, TEI2, TEI1 or empty", s)
}

// Formula is a limit: Base + (cost − Threshold) × Rate, the product rounded half up to the yen
// (施行令42条: below 50銭 dropped, 50銭 and up raised), never below Base (a cost below the
// threshold counts as the threshold), and at most Cap when Cap > 0. Rate is held as the exact
// ratio RateNum/RateDen, converted once from the table's decimal.
type Formula struct {
	Base, Threshold  int64
	RateNum, RateDen int64
	Cap              int64
}

// Limit evaluates the formula for a total 10割 cost.
func (f Formula) Limit(cost int64) int64 {
	if f.RateNum == 0 {
		return f.Base
	}
	excess := cost - f.Threshold
	if excess < 0 {
		excess = 0
	}
	// Half up on a non-negative product: floor(x + 1/2) = (2·num·excess + den) / (2·den),
	// formed in 128 bits: 2·num·excess passes int64 for a household's cost of some ¥10^10 at
	// a rate of nine decimals. The quotient is below excess (rate < 1), so it fits.
	hi, lo := bits.Mul64(uint64(excess), uint64(2*f.RateNum))
	lo, carry := bits.Add64(lo, uint64(f.RateDen), 0)
	q, _ := bits.Div64(hi+carry, lo, uint64(2*f.RateDen))
	l := f.Base + int64(q)
	if f.Cap > 0 && l > f.Cap {
		l = f.Cap
	}
	return l
}

// Half is the formula of the 75歳到達月特例: half of every amount and threshold. Every amount in
// the enacted tables is even; an odd amount in an operator's table is halved rounding down,
// in the person's favour.
func (f Formula) Half() Formula {
	return Formula{Base: f.Base / 2, Threshold: f.Threshold / 2, RateNum: f.RateNum, RateDen: f.RateDen, Cap: f.Cap / 2}
}

// LimitsU70 are the limits of one under-70 class.
type LimitsU70 struct {
	Present bool
	Monthly Formula
	Tasukai int64 // the 多数回 amount
}

// Limits70 are the limits of one 70+ class.
type Limits70 struct {
	Present bool
	// Outpatient is the per-person 外来特例 limit; HasOutpatient is false for 現役並み.
	HasOutpatient bool
	Outpatient    Formula
	Household     Formula
	// Tasukai is the household 多数回 amount; 0 for the 低所得 classes, which have none.
	Tasukai int64
}

// Table is one version of the limits, in force for the service months [From, To].
type Table struct {
	Version  string
	Status   string // "enacted" or "provisional"
	Source   string
	From, To Month
	// UnitThreshold is the under-70 receipt-unit minimum for household aggregation (21,000).
	UnitThreshold int64
	// AnnualOutpatientCap is the 70+ annual outpatient cap (144,000), period August to July.
	AnnualOutpatientCap int64
	Chou, Chou2         int64 // 特定疾病 limits per receipt
	U70                 [numU70]LimitsU70
	O70                 [num70]Limits70
}

// Enacted reports whether the table's status is enacted.
func (t *Table) Enacted() bool { return t.Status == StatusEnacted }

// Label is what a run writes into rules_version: the version and, unless enacted, its status.
func (t *Table) Label() string {
	if t.Enacted() {
		return t.Version
	}
	return t.Version + "+" + t.Status
}

// Table status values.
const (
	StatusEnacted     = "enacted"
	StatusProvisional = "provisional"
)

// tableFile is the one on-disk format of a table, embedded and operator-supplied alike.
type tableFile struct {
	Version             string             `json:"version"`
	Status              string             `json:"status"`
	Source              string             `json:"source"`
	ValidFrom           string             `json:"valid_from"`
	ValidTo             string             `json:"valid_to"`
	UnitThreshold       int64              `json:"unit_threshold"`
	AnnualOutpatientCap int64              `json:"annual_outpatient_cap"`
	Tokutei             map[string]int64   `json:"tokutei"`
	U70                 map[string]u70File `json:"u70"`
	O70                 map[string]o70File `json:"o70"`
}

type formulaFile struct {
	Base      int64            `json:"base"`
	Threshold int64            `json:"threshold,omitempty"`
	Rate      *decimal.Decimal `json:"rate,omitempty"`
	Cap       int64            `json:"cap,omitempty"`
}

type u70File struct {
	formulaFile
	Tasukai int64 `json:"tasukai"`
}

type o70File struct {
	Outpatient *formulaFile `json:"outpatient,omitempty"`
	Household  formulaFile  `json:"household"`
	Tasukai    int64        `json:"tasukai,omitempty"`
}

// ParseTable reads one table in the JSON format of rules/tables/*.json.
func ParseTable(data []byte) (*Table, error) {
	var f tableFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("rule table: %w", err)
	}
	return f.compile()
}

func (f *tableFile) compile() (*Table, error) {
	bad := func(format string, a ...any) (*Table, error) {
		return nil, fmt.Errorf("rule table %q: %s", f.Version, fmt.Sprintf(format, a...))
	}
	if f.Version == "" {
		return bad("version is empty")
	}
	if f.Status != StatusEnacted && f.Status != StatusProvisional {
		return bad("status %q: want %q or %q", f.Status, StatusEnacted, StatusProvisional)
	}
	if f.Source == "" {
		return bad("source is empty: every table names where its figures come from")
	}
	t := &Table{Version: f.Version, Status: f.Status, Source: f.Source,
		UnitThreshold: f.UnitThreshold, AnnualOutpatientCap: f.AnnualOutpatientCap,
		Chou: f.Tokutei["chou"], Chou2: f.Tokutei["chou2"]}
	var err error
	if t.From, err = ParseMonth(f.ValidFrom); err != nil {
		return bad("valid_from: %v", err)
	}
	if t.To, err = ParseMonth(f.ValidTo); err != nil {
		return bad("valid_to: %v", err)
	}
	if t.To < t.From {
		return bad("valid_to %s is before valid_from %s", f.ValidTo, f.ValidFrom)
	}
	if t.UnitThreshold <= 0 || t.Chou <= 0 || t.Chou2 <= 0 {
		return bad("unit_threshold and tokutei chou/chou2 must be positive")
	}
	for code, u := range f.U70 {
		c, err := ParseClassU70(code)
		if err != nil || c == U70None {
			return bad("u70 class %q unknown", code)
		}
		m, err := u.formulaFile.compile()
		if err != nil {
			return bad("u70 %s: %v", code, err)
		}
		t.U70[c] = LimitsU70{Present: true, Monthly: m, Tasukai: u.Tasukai}
	}
	for code, o := range f.O70 {
		c, err := ParseClass70(code)
		if err != nil || c == O70None {
			return bad("o70 class %q unknown", code)
		}
		l := Limits70{Present: true, Tasukai: o.Tasukai}
		if l.Household, err = o.Household.compile(); err != nil {
			return bad("o70 %s household: %v", code, err)
		}
		if o.Outpatient != nil {
			l.HasOutpatient = true
			if l.Outpatient, err = o.Outpatient.compile(); err != nil {
				return bad("o70 %s outpatient: %v", code, err)
			}
		}
		if c.LowIncome() && l.Tasukai != 0 {
			return bad("o70 %s: a 低所得 class has no 多数回 amount", code)
		}
		t.O70[c] = l
	}
	return t, nil
}

// compile converts the decimal rate into an exact integer ratio, once.
func (f formulaFile) compile() (Formula, error) {
	if f.Base <= 0 {
		return Formula{}, errors.New("base must be positive")
	}
	out := Formula{Base: f.Base, Threshold: f.Threshold, Cap: f.Cap}
	if f.Rate != nil && !f.Rate.IsZero() {
		if f.Rate.IsNegative() || f.Rate.GreaterThanOrEqual(decimal.NewFromInt(1)) {
			return Formula{}, fmt.Errorf("rate %s: want 0 < rate < 1", f.Rate)
		}
		exp := -f.Rate.Exponent()
		if exp > 9 {
			return Formula{}, fmt.Errorf("rate %s: at most 9 decimal places", f.Rate)
		}
		den := int64(1)
		for i := int32(0); i < exp; i++ {
			den *= 10
		}
		out.RateNum = f.Rate.Shift(exp).IntPart()
		out.RateDen = den
	}
	return out, nil
}

// Set is the tables in force, each for its range of service months.
type Set struct {
	tables []*Table // sorted by From, ranges disjoint
}

//go:embed tables/*.json
var embedded embed.FS

// Default returns the embedded enacted tables (2018-08 to 2026-07).
func Default() *Set {
	s, err := loadFS(embedded, "tables")
	if err != nil {
		panic("embedded rule tables are broken: " + err.Error()) // a build defect, caught by tests
	}
	return s
}

func loadFS(fsys fs.FS, dir string) (*Set, error) {
	names, err := fs.Glob(fsys, dir+"/*.json")
	if err != nil {
		return nil, err
	}
	var ts []*Table
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		t, err := ParseTable(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		ts = append(ts, t)
	}
	return NewSet(ts...)
}

// NewSet checks that the tables' month ranges do not overlap.
func NewSet(tables ...*Table) (*Set, error) {
	ts := append([]*Table(nil), tables...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].From < ts[j].From })
	for i := 1; i < len(ts); i++ {
		if ts[i].From <= ts[i-1].To {
			return nil, fmt.Errorf("rule tables %q and %q overlap in %s", ts[i-1].Version, ts[i].Version, ts[i].From)
		}
	}
	return &Set{tables: ts}, nil
}

// LoadFile reads an operator-supplied table file and lays it over s: the file's table replaces
// whatever s had for the months it covers.
func (s *Set) LoadFile(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTable(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s.Override(t), nil
}

// Override returns a set in which t governs its months; tables of s that overlap t are cut
// back to the months t does not cover.
func (s *Set) Override(t *Table) *Set {
	var out []*Table
	for _, old := range s.tables {
		if old.To < t.From || old.From > t.To {
			out = append(out, old)
			continue
		}
		if old.From < t.From {
			c := *old
			c.To = t.From - 1
			out = append(out, &c)
		}
		if old.To > t.To {
			c := *old
			c.From = t.To + 1
			out = append(out, &c)
		}
	}
	out = append(out, t)
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	return &Set{tables: out}
}

// Tables lists the tables in month order.
func (s *Set) Tables() []*Table { return s.tables }

// NoTableError says that no table covers a service month.
type NoTableError struct {
	Month   Month
	Covered string // the months the set covers, for the message
}

func (e *NoTableError) Error() string {
	return fmt.Sprintf("no enacted rule table covers service month %s (tables cover %s): supply the enacted table for that month with --rules FILE", e.Month, e.Covered)
}

// For returns the table in force for service month m.
func (s *Set) For(m Month) (*Table, error) {
	for _, t := range s.tables {
		if m >= t.From && m <= t.To {
			return t, nil
		}
	}
	var cov []string
	for _, t := range s.tables {
		cov = append(cov, t.From.String()+".."+t.To.String())
	}
	return nil, &NoTableError{Month: m, Covered: strings.Join(cov, ", ")}
}
