package extract

import (
	"cmp"
	"math"
	"slices"
)

// The tables of `batch extract`, one struct per file (Parquet and CSV alike: the parquet tag is
// the column name in both). Amounts are int64 yen; shares are fractions in [0, 1].

// Output file names, without extension (each is written as .parquet and .csv).
const (
	BenefitFile    = "benefit_households"
	PersonFile     = "benefit_persons"
	OutpatientFile = "outpatient_limit"
	AnnualFile     = "annual_cap"
	DecileFile     = "burden_deciles"
	MonthFile      = "months"
	ReportFile     = "report.html"
	ScenarioFile   = "scenario"
)

// BenefitRow counts household months (a household with a receipt in a service month) of one
// insurer type, age group of the household's patients and income class, summed over the
// months extracted. A case (件) is a household month with a benefit, in kind or in cash; a
// household month with both is one case, and one in each of cases_in_kind and cases_cash.
type BenefitRow struct {
	InsurerType      string `parquet:"insurer_type"`
	AgeGroup         string `parquet:"age_group"`
	IncomeClass      string `parquet:"income_class"`
	Households       int64  `parquet:"households"`
	Cases            int64  `parquet:"cases"`
	CasesInKind      int64  `parquet:"cases_in_kind"`
	CasesCash        int64  `parquet:"cases_cash"`
	YenInKind        int64  `parquet:"yen_in_kind"`
	YenCash          int64  `parquet:"yen_cash"`
	YenTotal         int64  `parquet:"yen_total"`
	YenPerCase       int64  `parquet:"yen_per_case"`
	YenPerCaseInKind int64  `parquet:"yen_per_case_in_kind"`
	YenPerCaseCash   int64  `parquet:"yen_per_case_cash"`
	// 多数回: household months with tasukai_applied and a benefit.
	TasukaiCases     int64 `parquet:"tasukai_cases"`
	TasukaiYenInKind int64 `parquet:"tasukai_yen_in_kind"`
	TasukaiYenCash   int64 `parquet:"tasukai_yen_cash"`
	CopayTotal       int64 `parquet:"copay_total"` // 窓口負担 before any benefit
	PaidTotal        int64 `parquet:"paid_total"`  // collected at the counter, after in-kind
}

// PersonRow counts person months (a person with a receipt in a service month) by the
// person's own age group and the class that applies to it. Cash only: the ledger keeps a
// person's share of the cash (apportioned from the receipts), while in-kind benefit is the
// counter's and has no person column; the household table has it.
type PersonRow struct {
	InsurerType    string `parquet:"insurer_type"`
	AgeGroup       string `parquet:"age_group"`
	IncomeClass    string `parquet:"income_class"`
	Persons        int64  `parquet:"persons"`
	PersonsCash    int64  `parquet:"persons_cash"`
	YenCash        int64  `parquet:"yen_cash"`
	OutpatientPaid int64  `parquet:"outpatient_paid"`
	OutpatientCash int64  `parquet:"outpatient_cash"`
	InpatientPaid  int64  `parquet:"inpatient_paid"`
}

// OutpatientRow is the 外来特例 (70+ outpatient monthly limit) of one insurer type and class
// (一般, 一般Ⅱ, 低所得Ⅱ, 低所得Ⅰ): of the 70+ patients with outpatient paid, those whose
// outpatient paid reached their class's outpatient limit of the month's rule table. Counted
// as person months and as persons (at least once in the months extracted, the published
// measure; a person is counted under the class of their last such month).
type OutpatientRow struct {
	InsurerType         string  `parquet:"insurer_type"`
	IncomeClass         string  `parquet:"income_class"`
	PersonMonths        int64   `parquet:"person_months"`
	PersonMonthsReached int64   `parquet:"person_months_reached"`
	ShareMonths         float64 `parquet:"share_person_months"`
	Persons             int64   `parquet:"persons"`
	PersonsReached      int64   `parquet:"persons_reached"`
	SharePersons        float64 `parquet:"share_persons"`
}

// AnnualRow is the 外来年間合算 (annual outpatient cap) of one Aug–Jul period the ledger
// holds whole inside the months extracted: persons counted by ledger.Annual (70+ in July in
// 一般, 一般Ⅱ or 低所得, with a counted month), by their class in July's members.
type AnnualRow struct {
	PeriodStart    string  `parquet:"period_start"`
	InsurerType    string  `parquet:"insurer_type"`
	IncomeClass    string  `parquet:"income_class"`
	Persons        int64   `parquet:"persons"`
	PersonsReached int64   `parquet:"persons_reached"`
	Share          float64 `parquet:"share"`
	PayoutYen      int64   `parquet:"payout_yen"`
	Cap            int64   `parquet:"cap"`
}

