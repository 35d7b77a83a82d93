package sepa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/text/encoding/charmap"
)

// CODA (Febelfin "coded statement of account", version 2) errors. A
// *CODAError wraps one of these; match with errors.Is.
var (
	// ErrCODALength: a line is not 128 characters long.
	ErrCODALength = errors.New("coda: line is not 128 characters")
	// ErrCODARecord: unknown record type or a record out of place.
	ErrCODARecord = errors.New("coda: unexpected record")
	// ErrCODAField: a field holds a value it cannot hold (non-digits in an
	// amount, impossible date, bad IBAN …).
	ErrCODAField = errors.New("coda: invalid field")
	// ErrCODABalance: old balance + movements ≠ new balance.
	ErrCODABalance = errors.New("coda: balances do not add up")
	// ErrCODATrailer: the trailer's record count or debit/credit totals do
	// not match the statement.
	ErrCODATrailer = errors.New("coda: trailer totals do not match")
)

// CODAError reports what is wrong in a CODA file and where.
type CODAError struct {
	Line   int    // 1-based line number in the file
	Record string // record type, e.g. "2.1"; empty when unknown
	Msg    string // what was wrong
	Err    error  // one of the ErrCODA… sentinels
}

// Error implements error.
func (e *CODAError) Error() string {
	if e.Record == "" {
		return fmt.Sprintf("coda: line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("coda: line %d, record %s: %s", e.Line, e.Record, e.Msg)
}

// Unwrap returns the sentinel error.
func (e *CODAError) Unwrap() error { return e.Err }

// Statement is one statement of account of a CODA file (records 0 to 9).
type Statement struct {
	Line          int       // line of the header record 0
	CreationDate  time.Time // header, positions 6–11
	BankID        string    // header, positions 12–14
	Duplicate     bool      // header position 17 is "D"
	FileReference string    // header, positions 25–34
	Addressee     string    // header, positions 35–60
	BIC           string    // bank's BIC, header positions 61–71
	HolderID      string    // account holder's identification (company number), positions 72–82

	// AccountStructure is position 2 of record 1: 0 Belgian account number,
	// 1 foreign account number, 2 Belgian IBAN, 3 foreign IBAN.
	AccountStructure int
	// Account is the IBAN of the account: as written for structures 2 and
	// 3, converted from the old Belgian account number (BBAN) for structure
	// 0, and the foreign account number as written for structure 1.
	Account string
	// BBAN is the Belgian account number as written (structure 0 only).
	BBAN          string
	Currency      string // ISO currency code of the account
	HolderName    string // record 1, positions 65–90
	Description   string // record 1, positions 91–125
	PaperSequence int    // statement number on paper, record 1 positions 3–5
	CODASequence  int    // statement number of the CODA file, record 1 positions 126–128

	OldBalance     decimal.Decimal // signed, credit positive
	OldBalanceDate time.Time
	NewBalance     decimal.Decimal // signed, credit positive
	NewBalanceDate time.Time

	// Movements are the movements to book, in file order. Their signed sum
	// is NewBalance − OldBalance. See ParseCODA for how grouped movements
	// are handled.
	Movements []Movement
	// Unbooked holds the grouped-movement records that must not be booked
	// (a global amount whose details were booked, or the details of a global
	// amount that was booked), kept for display and audit.
	Unbooked []Movement
	// Information holds the information records 3.1–3.3.
	Information []Information
	// FreeMessages holds the text of the free communication records 4.
	FreeMessages []string
}

// Movement is one movement record 2.1 with its continuation records 2.2 and 2.3.
type Movement struct {
	Line            int             // line of its record 2.1
	Sequence        int             // continuous sequence number, positions 3–6
	Detail          int             // detail number, positions 7–10 (0 for a movement or global amount)
	BankReference   string          // positions 11–31
	Amount          decimal.Decimal // signed: credit positive, debit negative
	ValueDate       time.Time       // zero when the bank wrote 000000
	EntryDate       time.Time       // positions 116–121
	TransactionCode string          // 8 digits, positions 54–61: type, family, transaction, category
	Globalisation   int             // globalisation code, position 125

	// Structured is true when position 62 is 1. StructuredType is then the
	// type of structured communication (positions 63–65, "101" for a Belgian
	// structured communication).
	Structured     bool
	StructuredType string
	// OGM holds the 12 digits of the Belgian structured communication when
	// StructuredType is 101 or 102 and the check digits are right.
	OGM string
	// Communication is the free communication (2.1, 2.2 and 2.3 joined), or
	// the raw structured communication when Structured.
	Communication string

	CounterpartyAccount  string // record 2.3, positions 11–47 (account number, without currency)
	CounterpartyCurrency string
	CounterpartyName     string // record 2.3, positions 48–82 (its communication runs on at 83–125)
	CounterpartyBIC      string // record 2.2, positions 99–109
	CustomerReference    string // record 2.2, positions 64–98 (end-to-end id)
}

// TransactionType is the first digit of the transaction code (0 simple
// amount, 1 amount totalised by the customer, 2 totalised by the bank, 3
// simple amount with details, 5–9 details).
func (m Movement) TransactionType() int {
	if len(m.TransactionCode) == 0 {
		return 0
	}
	return int(m.TransactionCode[0] - '0')
}

// Information is an information record 3.1 with its continuations 3.2 and 3.3.
type Information struct {
	Line            int
	Sequence        int
	Detail          int
	BankReference   string
	TransactionCode string
	Structured      bool
	Communication   string
}

// codaLineLen is the length of every CODA record.
const codaLineLen = 128

// ParseCODA parses a CODA file (version 2, Windows-1252, 128-character
// records separated by LF or CR LF; empty lines are ignored) into its
// statements. It checks the length, type and order of every record, the
// digits and dates of every numeric field, and for each statement that the
// old balance plus the movements equals the new balance and that the trailer
// record 9 counts the records 1, 2.x, 3.x and 8 and totals the debit and
// credit amounts of the movements with detail number 0000. Errors are
// *CODAError values naming the line and what was wrong.
//
// Grouped movements. A movement with detail number 0000 followed by records
// 2.1 with the same continuous sequence number and detail numbers 0001… is a
// global amount with its details. The global amount alone counts in the
// balances. When the details add up exactly to the global amount, all go the
// same way as it and it carries no structured communication of its own (a
// batch of transfers received together, each with its own communication),
// the details are booked and the global amount is kept in Unbooked.
// Otherwise — charges detailed under the net amount a payer's transfer
// left (a detail going the other way), a structured communication on the
// total, details that do not add up, nested globalisations — the global
// amount is booked, with its own communication and payer (taken from its
// only detail going the same way when the bank wrote them there only), and
// the details go to Unbooked. Either way each euro is booked once, and
// Statement.Movements always sums to NewBalance − OldBalance.
//
// Amounts. Every amount is written with three implied decimals; a third
// decimal other than 0 is refused (*CODAError naming the line and the
// field) unless the statement's currency has three.
//
// Not checked: the "next code" and "link code" flags (positions 126 and 128),
// which only announce the records that follow. Version 1 files are refused.
func ParseCODA(data []byte) ([]Statement, error) {
	// The fields are substrings of one string holding the file when it is
	// ASCII (the usual case: one copy instead of one per field), or of the
	// line when only the line is; a line with other bytes decodes each of
	// its text fields from Windows-1252.
	p := codaParser{}
	if asciiBytes(data) {
		p.all = string(data)
	}
	n := 0
	for off := 0; off <= len(data); {
		n++
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		raw, at := data[off:end], off
		off = end + 1
		if len(raw) > 0 && raw[len(raw)-1] == '\r' {
			raw = raw[:len(raw)-1]
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		p.n, p.ln, p.s = n, raw, ""
		if len(raw) == codaLineLen {
			switch {
			case p.all != "":
				p.s = p.all[at : at+codaLineLen]
			case asciiBytes(raw):
				p.s = string(raw)
			}
		}
		if err := p.line(); err != nil {
			return nil, err
		}
	}
	if p.cur != nil {
		return nil, &CODAError{Line: n, Msg: "file ends before the trailer record 9", Err: ErrCODARecord}
	}
	if len(p.out) == 0 {
		return nil, &CODAError{Line: 1, Msg: "no statement in file", Err: ErrCODARecord}
	}
	return p.out, nil
}

// asciiBytes reports whether b holds only ASCII bytes.
func asciiBytes(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// codaParser holds the state of ParseCODA.
type codaParser struct {
	out  []Statement
	cur  *Statement
	last byte // record type of the previous line of the statement: '0','1','2','3','4','8'
	// movements of the current statement in file order, before grouping,
	// with their amounts in thousandths and the parts of their free
	// communication (records 2.1, 2.2 and 2.3), joined when the statement's
	// record 8 is read; group copies them to the statement, and the next
	// statement reuses the slices
	moves []Movement
	milli []int64
	comms []commParts
	// balances of the current statement in thousandths
	oldMilli, newMilli int64
	// counts for the trailer: records 1, 2.x, 3.x and 8
	count int
	// information record being continued
	info *Information
	// seen8 is true once the new balance record 8 of the statement was read
	seen8 bool

	all string // the file when it is ASCII, else ""
	n   int    // line number of the current line
	ln  []byte // the current line
	s   string // the current line as a string when it is ASCII, else ""
	// the last date read and its time (a file repeats its dates)
	lastDate [6]byte
	lastTime time.Time
	// interned short fields (transaction codes, currencies, BICs …)
	intern map[string]string
}

// commParts holds the pieces of a movement's free communication in file
// order: its record 2.1's, then its continuations' (a fourth piece and more
// are appended to the third).
type commParts struct {
	part [3]string
	n    int
}

func (c *commParts) add(s string) {
	if c.n < 3 {
		c.part[c.n] = s
		c.n++
		return
	}
	c.part[2] += s
}

// field returns positions from..to (1-based, inclusive) of line.
func field(line []byte, from, to int) []byte { return line[from-1 : to] }

// text decodes a Windows-1252 field and trims spaces.
func text(b []byte) string {
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.TrimSpace(string(b))
	}
	return strings.TrimSpace(string(s))
}

// rawText decodes a Windows-1252 field without trimming.
func rawText(b []byte) string {
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(s)
}

// text is text(field(line, from, to)) of the current line.
func (p *codaParser) text(from, to int) string {
	if p.s != "" {
		return strings.TrimSpace(p.s[from-1 : to])
	}
	return text(field(p.ln, from, to))
}

// rawText is rawText(field(line, from, to)) of the current line.
func (p *codaParser) rawText(from, to int) string {
	if p.s != "" {
		return p.s[from-1 : to]
	}
	return rawText(field(p.ln, from, to))
}

// short is p.text(from, to) for a field holding one of a few values (a
// currency, a BIC), shared between the records.
func (p *codaParser) short(from, to int) string {
	if p.s == "" {
		return p.text(from, to)
	}
	return p.interned(strings.TrimSpace(p.s[from-1 : to]))
}

// shortRaw is string(field(line, from, to)) (not decoded, not trimmed) for
// a field holding one of a few values (a transaction code, a type of
// structured communication), shared between the records.
func (p *codaParser) shortRaw(from, to int) string {
	if p.s == "" {
		return string(field(p.ln, from, to))
	}
	return p.interned(p.s[from-1 : to])
}

// interned returns the first string equal to s the parser kept (s itself
// the first time), so that repeated values share one small string rather
// than each keep its line.
func (p *codaParser) interned(s string) string {
	if v, ok := p.intern[s]; ok {
		return v
	}
	if p.intern == nil {
		p.intern = map[string]string{}
	}
	v := strings.Clone(s)
	p.intern[v] = v
	return v
}

// e returns a *CODAError of the current line.
func (p *codaParser) e(sentinel error, format string, a ...any) error {
	line := p.ln
	rec := string(line[0:1])
	if line[0] == '2' || line[0] == '3' {
		rec = string(line[0:1]) + "." + string(line[1:2])
	}
	return &CODAError{Line: p.n, Record: rec, Msg: fmt.Sprintf(format, a...), Err: sentinel}
}

func (p *codaParser) line() error {
	line := p.ln
	if len(line) != codaLineLen {
		return &CODAError{Line: p.n, Msg: fmt.Sprintf("%d characters, want %d", len(line), codaLineLen), Err: ErrCODALength}
	}
	if p.cur == nil && line[0] != '0' {
		return p.e(ErrCODARecord, "record type %q where a header record 0 must start a statement", line[0])
	}
	switch line[0] {
	case '0':
		if p.cur != nil {
			return p.e(ErrCODARecord, "header record 0 before the trailer record 9 of the previous statement")
		}
		return p.header()
	case '1':
		if p.last != '0' {
			return p.e(ErrCODARecord, "old balance record 1 must follow the header record 0")
		}
		p.count++
		return p.oldBalance()
	case '2':
		if p.last == '0' || p.seen8 {
			return p.e(ErrCODARecord, "movement record out of place (after record %c)", p.last)
		}
		p.count++
		return p.movement()
	case '3':
		if p.last == '0' || p.seen8 {
			return p.e(ErrCODARecord, "information record out of place (after record %c)", p.last)
		}
		p.count++
		return p.information()
	case '4':
		if p.last == '0' {
			return p.e(ErrCODARecord, "free communication record 4 before the old balance record 1")
		}
		p.cur.FreeMessages = append(p.cur.FreeMessages, p.text(33, 112))
		p.last = '4'
		p.info = nil
		return nil
	case '8':
		if p.last == '0' || p.seen8 {
			return p.e(ErrCODARecord, "new balance record 8 out of place (after record %c)", p.last)
		}
		p.count++
		return p.newBalance()
	case '9':
		return p.trailer()
	default:
		return p.e(ErrCODARecord, "unknown record type %q", line[0])
	}
}

func (p *codaParser) header() error {
	line := p.ln
	if string(field(line, 2, 5)) != "0000" {
		return p.e(ErrCODAField, "positions 2-5 must be 0000, got %q", field(line, 2, 5))
	}
	if string(field(line, 15, 16)) != "05" {
		return p.e(ErrCODAField, "application code (positions 15-16) must be 05, got %q", field(line, 15, 16))
	}
	if v := line[127]; v != '2' {
		return p.e(ErrCODAField, "CODA version %q is not supported (position 128 must be 2)", v)
	}
	d, err := p.date(field(line, 6, 11), false)
	if err != nil {
		return p.e(ErrCODAField, "creation date (positions 6-11): %v", err)
	}
	p.cur = &Statement{
		Line:          p.n,
		CreationDate:  d,
		BankID:        p.text(12, 14),
		Duplicate:     line[16] == 'D',
		FileReference: p.text(25, 34),
		Addressee:     p.text(35, 60),
		BIC:           p.text(61, 71),
		HolderID:      p.text(72, 82),
	}
	p.last, p.moves, p.milli, p.comms, p.count, p.info, p.seen8 = '0', p.moves[:0], p.milli[:0], p.comms[:0], 0, nil, false
	return nil
}

func (p *codaParser) oldBalance() error {
	line := p.ln
	s := p.cur
	s.AccountStructure = int(line[1] - '0')
	switch line[1] {
	case '0':
		s.BBAN, s.Currency = p.text(6, 17), p.text(19, 21)
		iban, err := BelgianIBAN(s.BBAN)
		if err != nil {
			return p.e(ErrCODAField, "Belgian account number (positions 6-17): %v", err)
		}
		s.Account = iban
	case '1', '3':
		s.Account, s.Currency = p.text(6, 39), p.text(40, 42)
	case '2':
		s.Account, s.Currency = p.text(6, 36), p.text(40, 42)
	default:
		return p.e(ErrCODAField, "account structure (position 2) must be 0 to 3, got %q", line[1])
	}
	if line[1] == '2' || line[1] == '3' {
		iban, err := ParseIBAN(s.Account)
		if err != nil {
			return p.e(ErrCODAField, "account (positions 6-39): %v", err)
		}
		s.Account = iban
	}
	bal, milli, err := p.amount(line[42], field(line, 44, 58))
	if err != nil {
		return p.e(ErrCODAField, "old balance (positions 43-58): %v", err)
	}
	s.OldBalance, p.oldMilli = bal, milli
	if s.OldBalanceDate, err = p.date(field(line, 59, 64), false); err != nil {
		return p.e(ErrCODAField, "old balance date (positions 59-64): %v", err)
	}
	s.HolderName = p.text(65, 90)
	s.Description = p.text(91, 125)
	if s.PaperSequence, err = codaInt(field(line, 3, 5)); err != nil {
		return p.e(ErrCODAField, "paper statement number (positions 3-5): %v", err)
	}
	if s.CODASequence, err = codaInt(field(line, 126, 128)); err != nil {
		return p.e(ErrCODAField, "CODA statement number (positions 126-128): %v", err)
	}
	p.last = '1'
	return nil
}

// sequenceDetail reads the sequence and detail numbers of a movement or
// information record (positions 3-6 and 7-10).
func (p *codaParser) sequenceDetail() (seq, detail int, err error) {
	if seq, err = codaInt(field(p.ln, 3, 6)); err != nil {
		return 0, 0, p.e(ErrCODAField, "sequence number (positions 3-6): %v", err)
	}
	if detail, err = codaInt(field(p.ln, 7, 10)); err != nil {
		return 0, 0, p.e(ErrCODAField, "detail number (positions 7-10): %v", err)
	}
	return seq, detail, nil
}

func (p *codaParser) movement() error {
	line := p.ln
	seq, detail, err := p.sequenceDetail()
	if err != nil {
		return err
	}
	p.info = nil
	switch line[1] {
	case '1':
		m := Movement{Line: p.n, Sequence: seq, Detail: detail, BankReference: p.text(11, 31)}
		var milli int64
		if m.Amount, milli, err = p.amount(line[31], field(line, 33, 47)); err != nil {
			return p.e(ErrCODAField, "amount (positions 32-47): %v", err)
		}
		if m.ValueDate, err = p.date(field(line, 48, 53), true); err != nil {
			return p.e(ErrCODAField, "value date (positions 48-53): %v", err)
		}
		if code := field(line, 54, 61); !digitBytes(code) {
			return p.e(ErrCODAField, "transaction code (positions 54-61) %q is not 8 digits", code)
		}
		m.TransactionCode = p.shortRaw(54, 61)
		var comm commParts
		switch line[61] {
		case '0':
			comm.add(p.rawText(63, 115))
		case '1':
			m.Structured = true
			m.StructuredType = p.shortRaw(63, 65)
			m.Communication = p.rawText(66, 115)
			if m.StructuredType == "101" || m.StructuredType == "102" {
				m.OGM = p.ogm(66, 77)
			}
		default:
			return p.e(ErrCODAField, "communication type (position 62) must be 0 or 1, got %q", line[61])
		}
		if m.EntryDate, err = p.date(field(line, 116, 121), false); err != nil {
			return p.e(ErrCODAField, "entry date (positions 116-121): %v", err)
		}
		if c := line[124]; c < '0' || c > '9' {
			return p.e(ErrCODAField, "globalisation code (position 125) %q is not a digit", c)
		}
		m.Globalisation = int(line[124] - '0')
		p.moves = append(p.moves, m)
		p.milli = append(p.milli, milli)
		p.comms = append(p.comms, comm)
	case '2', '3':
		if len(p.moves) == 0 || p.last != '2' {
			return p.e(ErrCODARecord, "continuation record without its movement record 2.1")
		}
		m := &p.moves[len(p.moves)-1]
		comm := &p.comms[len(p.comms)-1]
		if m.Sequence != seq || m.Detail != detail {
			return p.e(ErrCODARecord, "sequence/detail %04d/%04d does not match the movement on line %d (%04d/%04d)",
				seq, detail, m.Line, m.Sequence, m.Detail)
		}
		if line[1] == '2' {
			if !m.Structured {
				comm.add(p.rawText(11, 63))
			}
			m.CustomerReference = p.text(64, 98)
			m.CounterpartyBIC = p.short(99, 109)
		} else {
			if line[22] == ' ' { // Belgian account number: 12 digits, blank, currency
				m.CounterpartyAccount, m.CounterpartyCurrency = p.text(11, 22), p.short(24, 26)
			} else {
				m.CounterpartyAccount, m.CounterpartyCurrency = p.text(11, 44), p.short(45, 47)
			}
			m.CounterpartyName = p.text(48, 82)
			if !m.Structured {
				comm.add(p.rawText(83, 125))
			}
		}
	default:
		return p.e(ErrCODARecord, "unknown movement record 2.%c", line[1])
	}
	p.last = '2'
	return nil
}

// ogm is ParseOGM's digits for the structured communication at positions
// from..to of the current line, or "" when ParseOGM refuses it.
func (p *codaParser) ogm(from, to int) string {
	b := field(p.ln, from, to)
	if p.s != "" && len(b) == 12 && digitBytes(b) {
		base, check := uint64(0), uint64(0)
		for _, c := range b[:10] {
			base = base*10 + uint64(c-'0')
		}
		check = uint64(b[10]-'0')*10 + uint64(b[11]-'0')
		if check != OGMCheck(base) {
			return ""
		}
		return p.s[from-1 : to]
	}
	if ogm, err := ParseOGM(string(b)); err == nil {
		return ogm
	}
	return ""
}

func (p *codaParser) information() error {
	line := p.ln
	seq, detail, err := p.sequenceDetail()
	if err != nil {
		return err
	}
	switch line[1] {
	case '1':
		p.cur.Information = append(p.cur.Information, Information{
			Line: p.n, Sequence: seq, Detail: detail,
			BankReference:   p.text(11, 31),
			TransactionCode: string(field(line, 32, 39)),
			Structured:      line[39] == '1',
			Communication:   p.rawText(41, 113),
		})
		p.info = &p.cur.Information[len(p.cur.Information)-1]
	case '2', '3':
		if p.info == nil {
			return p.e(ErrCODARecord, "continuation record without its information record 3.1")
		}
		if p.info.Sequence != seq || p.info.Detail != detail {
			return p.e(ErrCODARecord, "sequence/detail %04d/%04d does not match the information record on line %d",
				seq, detail, p.info.Line)
		}
		to := 115
		if line[1] == '3' {
			to = 100
		}
		p.info.Communication += p.rawText(11, to)
	default:
		return p.e(ErrCODARecord, "unknown information record 3.%c", line[1])
	}
	p.last = '3'
	return nil
}

func (p *codaParser) newBalance() error {
	line := p.ln
	s := p.cur
	bal, milli, err := p.amount(line[41], field(line, 43, 57))
	if err != nil {
		return p.e(ErrCODAField, "new balance (positions 42-57): %v", err)
	}
	s.NewBalance, p.newMilli = bal, milli
	if s.NewBalanceDate, err = p.date(field(line, 58, 63), false); err != nil {
		return p.e(ErrCODAField, "new balance date (positions 58-63): %v", err)
	}
	// Check the balance (in thousandths, exactly: sums that would overflow
	// an int64 are done in decimal).
	var sum milliSum
	for i, m := range p.moves {
		if m.Detail == 0 {
			sum.add(p.milli[i], m.Amount)
		}
	}
	var want milliSum
	want.add(p.oldMilli, s.OldBalance)
	want.addSum(sum)
	if !want.equal(p.newMilli, s.NewBalance) {
		return p.e(ErrCODABalance, "old balance %s + movements %s = %s, but the new balance is %s",
			s.OldBalance.StringFixed(2), sum.decimal().StringFixed(2), want.decimal().StringFixed(2), s.NewBalance.StringFixed(2))
	}
	// Join the free communications.
	for i := range p.moves {
		if m := &p.moves[i]; !m.Structured {
			c := &p.comms[i]
			m.Communication = strings.TrimSpace(c.part[0] + c.part[1] + c.part[2])
		}
	}
	if err := p.group(); err != nil {
		return err
	}
	p.last, p.seen8 = '8', true
	return nil
}

// milliSum is an exact sum of amounts: in thousandths while it fits in an
// int64, in decimal once it would not.
type milliSum struct {
	n   int64
	big bool
	d   decimal.Decimal
}

// add adds an amount of milli thousandths, d in decimal.
func (s *milliSum) add(milli int64, d decimal.Decimal) {
	if !s.big {
		if r, ok := addMilli(s.n, milli); ok {
			s.n = r
			return
		}
		s.big, s.d = true, decimal.New(s.n, -3)
	}
	s.d = s.d.Add(d)
}

// addSum adds another sum.
func (s *milliSum) addSum(o milliSum) {
	if o.big {
		s.add(0, decimal.Zero)
		if !s.big {
			s.big, s.d = true, decimal.New(s.n, -3)
		}
		s.d = s.d.Add(o.d)
		return
	}
	s.add(o.n, decimal.New(o.n, -3))
}

// equal reports whether the sum is the amount of milli thousandths, d in decimal.
func (s *milliSum) equal(milli int64, d decimal.Decimal) bool {
	if s.big {
		return s.d.Equal(d)
	}
	return s.n == milli
}

// decimal returns the sum.
func (s *milliSum) decimal() decimal.Decimal {
	if s.big {
		return s.d
	}
	return decimal.New(s.n, -3)
}

// addMilli returns a+b and whether it did not overflow.
func addMilli(a, b int64) (int64, bool) {
	r := a + b
	if (a > 0 && b > 0 && r < 0) || (a < 0 && b < 0 && r >= 0) {
		return 0, false
	}
	return r, true
}

// group splits the movements into Movements (to book) and Unbooked.
func (p *codaParser) group() error {
	s := p.cur
	if n := len(p.moves) - countDetails(p.moves); n > 0 {
		s.Movements = make([]Movement, 0, n)
	}
	for i := 0; i < len(p.moves); {
		g := p.moves[i]
		if g.Detail != 0 {
			return &CODAError{Line: g.Line, Record: "2.1", Err: ErrCODARecord,
				Msg: fmt.Sprintf("detail %04d of movement %04d without its global amount (detail 0000)", g.Detail, g.Sequence)}
		}
		j := i + 1
		var sum milliSum
		for j < len(p.moves) && p.moves[j].Sequence == g.Sequence && p.moves[j].Detail != 0 {
			sum.add(p.milli[j], p.moves[j].Amount)
			j++
		}
		details := p.moves[i+1 : j]
		switch {
		case len(details) == 0:
			s.Movements = append(s.Movements, g)
		case splits(g, details, sum.equal(p.milli[i], g.Amount)):
			s.Unbooked = append(s.Unbooked, g)
			s.Movements = append(s.Movements, details...)
		default:
			s.Movements = append(s.Movements, fillGlobal(g, details))
			s.Unbooked = append(s.Unbooked, details...)
		}
		i = j
	}
	for i := range s.Movements {
		s.Movements[i].Communication = strings.TrimSpace(s.Movements[i].Communication)
	}
	for i := range s.Unbooked {
		s.Unbooked[i].Communication = strings.TrimSpace(s.Unbooked[i].Communication)
	}
	for i := range s.Information {
		s.Information[i].Communication = strings.TrimSpace(s.Information[i].Communication)
	}
	return nil
}

// countDetails returns how many of moves have a detail number.
func countDetails(moves []Movement) int {
	n := 0
	for i := range moves {
		if moves[i].Detail != 0 {
			n++
		}
	}
	return n
}

// splits reports whether the details of global amount g are the
// movements to book in its place: they add up to it (addUp), all go the
// same way as it (a batch of credits received together, a batch of
// payments), and g carries no structured communication of its own. A
// detail going the other way is a charge the bank took from the amount (a
// globalisation of what a payer sent and the bank's costs): then the
// account received g, under g's communication and payer.
func splits(g Movement, details []Movement, addUp bool) bool {
	if !addUp || g.OGM != "" {
		return false
	}
	for _, d := range details {
		if d.Amount.Sign() != g.Amount.Sign() {
			return false
		}
	}
	return true
}

// fillGlobal completes a global amount booked in place of its details with
// the payer the bank wrote only on a detail: when exactly one detail goes
// the same way as g, its counterparty (and its structured communication,
// when g has no communication of its own) stand for g's.
func fillGlobal(g Movement, details []Movement) Movement {
	var same []Movement
	for _, d := range details {
		if d.Amount.Sign() == g.Amount.Sign() {
			same = append(same, d)
		}
	}
	if len(same) != 1 {
		return g
	}
	d := same[0]
	if g.CounterpartyName == "" && g.CounterpartyAccount == "" {
		g.CounterpartyName, g.CounterpartyAccount = d.CounterpartyName, d.CounterpartyAccount
		g.CounterpartyCurrency, g.CounterpartyBIC = d.CounterpartyCurrency, d.CounterpartyBIC
	}
	if g.OGM == "" && strings.TrimSpace(g.Communication) == "" && d.OGM != "" {
		g.Structured, g.StructuredType, g.OGM, g.Communication = d.Structured, d.StructuredType, d.OGM, d.Communication
	}
	return g
}

func (p *codaParser) trailer() error {
	line := p.ln
	if !p.seen8 {
		return p.e(ErrCODARecord, "trailer record 9 before the new balance record 8")
	}
	count, err := codaInt(field(line, 17, 22))
	if err != nil {
		return p.e(ErrCODAField, "record count (positions 17-22): %v", err)
	}
	debit, debitMilli, err := p.amount('0', field(line, 23, 37))
	if err != nil {
		return p.e(ErrCODAField, "debit total (positions 23-37): %v", err)
	}
	credit, creditMilli, err := p.amount('0', field(line, 38, 52))
	if err != nil {
		return p.e(ErrCODAField, "credit total (positions 38-52): %v", err)
	}
	if count != p.count {
		return p.e(ErrCODATrailer, "record count %d, but the statement has %d records 1, 2.x, 3.x and 8", count, p.count)
	}
	var wantDebit, wantCredit milliSum
	for i, m := range p.moves {
		if m.Detail != 0 {
			continue
		}
		if p.milli[i] < 0 {
			wantDebit.add(-p.milli[i], m.Amount.Neg())
		} else {
			wantCredit.add(p.milli[i], m.Amount)
		}
	}
	if !wantDebit.equal(debitMilli, debit) {
		return p.e(ErrCODATrailer, "debit total %s, but the movements add up to %s", debit.StringFixed(2), wantDebit.decimal().StringFixed(2))
	}
	if !wantCredit.equal(creditMilli, credit) {
		return p.e(ErrCODATrailer, "credit total %s, but the movements add up to %s", credit.StringFixed(2), wantCredit.decimal().StringFixed(2))
	}
	p.out = append(p.out, *p.cur)
	p.cur, p.info, p.last, p.seen8 = nil, nil, 0, false
	return nil
}

// amount reads an amount of the current statement (codaAmount), in decimal
// and in thousandths, and refuses a third decimal other than 0 unless the
// statement's currency has three (a euro amount has two: a bank never books
// a tenth of a cent, and the ledger would refuse it half-way through an
// import).
func (p *codaParser) amount(sign byte, digits []byte) (decimal.Decimal, int64, error) {
	n, err := codaMilli(sign, digits)
	if err != nil {
		return decimal.Decimal{}, 0, err
	}
	d := decimal.New(n, -3)
	if n%10 == 0 {
		return d, n, nil
	}
	cur := ""
	if p.cur != nil {
		cur = p.cur.Currency
	}
	if !threeDecimalCurrencies[cur] {
		if cur == "" {
			cur = "EUR"
		}
		return decimal.Decimal{}, 0, fmt.Errorf("%s has a third decimal (%q), but %s amounts have two", d.String(), digits, cur)
	}
	return d, n, nil
}

// threeDecimalCurrencies are the ISO 4217 currencies with three minor units.
var threeDecimalCurrencies = map[string]bool{"BHD": true, "IQD": true, "JOD": true, "KWD": true, "LYD": true, "OMR": true, "TND": true}

// codaMilli reads a 15-digit amount with 3 implied decimals and its sign
// digit (0 credit, 1 debit), in thousandths (15 digits fit in an int64).
func codaMilli(sign byte, digits []byte) (int64, error) {
	if len(digits) != 15 || !digitBytes(digits) {
		return 0, fmt.Errorf("%q is not 15 digits", digits)
	}
	var n int64
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	switch sign {
	case '0':
		return n, nil
	case '1':
		return -n, nil
	default:
		return 0, fmt.Errorf("sign %q must be 0 (credit) or 1 (debit)", sign)
	}
}

// date is codaDate, remembering the last date read.
func (p *codaParser) date(b []byte, zeroOK bool) (time.Time, error) {
	if len(b) == 6 && string(b) == string(p.lastDate[:]) && !p.lastTime.IsZero() {
		return p.lastTime, nil
	}
	t, err := codaDate(b, zeroOK)
	if err == nil && !t.IsZero() && len(b) == 6 {
		copy(p.lastDate[:], b)
		p.lastTime = t
	}
	return t, err
}

// codaDate reads a DDMMYY date (years 2000–2099). With zeroOK, 000000 means
// "unknown" and gives the zero time.
func codaDate(b []byte, zeroOK bool) (time.Time, error) {
	if zeroOK && string(b) == "000000" {
		return time.Time{}, nil
	}
	if len(b) != 6 || !digitBytes(b) {
		return time.Time{}, fmt.Errorf("%q is not a DDMMYY date", b)
	}
	day := int(b[0]-'0')*10 + int(b[1]-'0')
	month := int(b[2]-'0')*10 + int(b[3]-'0')
	year := int(b[4]-'0')*10 + int(b[5]-'0')
	t := time.Date(2000+year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day || int(t.Month()) != month {
		return time.Time{}, fmt.Errorf("%q is not a valid date", b)
	}
	return t, nil
}

// digitBytes is isDigits for a byte slice.
func digitBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// codaInt reads an all-digit field.
func codaInt(b []byte) (int, error) {
	if !digitBytes(b) {
		return 0, fmt.Errorf("%q is not a number", b)
	}
	if len(b) <= 18 {
		n := 0
		for _, c := range b {
			n = n*10 + int(c-'0')
		}
		return n, nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("%q: %v", b, err)
	}
	return n, nil
}
