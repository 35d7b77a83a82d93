package books

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"tartine/internal/spreadsheet"
	"tartine/internal/tz"
	"tartine/ledger"
)

// Journal is one of the journals the books are exported by.
type Journal string

// The journals. Code is the journal code written in exports (six
// characters at most, as WinBooks requires).
const (
	JournalBank    Journal = "bank"    // bank statement lines (CODA): transfers, payouts, remittances
	JournalStripe  Journal = "stripe"  // card top-ups, Stripe fees, refunds, disputes
	JournalCash    Journal = "cash"    // kiosk cash: top-ups, drawer differences, remittances out
	JournalCanteen Journal = "canteen" // meals and no-shows
	JournalDaycare Journal = "daycare" // daycare sessions
	JournalFees    Journal = "fees"    // school fees charged, cancelled, credited, written off
	JournalMisc    Journal = "misc"    // everything else (sibling transfers, year close)
)

// Journals lists the journals in export order.
var Journals = []Journal{JournalBank, JournalStripe, JournalCash, JournalCanteen, JournalDaycare, JournalFees, JournalMisc}

// Code is the journal's code in exports.
func (j Journal) Code() string {
	switch j {
	case JournalBank:
		return "BQ1"
	case JournalStripe:
		return "STR"
	case JournalCash:
		return "CAI"
	case JournalCanteen:
		return "CAN"
	case JournalDaycare:
		return "GAR"
	case JournalFees:
		return "FRA"
	}
	return "OD"
}

// financial reports whether the journal follows a money account (WinBooks
// type 4, "financier"); the others are miscellaneous operations (type 5).
func (j Journal) financial() bool {
	return j == JournalBank || j == JournalStripe || j == JournalCash
}

// ParseJournal returns the journal named s ("" and "all" give "", all).
func ParseJournal(s string) (Journal, bool) {
	if s == "" || s == "all" {
		return "", true
	}
	if slices.Contains(Journals, Journal(s)) {
		return Journal(s), true
	}
	return "", false
}

// kindJournal is the journal of a transfer kind.
var kindJournal = map[string]Journal{
	"bank-transfer": JournalBank, "bank-unallocated": JournalBank, "bank-allocation": JournalBank,
	"cash-remittance-arrival": JournalBank, "stripe-payout": JournalBank, "statement-payment": JournalBank,
	"topup": JournalStripe, "stripe-fee": JournalStripe, "topup-refund": JournalStripe, "topup-dispute": JournalStripe,
	"kiosk-topup": JournalCash, "cash-over-short": JournalCash, "cash-remittance": JournalCash,
	"meal": JournalCanteen, "meal-noshow": JournalCanteen,
	"daycare": JournalDaycare,
	"fee":     JournalFees, "fee-cancel": JournalFees, "fee-credit": JournalFees, "write-off": JournalFees,
	"statement-wallet": JournalFees, "refund-paid": JournalBank,
}

// journalOf returns the journal of a transfer: by its (origin) kind, else
// by the money account it touches, else miscellaneous.
func journalOf(kind string, codes []string) Journal {
	if j, ok := kindJournal[kind]; ok {
		return j
	}
	for _, c := range codes {
		switch {
		case c == "bank":
			return JournalBank
		case c == "stripe-clearing":
			return JournalStripe
		case strings.HasPrefix(c, "cash:"):
			return JournalCash
		}
	}
	return JournalMisc
}

// Entry is one exported line: a posting with its PCMN account.
type Entry struct {
	Journal      Journal
	Document     int64 // the ledger transfer id
	Date         time.Time
	PCMN         string
	PCMNLabel    string
	Debit        decimal.Decimal
	Credit       decimal.Decimal
	Label        string // readable: what, for whom, which reference
	LedgerCode   string // the ledger account ("wallet:42")
	Line         int    // 1-based line within the document
	TransferKind string
}

