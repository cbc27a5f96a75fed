package receipt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/kougaku/batch/rules"
)

// ReadUKE reads one UKE file (医科/DPC RECEIPTC/RECEIPTD, 歯科, 調剤 RECEIPTY.CYO) into record batches of Schema,
// exactly like ReadReceipts (same emit/reject contracts, same ReadStats meaning).
//
// Every RE record is one receipt, normalized with its HO, SN and (for DPC) BU/SB records:
//
//   - receipt_id is institution_id, 審査支払機関 (header field 1: 1 支払基金, 2 国保連),
//     請求年月 (YYYYMM), マルチボリューム識別情報 (2 digits, "00" when absent) and the RE
//     レセプト番号 as written, joined with "-": stable across reruns of the same file, and unique
//     as long as レセプト番号 is unique within a volume, also when one institution's 社保 and
//     国保 files, each numbering its RE from 1, are read together.
//   - person_id is the non-empty parts of HO 記号, HO 番号 and SN 枝番 (from the SN of the
//     医療保険, 負担者種別 1), each folded to half-width ASCII and trimmed, joined with "-":
//     記号 １９Ｄ０００１, 番号 １１ and 枝番 00 give "19D0001-11-00". The members table must key
//     persons the same way. A part with characters other than ASCII, full-width letters and
//     digits, spaces and dashes (kana, kanji) cannot be keyed and rejects the receipt.
//   - institution_id is 都道府県 + 点数表 + 医療機関コード of the current IR, UK or YK header
//     (a code written with fewer than 7 digits is zero-padded). A header may come again
//     mid-file: it ends the receipt before it and switches the institution.
//   - kind comes from レセプト種別 digit 1 (1 medical, or dpc for a receipt with BU/SB records
//     or in a file named RECEIPTD*, 3 dental, 4 pharmacy), setting from digit 4 (odd
//     inpatient, even outpatient; pharmacy always outpatient).
//   - cost is HO 合計点数 × 10; copay is cost × the rate the receipt implies (copayPercent),
//     rounded to 10 yen half up; paid is HO 負担金額 (医科 HO[11], 歯科 HO[10], 調剤 HO[9])
//     when recorded, else copay. A recorded 負担金額 above the derived copay raises copay to it:
//     the receipt is the authority on what was collected.
//   - tokutei is chou for 特記事項 02, chou2 for 16; prescriber_id (調剤) is RE 9–11
//     (都道府県, 点数表, 医療機関コード of the prescribing institution) when recorded.
//   - birth_date and sex are RE 生年月日 and 男女区分; dates may be 西暦 or 和暦, told by length.
//
// Rejects: a 公費単独 receipt (種別 digit 2 = 2) is OUT_OF_SCOPE; a receipt without HO, or
// with a field it needs that does not parse, is BAD_RECORD, its Source the file and 1-based
// line of the offending record. Unlike a normalized file, a UKE file thus yields OUT_OF_SCOPE
// rejects as well: ReadStats.Rejected and PaidRejected count every reject handed to reject,
// so Rows (every RE) = accepted + Rejected still holds, and PaidRead sums paid over every RE
// whose paid could be derived (of a reject: only a recorded HO 負担金額).
//
// A file whose first record is not IR, UK or YK is not a UKE file: a *FileError, as is a
// file that cannot be read. opt.Warn, when set, hears of a GO 総件数 that disagrees with the
// number of HO and KO records (総件数 counts each insurance and 公費 part, not the receipts:
// uke-format.md §3), a missing GO, and receipt records found outside any receipt.
func ReadUKE(ctx context.Context, file string, opt ReadOptions, emit func(Batch) error, reject func(Reject) error) (ReadStats, error) {
	if err := ctx.Err(); err != nil {
		return ReadStats{}, err
	}
	f, err := os.Open(file)
	if err != nil {
		return ReadStats{}, &FileError{File: file, Err: err}
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return readUKE(ctx, file, f, size, opt, emit, reject)
}

// readUKE is ReadUKE on an open stream named file, of size bytes if known (else 0).
func readUKE(ctx context.Context, file string, r io.Reader, size int64, opt ReadOptions, emit func(Batch) error, reject func(Reject) error) (ReadStats, error) {
	if opt.BatchRows <= 0 {
		opt.BatchRows = DefaultBatchRows
	}
	if opt.Alloc == nil {
		opt.Alloc = memory.DefaultAllocator
	}
	s := &receiptSink{ctx: ctx, file: file, emit: emit, reject: reject, b: newBatchBuilder(opt.Alloc, opt.BatchRows)}
	defer s.b.close()
	// A receipt takes 250 bytes of a file at the very least (RE and HO alone): reserve room
	// for the first batch at once rather than growing the builder's slices from nothing.
	s.b.reserve(int(min(size/250+1, int64(opt.BatchRows))))
	u := &ukeReader{s: s, warn: opt.Warn, lines: ukeLines{r: r}, ukVol: [2]byte{'0', '0'}}
	base := strings.ToUpper(filepath.Base(file))
	u.dpcFile = strings.HasPrefix(base, "RECEIPTD")
	err := u.run()
	if err == nil {
		err = s.flush()
	}
	return s.stats, err
}

// ExpandUKEPaths turns the command line's UKE inputs into the files to read, as ExpandPaths
// does for normalized files: a file is kept whatever its name; a directory yields its regular
// files (or symlinks to one) whose extension is .UKE or .CYO in any case, sorted by name, not
// recursing. The same file named twice is read once. A path that does not exist is an error.
func ExpandUKEPaths(paths []string) ([]string, error) {
	e, err := ExpandUKE(paths)
	return e.Files, err
}

// ExpandUKE is ExpandUKEPaths, telling what the directories held besides (Expand).
func ExpandUKE(paths []string) (Expansion, error) {
	return expandPaths(paths, ".UKE or .CYO", func(name string) bool {
		ext := strings.ToUpper(filepath.Ext(name))
		return ext == ".UKE" || ext == ".CYO"
	})
}

// Record IDs, as the two bytes before the first comma.
const (
	idIR = 'I'<<8 | 'R'
	idUK = 'U'<<8 | 'K'
	idYK = 'Y'<<8 | 'K'
	idRE = 'R'<<8 | 'E'
	idHO = 'H'<<8 | 'O'
	idKO = 'K'<<8 | 'O'
	idSN = 'S'<<8 | 'N'
	idBU = 'B'<<8 | 'U'
	idSB = 'S'<<8 | 'B'
	idGO = 'G'<<8 | 'O'
)

// ukeLayout is a 点数表's table of field positions.
type ukeLayout uint8

const (
	layoutMedical  ukeLayout = iota // 医科, DPC
	layoutDental                    // 歯科
	layoutPharmacy                  // 調剤
)

// Field positions (0 = record ID) shared by every layout.
const (
	reNo         = 1 // レセプト番号
	reShubetsu   = 2 // レセプト種別
	reMonth      = 3 // 診療年月 (調剤年月)
	reSex        = 5 // 男女区分
	reBirth      = 6 // 生年月日
	reKyufu      = 7 // 給付割合
	rePrescPref  = 9 // 調剤: 処方 都道府県
	rePrescTensu = 10
	rePrescCode  = 11
	hoInsurer    = 1 // 保険者番号
	hoKigo       = 2 // 記号
	hoBango      = 3 // 番号
	hoPoints     = 5 // 合計点数
	snPayer      = 1 // 負担者種別
	snEdaban     = 6 // 枝番
	goCount      = 1 // 総件数
)

// Positions that differ (uke-format.md §4, §6).
var (
	reTokki = [3]int{layoutMedical: 11, layoutDental: 13, layoutPharmacy: 8} // 特記事項
	// カタカナ氏名, past the fields split out: read from the line (kanaField). A DPC RE has two
	// more fields before it (uke-format.md §4.2, the old DPC spec).
	reKana    = [3]int{layoutMedical: 36, layoutDental: 25, layoutPharmacy: 41}
	reKanaDPC = 38
	hoFutan   = [3]int{layoutMedical: 11, layoutDental: 10, layoutPharmacy: 9} // 負担金額
)

// ukeFields is how many fields of a record are split out: RE[13] is the last one read.
const ukeFields = 14

// Slots of the fields a receipt keeps until it is complete.
const (
	kNo = iota
	kShubetsu
	kMonth
	kSex
	kBirth
	kKyufu
	kTokki
	kPrescPref
	kPrescTensu
	kPrescCode
	kInsurer
	kKigo
	kBango
	kPoints
	kFutan
	kEdaban
	kKana
	numKept
)

// ukeHeader is the current IR/UK/YK: the institution and claim of the receipts after it.
type ukeHeader struct {
	line   int64
	layout ukeLayout
	inst   [10]byte // 都道府県 + 点数表 + 医療機関コード
	payer  byte     // 審査支払機関: '1' 社会保険診療報酬支払基金, '2' 国民健康保険団体連合会
	claim  [6]byte  // 請求年月 YYYYMM
	vol    [2]byte  // マルチボリューム識別情報
	err    string   // why the header cannot name receipts; "" when it can
}

// ukeRec is the receipt being read: copies of the fields it needs, taken from its records
// as they pass (the line buffer moves on).
type ukeRec struct {
	active bool
	line   int64 // the RE record
	layout ukeLayout
	arena  []byte
	kept   [numKept][2]int // [lo, hi) in arena
	hoLine int64           // 0 until an HO is seen
	dupHO  int64           // the line of a second HO, if any
	snLine int64           // the SN that gave 枝番
	dpc    bool            // a BU or SB record was seen
}

func (r *ukeRec) keep(k int, b []byte) {
	lo := len(r.arena)
	r.arena = append(r.arena, b...)
	r.kept[k] = [2]int{lo, len(r.arena)}
}

func (r *ukeRec) get(k int) []byte { return r.arena[r.kept[k][0]:r.kept[k][1]] }

// ukeReader reads one file into a receiptSink.
type ukeReader struct {
	s       *receiptSink
	warn    func(string)
	lines   ukeLines
	dpcFile bool
	hdr     ukeHeader
	ukVol   [2]byte // the volume of the last UK: a 歯科 IR has none of its own
	rec     ukeRec
	reCount int64 // RE records since the start or the last GO
	parts   int64 // HO and KO records since the start or the last GO: what GO 総件数 counts
	sawGO   bool

	t                               textRow
	id, month, birth, person, presc []byte
	kana                            []byte                // the カタカナ氏名 in UTF-8
	sjis                            transform.Transformer // Shift_JIS to UTF-8, for the name
}

var (
	strMedical    = []byte("medical")
	strDPC        = []byte("dpc")
	strDental     = []byte("dental")
	strPharmacy   = []byte("pharmacy")
	strInpatient  = []byte("inpatient")
	strOutpatient = []byte("outpatient")
	strChou       = []byte("chou")
	strChou2      = []byte("chou2")
)

func (u *ukeReader) warnf(format string, args ...any) {
	if u.warn != nil {
		u.warn(fmt.Sprintf(format, args...))
	}
}

func (u *ukeReader) run() error {
	started := false
	var f ukeSplit
	for {
		line, ok := u.lines.next()
		if !ok {
			break
		}
		// 0x1A is the EOF mark some writers put after the last CRLF (or, in files that
		// were concatenated, between them): never data.
		for len(line) > 0 && line[len(line)-1] == 0x1A {
			line = line[:len(line)-1]
		}
		for len(line) > 0 && line[0] == 0x1A {
			line = line[1:]
		}
		if len(line) < 2 || (len(line) > 2 && line[2] != ',') {
			if len(line) > 0 && !started {
				return u.notUKE(line)
			}
			continue // an empty line, or no record
		}
		id := uint16(line[0])<<8 | uint16(line[1])
		n := u.lines.n
		if !started {
			if id != idIR && id != idUK && id != idYK {
				return u.notUKE(line)
			}
			started = true
		}
		switch id {
		case idIR, idUK, idYK:
			if err := u.finish(); err != nil {
				return err
			}
			split(line, &f)
			u.header(id, &f, n)
		case idRE:
			if err := u.finish(); err != nil {
				return err
			}
			split(line, &f)
			u.startRE(&f, line, n)
		case idHO:
			u.parts++
			if !u.inReceipt("HO", n) {
				continue
			}
			r := &u.rec
			if r.hoLine != 0 {
				if r.dupHO == 0 {
					r.dupHO = n
				}
				continue
			}
			split(line, &f)
			r.hoLine = n
			r.keep(kInsurer, f[hoInsurer])
			r.keep(kKigo, f[hoKigo])
			r.keep(kBango, f[hoBango])
			r.keep(kPoints, f[hoPoints])
			r.keep(kFutan, f[hoFutan[r.layout]])
		case idKO:
			u.parts++
		case idSN:
			if !u.inReceipt("SN", n) {
				continue
			}
			split(line, &f)
			// The 医療保険's SN (負担者種別 1) carries the person's 枝番; the first one counts.
			if r := &u.rec; r.snLine == 0 && string(trimSpace(f[snPayer])) == "1" {
				r.snLine = n
				r.keep(kEdaban, f[snEdaban])
			}
		case idBU, idSB:
			if u.inReceipt("BU/SB", n) {
				u.rec.dpc = true
			}
		case idGO:
			if err := u.finish(); err != nil {
				return err
			}
			split(line, &f)
			if c, ok := parseUint(f[goCount], 9); !ok {
				u.warnf("%s: GO 総件数 %q is not a number (the file holds %d HO and KO records)", Position(u.s.file, n), string(f[goCount]), u.parts)
			} else if c != u.parts {
				u.warnf("%s: GO 総件数 says %d, but the file holds %d HO and KO records", Position(u.s.file, n), c, u.parts)
			}
			u.reCount, u.parts, u.sawGO = 0, 0, true
		}
	}
	if err := u.lines.err; err != nil {
		return &FileError{File: u.s.file, Line: u.lines.n + 1, Err: err}
	}
	if !started {
		return &FileError{File: u.s.file, Err: errors.New("not a UKE file: no IR, UK or YK header record")}
	}
	if err := u.finish(); err != nil {
		return err
	}
	switch {
	case !u.sawGO:
		u.warnf("%s: no GO record (the file holds %d RE records): the file may be cut short", u.s.file, u.reCount)
	case u.reCount > 0:
		u.warnf("%s: %d RE records after the last GO record", u.s.file, u.reCount)
	}
	return nil
}

func (u *ukeReader) notUKE(line []byte) error {
	return &FileError{File: u.s.file, Line: u.lines.n,
		Err: fmt.Errorf("not a UKE file: the first record is %q, want IR, UK or YK", line[:min(len(line), 16)])}
}

// inReceipt reports whether a receipt is open for a record of its part; if not, it warns.
func (u *ukeReader) inReceipt(what string, line int64) bool {
	if u.rec.active {
		return true
	}
	u.warnf("%s: %s record outside any receipt (no RE since the last header or GO), ignored", Position(u.s.file, line), what)
	return false
}

// ukeSplit is a record cut into its first ukeFields fields. It lives on run's stack: stores
// into it need no write barrier (as a field of the heap-allocated reader they showed in the
// profile).
type ukeSplit [ukeFields][]byte

// split cuts line into f: the first ukeFields fields, short records padded with nil.
// Shift_JIS never has ',' as a trail byte, so cutting at commas is safe. The fields are short:
// a plain loop beats a bytes.IndexByte call per field.
func split(line []byte, f *ukeSplit) {
	n, start := 0, 0
	for j := 0; j < len(line); j++ {
		if line[j] == ',' {
			f[n] = line[start:j]
			n++
			start = j + 1
			if n == ukeFields {
				return
			}
		}
	}
	f[n] = line[start:]
	for n++; n < ukeFields; n++ {
		f[n] = nil
	}
}

// header takes an IR, UK or YK record (split into u.f). Positions (uke-format.md §3):
// 医科 IR 請求年月 7, マルチボリューム 8; 歯科 UK 7, 9; 歯科 IR (点数表 3) 6, none;
// 調剤 YK 6, 7.
func (u *ukeReader) header(id uint16, f *ukeSplit, line int64) {
	h := &u.hdr
	h.line, h.err = line, ""
	name, claimAt, volAt := "IR", 7, 8
	h.layout = layoutMedical
	switch {
	case id == idUK:
		name, claimAt, volAt, h.layout = "UK", 7, 9, layoutDental
	case id == idYK:
		name, claimAt, volAt, h.layout = "YK", 6, 7, layoutPharmacy
	case string(trimSpace(f[3])) == "3":
		claimAt, volAt, h.layout = 6, -1, layoutDental
	}
	if p := trimSpace(f[1]); len(p) == 1 && p[0] >= '0' && p[0] <= '9' {
		h.payer = p[0]
	} else {
		h.err = fmt.Sprintf("%s 審査支払機関 (field 1): want 1 digit, got %q", name, f[1])
		return
	}
	b := h.inst[:0]
	var ok bool
	if b, ok = appendPadded(b, f[2], 2); !ok {
		h.err = fmt.Sprintf("%s 都道府県 (field 2): want 2 digits, got %q", name, f[2])
		return
	}
	if b, ok = appendPadded(b, f[3], 1); !ok {
		h.err = fmt.Sprintf("%s 点数表 (field 3): want 1 digit, got %q", name, f[3])
		return
	}
	if _, ok = appendPadded(b, f[4], 7); !ok {
		h.err = fmt.Sprintf("%s 医療機関コード (field 4): want up to 7 digits, got %q", name, f[4])
		return
	}
	d, ok := ukeDate(f[claimAt], false)
	if !ok {
		h.err = fmt.Sprintf("%s 請求年月 (field %d): bad 年月 %q (want YYYYMM or GYYMM)", name, claimAt, f[claimAt])
		return
	}
	appendMonth(h.claim[:0], d, 0)
	switch {
	case volAt < 0:
		h.vol = u.ukVol
	case len(trimSpace(f[volAt])) == 0:
		h.vol = [2]byte{'0', '0'}
	default:
		if _, ok = appendPadded(h.vol[:0], f[volAt], 2); !ok {
			h.err = fmt.Sprintf("%s マルチボリューム識別情報 (field %d): want 2 digits, got %q", name, volAt, f[volAt])
			return
		}
	}
	if id == idUK {
		u.ukVol = h.vol
	}
}

// startRE opens a receipt from an RE record (split into u.f).
func (u *ukeReader) startRE(f *ukeSplit, raw []byte, line int64) {
	r := &u.rec
	u.reCount++
	*r = ukeRec{active: true, line: line, layout: u.hdr.layout, arena: r.arena[:0]}
	// The 点数表 digit of レセプト種別 says which positions the receipt's records follow;
	// when it is broken the receipt is rejected anyway, and the header's guess is kept.
	if sb := trimSpace(f[reShubetsu]); len(sb) > 0 {
		switch sb[0] {
		case '1':
			r.layout = layoutMedical
		case '3':
			r.layout = layoutDental
		case '4':
			r.layout = layoutPharmacy
		}
	}
	r.keep(kNo, f[reNo])
	r.keep(kShubetsu, f[reShubetsu])
	r.keep(kMonth, f[reMonth])
	r.keep(kSex, f[reSex])
	r.keep(kBirth, f[reBirth])
	r.keep(kKyufu, f[reKyufu])
	r.keep(kTokki, f[reTokki[r.layout]])
	kana := reKana[r.layout]
	if u.dpcFile && r.layout == layoutMedical {
		kana = reKanaDPC
	}
	r.keep(kKana, fieldAt(raw, kana))
	if r.layout == layoutPharmacy {
		r.keep(kPrescPref, f[rePrescPref])
		r.keep(kPrescTensu, f[rePrescTensu])
		r.keep(kPrescCode, f[rePrescCode])
	}
}

// finish normalizes the open receipt, if any, into an accepted row or a reject.
func (u *ukeReader) finish() error {
	r := &u.rec
	if !r.active {
		return nil
	}
	r.active = false
	if err := u.s.row(); err != nil {
		return err
	}
	t, h := &u.t, &u.hdr
	*t = textRow{}

	// The ids first, so that a reject names what it can.
	no := trimSpace(r.get(kNo))
	noOK := len(no) > 0 && allDigits(no)
	if h.err == "" && noOK {
		b := append(u.id[:0], h.inst[:]...)
		b = append(b, '-', h.payer, '-')
		b = append(b, h.claim[:]...)
		b = append(b, '-')
		b = append(b, h.vol[:]...)
		b = append(b, '-')
		u.id = append(b, no...)
		t[ColReceiptID] = u.id
	}
	insurer := trimSpace(r.get(kInsurer))
	insurerOK := (len(insurer) == 6 || len(insurer) == 8) && allDigits(insurer)
	if insurerOK {
		t[ColInsurerNo] = insurer
	}
	personDetail, personLine := u.personID()
	if personDetail == "" {
		t[ColPersonID] = u.person
	}
	futanRaw := trimSpace(r.get(kFutan))
	futan, futanOK := parseUint(futanRaw, 12)
	// What a reject reports as paid: only a recorded 負担金額 (a derived copay needs every
	// field to be good).
	rejPaid, rejPaidOK := futan, r.hoLine != 0 && futanOK

	bad := func(line int64, detail string) error {
		return u.s.rejectAs(BadRecord, t, line, rejPaid, rejPaidOK, detail)
	}
	if h.err != "" {
		return bad(h.line, h.err+" (header of the receipt on line "+strconv.FormatInt(r.line, 10)+")")
	}
	if !noOK {
		return bad(r.line, fmt.Sprintf("RE レセプト番号 (field 1): want digits, got %q", no))
	}
	sb := trimSpace(r.get(kShubetsu))
	if len(sb) != 4 || !allDigits(sb) || (sb[0] != '1' && sb[0] != '3' && sb[0] != '4') || sb[1] < '1' || sb[1] > '4' {
		return bad(r.line, fmt.Sprintf("RE レセプト種別 (field 2): want 4 digits, 点数表 1, 3 or 4 and 保険 1–4, got %q", sb))
	}
	if sb[1] == '2' {
		return u.s.rejectAs(OutOfScope, t, r.line, 0, false,
			fmt.Sprintf("RE レセプト種別 %s: 公費単独, no 医療保険 part", sb))
	}
	month, ok := ukeDate(r.get(kMonth), false)
	if !ok {
		return bad(r.line, fmt.Sprintf("RE 診療年月 (field 3): bad 年月 %q (want YYYYMM or GYYMM)", r.get(kMonth)))
	}
	sex := trimSpace(r.get(kSex))
	if len(sex) != 1 || (sex[0] != '1' && sex[0] != '2') {
		return bad(r.line, fmt.Sprintf("RE 男女区分 (field 5): want 1 or 2, got %q", sex))
	}
	birth, ok := ukeDate(r.get(kBirth), true)
	if !ok {
		return bad(r.line, fmt.Sprintf("RE 生年月日 (field 6): bad 年月日 %q (want YYYYMMDD or GYYMMDD)", r.get(kBirth)))
	}
	kyufu := -1
	if k := trimSpace(r.get(kKyufu)); len(k) > 0 {
		v, ok := parseUint(k, 3)
		if !ok || v > 100 {
			return bad(r.line, fmt.Sprintf("RE 給付割合 (field 7): want a percentage 0–100, got %q", k))
		}
		kyufu = int(v)
	}
	tk, ok := parseTokki(r.get(kTokki))
	if !ok {
		return bad(r.line, fmt.Sprintf("RE 特記事項 (field %d): want 2-digit codes, got %q", reTokki[r.layout], r.get(kTokki)))
	}
	u.presc = u.presc[:0]
	if r.layout == layoutPharmacy {
		p, c, code := r.get(kPrescPref), r.get(kPrescTensu), r.get(kPrescCode)
		if len(trimSpace(p))+len(trimSpace(c))+len(trimSpace(code)) > 0 {
			b, ok1 := appendPadded(u.presc, p, 2)
			b, ok2 := appendPadded(b, c, 1)
			b, ok3 := appendPadded(b, code, 7)
			if !ok1 || !ok2 || !ok3 {
				return bad(r.line, fmt.Sprintf("RE 処方 医療機関 (fields 9–11): want 都道府県 (2 digits), 点数表 (1), 医療機関コード (up to 7), got %q, %q, %q", p, c, code))
			}
			u.presc = b
		}
	}
	if r.hoLine == 0 {
		return bad(r.line, "RE without an HO record: no 医療保険 points to read")
	}
	if r.dupHO != 0 {
		return bad(r.dupHO, fmt.Sprintf("HO: a second HO record for the receipt on line %d", r.line))
	}
	if !insurerOK {
		return bad(r.hoLine, fmt.Sprintf("HO 保険者番号 (field 1): want 6 or 8 digits, got %q", insurer))
	}
	if personDetail != "" {
		return bad(personLine, personDetail)
	}
	points, ok := parseUint(r.get(kPoints), 10)
	if !ok {
		return bad(r.hoLine, fmt.Sprintf("HO 合計点数 (field 5): want a number of points, got %q", r.get(kPoints)))
	}
	if len(futanRaw) > 0 && !futanOK {
		return bad(r.hoLine, fmt.Sprintf("HO 負担金額 (field %d): want yen, got %q", hoFutan[r.layout], futanRaw))
	}
	m := month.MonthOfDate()
	pct, detail := copayPercent(rateInput{Insurance: sb[1], Patient: sb[3], Kyufu: kyufu, KuKa: tk.kuKa, Birth: birth, Month: m})
	if detail != "" {
		return bad(r.line, "RE レセプト種別 "+string(sb)+": "+detail)
	}
	cost := points * 10
	copay := copayOf(points, pct)
	paid := copay
	if len(futanRaw) > 0 {
		paid = futan
		copay = max(copay, paid)
	}

	u.month = appendMonth(u.month[:0], month, '-')
	u.birth = appendDate(u.birth[:0], birth)
	t[ColServiceMonth] = u.month
	t[ColInstitutionID] = h.inst[:]
	switch sb[0] {
	case '1':
		t[ColKind] = strMedical
		if r.dpc || u.dpcFile {
			t[ColKind] = strDPC
		}
	case '3':
		t[ColKind] = strDental
	default:
		t[ColKind] = strPharmacy
	}
	t[ColSetting] = strOutpatient
	if sb[0] != '4' && (sb[3]-'0')%2 == 1 {
		t[ColSetting] = strInpatient
	}
	t[ColPrescriberID] = u.presc
	switch {
	case tk.chou2:
		t[ColTokutei] = strChou2
	case tk.chou:
		t[ColTokutei] = strChou
	}
	t[ColBirthDate] = u.birth
	t[ColSex] = sex
	t[ColNameKana] = u.nameKana(trimSpace(r.get(kKana)))
	return u.s.accept(t, cost, copay, paid, false, r.line)
}

// fieldAt is field k of a record (0: the record ID), nil when the record is shorter.
func fieldAt(line []byte, k int) []byte {
	for ; k > 0; k-- {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return nil
		}
		line = line[i+1:]
	}
	if i := bytes.IndexByte(line, ','); i >= 0 {
		return line[:i]
	}
	return line
}