// DecileRow is one tenth of the household months ranked by the household's own burden:
// before the benefit (copay_total, what the household would bear without 高額療養費) or after
// it (paid_total − benefit_cash). Decile 1 is the smallest. min and max are of the measure
// ranked by; the yen columns are sums over the decile's household months.
type DecileRow struct {
	Ranking    string `parquet:"ranking"` // "before" or "after"
	Decile     int32  `parquet:"decile"`
	Households int64  `parquet:"households"`
	Min        int64  `parquet:"min"`
	Max        int64  `parquet:"max"`
	MeanBefore int64  `parquet:"mean_before"`
	MeanAfter  int64  `parquet:"mean_after"`
	YenBefore  int64  `parquet:"burden_before_yen"`
	YenAfter   int64  `parquet:"burden_after_yen"`
	YenBenefit int64  `parquet:"benefit_yen"` // before − after: in kind + cash
}

// MonthRow is one service month as extracted: the ledger version read and its totals, which
// every other table's totals add up to.
type MonthRow struct {
	ServiceMonth  string `parquet:"service_month"`
	LedgerVersion int32  `parquet:"ledger_version"`
	RulesVersion  string `parquet:"rules_version"`
	Households    int64  `parquet:"households"`
	Cases         int64  `parquet:"cases"`
	YenInKind     int64  `parquet:"yen_in_kind"`
	YenCash       int64  `parquet:"yen_cash"`
	TasukaiCases  int64  `parquet:"tasukai_cases"`
	Persons       int64  `parquet:"persons"`
	PersonsCash   int64  `parquet:"persons_yen_cash"`
}

// Tables are the results of Run.
type Tables struct {
	Benefit    []BenefitRow
	Persons    []PersonRow
	Outpatient []OutpatientRow
	Annual     []AnnualRow
	Deciles    []DecileRow
	Months     []MonthRow
}

// perCase divides yen by a count, rounding half away from zero; 0 when there is nothing.
func perCase(yen, n int64) int64 {
	if n == 0 {
		return 0
	}
	if yen < 0 {
		return -perCase(-yen, n)
	}
	return (2*yen + n) / (2 * n)
}

// share is n/of to six decimals (0 when of is 0).
func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*1e6) / 1e6
}

// cellKey names a cell of the type × age × class tables.
type cellKey struct{ typ, age, class string }

func compareCells(a, b cellKey) int {
	return cmp.Or(cmp.Compare(indexOf(InsurerTypes, a.typ), indexOf(InsurerTypes, b.typ)),
		cmp.Compare(indexOf(ageOrder, a.age), indexOf(ageOrder, b.age)),
		cmp.Compare(classRank(a.class), classRank(b.class)), cmp.Compare(a.class, b.class))
}

// sortedCells lists a map's keys in table order.
func sortedCells[V any](m map[cellKey]V) []cellKey {
	keys := make([]cellKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareCells)
	return keys
}

// benefitAcc sums one cell of BenefitRow.
type benefitAcc struct {
	households, cases, casesInKind, casesCash, inKind, cash int64
	tasukaiCases, tasukaiInKind, tasukaiCash, copay, paid   int64
}

func (a *benefitAcc) row(k cellKey) BenefitRow {
	return BenefitRow{InsurerType: k.typ, AgeGroup: k.age, IncomeClass: k.class, Households: a.households,
		Cases: a.cases, CasesInKind: a.casesInKind, CasesCash: a.casesCash,
		YenInKind: a.inKind, YenCash: a.cash, YenTotal: a.inKind + a.cash,
		YenPerCase: perCase(a.inKind+a.cash, a.cases), YenPerCaseInKind: perCase(a.inKind, a.casesInKind),
		YenPerCaseCash: perCase(a.cash, a.casesCash), TasukaiCases: a.tasukaiCases,
		TasukaiYenInKind: a.tasukaiInKind, TasukaiYenCash: a.tasukaiCash, CopayTotal: a.copay, PaidTotal: a.paid}
}

func (a *benefitAcc) add(b *benefitAcc) {
	a.households += b.households
	a.cases += b.cases
	a.casesInKind += b.casesInKind
	a.casesCash += b.casesCash
	a.inKind += b.inKind
	a.cash += b.cash
	a.tasukaiCases += b.tasukaiCases
	a.tasukaiInKind += b.tasukaiInKind
	a.tasukaiCash += b.tasukaiCash
	a.copay += b.copay
	a.paid += b.paid
}

// fromRow reads a BenefitRow back into sums, for the report's subtotals.
func fromRow(r *BenefitRow) benefitAcc {
	return benefitAcc{households: r.Households, cases: r.Cases, casesInKind: r.CasesInKind, casesCash: r.CasesCash,
		inKind: r.YenInKind, cash: r.YenCash, tasukaiCases: r.TasukaiCases, tasukaiInKind: r.TasukaiYenInKind,
		tasukaiCash: r.TasukaiYenCash, copay: r.CopayTotal, paid: r.PaidTotal}
}