// Entries returns the tenant's postings with business time in [from, to)
// in journal j ("" for all), grouped by transfer, ordered by business time.
func (s *Service) Entries(ctx context.Context, tenantID int64, from, to time.Time, j Journal) ([]Entry, error) {
	chart, err := s.Chart(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []Entry
	var doc []ledger.JournalLine
	flush := func() {
		if len(doc) == 0 {
			return
		}
		codes := make([]string, len(doc))
		for i, l := range doc {
			codes[i] = l.AccountCode
		}
		jn := journalOf(doc[0].OriginKind, codes)
		if j == "" || jn == j {
			label := readableLabel(doc)
			for i, l := range doc {
				r, _ := chart.Lookup(l.AccountCode, l.AccountType)
				e := Entry{Journal: jn, Document: l.TransferID, Date: l.OccurredAt.In(tz.Brussels), PCMN: r.PCMN, PCMNLabel: r.Label,
					Debit: decimal.Zero, Credit: decimal.Zero, Label: label, LedgerCode: l.AccountCode, Line: i + 1, TransferKind: l.Kind}
				if l.Amount.IsPositive() {
					e.Debit = l.Amount
				} else {
					e.Credit = l.Amount.Neg()
				}
				out = append(out, e)
			}
		}
		doc = doc[:0]
	}
	err = s.led.Journal(ctx, tenantID, from, to, func(l ledger.JournalLine) error {
		if len(doc) > 0 && doc[0].TransferID != l.TransferID {
			flush()
		}
		doc = append(doc, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("books: %w", err)
	}
	flush()
	return out, nil
}

// pupilNamePrefixes are the words ledger account names put before a
// pupil's name.
var pupilNamePrefixes = []string{"Portefeuille ", "Frais scolaires ", "Créance élève "}

// readableLabel is a transfer's label for people: its memo (or kind), the
// pupils whose wallet or receivable it touches, and its references
// (receipt, statement, payout, remittance); "Annulation" for a reversal.
func readableLabel(doc []ledger.JournalLine) string {
	first := doc[0]
	var parts []string
	what := first.Memo
	if what == "" {
		what = first.OriginKind
	}
	if first.ReversesID != nil {
		what = fmt.Sprintf("Annulation n° %d — %s", *first.ReversesID, what)
	}
	parts = append(parts, what)
	seen := map[string]bool{}
	for _, l := range doc {
		if !strings.HasPrefix(l.AccountCode, "wallet:") && !strings.HasPrefix(l.AccountCode, "receivable:") && !strings.HasPrefix(l.AccountCode, "fees:") {
			continue
		}
		name := l.AccountName
		for _, p := range pupilNamePrefixes {
			name = strings.TrimPrefix(name, p)
		}
		if name != "" && !seen[name] {
			seen[name] = true
			parts = append(parts, name)
		}
	}
	for _, k := range []struct{ key, label string }{
		{"receipt", "reçu"}, {"statement", "décompte"}, {"payout", "versement Stripe"},
		{"remittance", "remise"}, {"charge", "paiement"}, {"station", "caisse"},
	} {
		if v := first.Metadata[k.key]; v != "" {
			parts = append(parts, k.label+" "+v)
		}
	}
	return strings.Join(parts, " · ")
}

// CSVColumns is the header of the journal CSV (docs/ACCOUNTING.md).
var CSVColumns = []string{"journal", "pièce", "ligne", "date", "compte", "intitulé du compte", "débit", "crédit", "libellé", "compte Tartine", "type"}

// beAmount writes an amount with a comma decimal separator: "1234,50".
func beAmount(d decimal.Decimal) string { return strings.Replace(d.StringFixed(2), ".", ",", 1) }

// WriteCSV writes entries as the documented Belgian CSV: UTF-8 with a
// byte-order mark, ';' between fields, CRLF, comma decimals, dates
// dd/mm/yyyy (Brussels), every text cell defused against formulas.
func WriteCSV(w io.Writer, entries []Entry) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := spreadsheet.NewWriter(w)
	cw.Comma = ';'
	cw.UseCRLF = true
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, e := range entries {
		if err := cw.Write([]string{e.Journal.Code(), strconv.FormatInt(e.Document, 10), strconv.Itoa(e.Line),
			e.Date.Format("02/01/2006"), e.PCMN, e.PCMNLabel, beAmount(e.Debit), beAmount(e.Credit), e.Label, e.LedgerCode, e.TransferKind}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WinBooksColumns are the fields of WinBooks' ACT.txt import file, in order.
var WinBooksColumns = []string{
	"DOCTYPE", "DBKCODE", "DBKTYPE", "DOCNUMBER", "DOCORDER", "OPCODE",
	"ACCOUNTGL", "ACCOUNTRP", "BOOKYEAR", "PERIOD", "DATE", "DATEDOC",
	"DUEDATE", "COMMENT", "COMMENTEXT", "AMOUNT", "AMOUNTEUR", "VATBASE",
	"VATCODE", "CURRAMOUNT", "CURRCODE", "CUREURBASE", "VATTAX", "VATIMPUT",
	"CURRATE", "REMINDLEV", "MATCHNO", "OLDDATE", "ISMATCHED", "ISLOCKED",
	"ISIMPORTED", "ISPOSITIVE", "ISTEMP", "MEMOTYPE", "ISDOC", "DOCSTATUS",
}

// WriteWinBooks writes entries as WinBooks' ACT.txt: one general line
// (DOCTYPE 3) per posting, comma-separated, every field quoted, no header,
// CRLF; DBKTYPE 4 for the bank, Stripe and cash journals, 5 for the others;
// the transfer id as document number; PERIOD the month (a WinBooks book year
// of twelve monthly periods is assumed); AMOUNTEUR debit minus credit with
// a dot; COMMENT the label cut to 40 characters. bookYear is the book
// year's code in the WinBooks file (a setting of the export: WinBooks
// numbers book years itself).
func WriteWinBooks(w io.Writer, entries []Entry, bookYear string) error {
	rec := make([]string, len(WinBooksColumns))
	for _, e := range entries {
		dbkType := "5"
		if e.Journal.financial() {
			dbkType = "4"
		}
		amount := e.Debit.Sub(e.Credit)
		positive := "T"
		if amount.IsNegative() {
			positive = "F"
		}
		day := e.Date.Format("20060102")
		for i := range rec {
			rec[i] = ""
		}
		rec[0], rec[1], rec[2] = "3", e.Journal.Code(), dbkType
		rec[3], rec[4] = strconv.FormatInt(e.Document, 10), fmt.Sprintf("%03d", e.Line)
		rec[6] = e.PCMN
		rec[8], rec[9] = bookYear, e.Date.Format("01")
		rec[10], rec[11] = day, day
		rec[13] = spreadsheet.Cell(cut(e.Label, 40))
		rec[15], rec[16] = "0.000", amount.StringFixed(3)
		rec[17], rec[19], rec[21], rec[22], rec[24], rec[25] = "0.000", "0.000", "0.000", "0.000", "0.00000", "0"
		rec[28], rec[29], rec[30], rec[31], rec[32], rec[33], rec[34] = "F", "F", "F", positive, "F", "0", "F"
		if err := writeQuoted(w, rec); err != nil {
			return err
		}
	}
	return nil
}

// writeQuoted writes one record with every field in double quotes (as
// WinBooks writes and reads ACT.txt), CRLF-terminated.
func writeQuoted(w io.Writer, rec []string) error {
	var b strings.Builder
	for i, f := range rec {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(strings.NewReplacer("\r", " ", "\n", " ").Replace(f), `"`, `""`))
		b.WriteByte('"')
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// cut returns s cut to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// Balance is the total of an export on one PCMN account.
type Balance struct {
	PCMN   string
	Debit  decimal.Decimal
	Credit decimal.Decimal
}

// Balances sums entries by PCMN account, by account number.
func Balances(entries []Entry) []Balance {
	m := map[string]*Balance{}
	for _, e := range entries {
		b, ok := m[e.PCMN]
		if !ok {
			b = &Balance{PCMN: e.PCMN}
			m[e.PCMN] = b
		}
		b.Debit, b.Credit = b.Debit.Add(e.Debit), b.Credit.Add(e.Credit)
	}
	out := make([]Balance, 0, len(m))
	for _, b := range m {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b Balance) int { return strings.Compare(a.PCMN, b.PCMN) })
	return out
}