// nameKana turns a カタカナ氏名 from Shift_JIS into UTF-8, in u.kana; a name that does not
// decode is left out (it would match no one's).
func (u *ukeReader) nameKana(sjis []byte) []byte {
	u.kana = u.kana[:0]
	if len(sjis) == 0 {
		return nil
	}
	if u.sjis == nil {
		u.sjis = japanese.ShiftJIS.NewDecoder()
	}
	u.sjis.Reset()
	u.kana = slices.Grow(u.kana, 3*len(sjis)) // a Shift_JIS byte takes at most 3 in UTF-8
	n, _, err := u.sjis.Transform(u.kana[:cap(u.kana)], sjis, true)
	if err != nil {
		return nil
	}
	u.kana = u.kana[:n]
	return u.kana
}

// personID builds u.person from 記号, 番号 and 枝番; on failure it says why and where.
func (u *ukeReader) personID() (detail string, line int64) {
	r := &u.rec
	b := u.person[:0]
	for _, part := range [...]struct {
		k    int
		name string
		line int64
	}{{kKigo, "HO 記号 (field 2)", r.hoLine}, {kBango, "HO 番号 (field 3)", r.hoLine}, {kEdaban, "SN 枝番 (field 6)", r.snLine}} {
		v := r.get(part.k)
		n := len(b)
		if n > 0 {
			b = append(b, '-')
		}
		var ok bool
		if b, ok = foldID(b, v); !ok {
			u.person = b[:0]
			return fmt.Sprintf("%s: %q has characters that do not fold to ASCII (only letters, digits, spaces and dashes do)", part.name, v), part.line
		}
		if len(b) == n+1 && n > 0 {
			b = b[:n] // an empty part: drop its separator
		}
	}
	u.person = b
	if len(b) == 0 && r.hoLine != 0 {
		return "HO 記号 and 番号 (fields 2, 3): both empty, no person to name", r.hoLine
	}
	return "", 0
}

// rejectAs rejects a row with a reason code and whatever ids it has. paidOK says whether
// paid could be read; the paid of a reject counts as read and rejected.
func (s *receiptSink) rejectAs(reason string, t *textRow, line int64, paid int64, paidOK bool, detail string) error {
	if !paidOK {
		paid = 0
	}
	if err := s.addPaid(&s.stats.PaidRead, rules.CountedPaid(paid)); err != nil {
		return err
	}
	if err := s.addPaid(&s.stats.PaidRejected, rules.CountedPaid(paid)); err != nil {
		return err
	}
	s.stats.Rejected++
	if s.reject == nil {
		return nil
	}
	return s.reject(Reject{
		Source:    Position(s.file, line),
		ReceiptID: string(t[ColReceiptID]),
		InsurerNo: string(t[ColInsurerNo]),
		PersonID:  string(t[ColPersonID]),
		Reason:    reason,
		Detail:    detail,
		Paid:      paid,
	})
}

// reserve makes room in an empty builder for rows receipts of ordinary string lengths.
func (b *batchBuilder) reserve(rows int) {
	if rows <= 16 {
		return
	}
	for _, i := range stringCols {
		width := 10
		switch i {
		case ColReceiptID:
			width = 32
		case ColPersonID:
			width = 16
		case ColTokutei, ColPrescriberID, ColSex:
			width = 2
		}
		b.offsets[i] = slices.Grow(b.offsets[i], rows+1)
		b.data[i] = slices.Grow(b.data[i], rows*width)
	}
	for _, c := range []int{ColCost, ColCopay, ColPaid, ColSourceLine} {
		b.ints[c] = slices.Grow(b.ints[c], rows)
	}
	b.cancel = slices.Grow(b.cancel, rows)
}

// ukeLines hands out the lines of a stream without their CR LF or LF, aliasing its buffer
// (valid until the next call). Lines are found with bytes.IndexByte, which is what makes
// skipping the many detail records (SI, IY, CO...) cheap.
type ukeLines struct {
	r        io.Reader
	buf      []byte
	pos, end int
	eof      bool
	err      error
	n        int64 // the number of the line last returned (1-based)
}

const (
	ukeBufSize = 1 << 20
	// ukeMaxLine bounds a line (the longest real records, SS and CO, are a few KB): a file
	// without line breaks is not read into memory whole.
	ukeMaxLine = 64 << 20
)

func (l *ukeLines) next() ([]byte, bool) {
	for {
		if i := bytes.IndexByte(l.buf[l.pos:l.end], '\n'); i >= 0 {
			line := l.buf[l.pos : l.pos+i]
			l.pos += i + 1
			l.n++
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, true
		}
		if l.eof || l.err != nil {
			if l.pos < l.end && l.err == nil {
				line := l.buf[l.pos:l.end]
				l.pos = l.end
				l.n++
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				return line, true
			}
			return nil, false
		}
		l.fill()
	}
}

// fill moves the unread bytes to the front and reads more, growing the buffer for a long
// line.
func (l *ukeLines) fill() {
	if l.buf == nil {
		l.buf = make([]byte, ukeBufSize)
	}
	if l.pos > 0 {
		l.end = copy(l.buf, l.buf[l.pos:l.end])
		l.pos = 0
	}
	if l.end == len(l.buf) {
		if len(l.buf) >= ukeMaxLine {
			l.err = fmt.Errorf("a line longer than %d MiB: not a UKE file", ukeMaxLine>>20)
			return
		}
		nb := make([]byte, 2*len(l.buf))
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	n, err := l.r.Read(l.buf[l.end:])
	l.end += n
	switch {
	case err == io.EOF:
		l.eof = true
	case err != nil:
		l.err = err
	}
}
