package sepa

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var update = flag.Bool("update", false, "rewrite the golden CODA files in testdata/")

// readGolden returns the golden CODA files, checking that the generator still
// writes them byte for byte (run go test -update to rewrite them).
func readGolden(t *testing.T) map[string][]byte {
	t.Helper()
	files := goldenCODA(t)
	for name, want := range files {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from what the generator writes (run go test -update after checking)", path)
		}
	}
	return files
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func date(d, m, y int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func TestCODAGoldenLines(t *testing.T) {
	for name, data := range readGolden(t) {
		for i, line := range strings.Split(strings.TrimRight(string(data), "\r\n"), "\n") {
			if n := len(strings.TrimSuffix(line, "\r")); n != 128 {
				t.Errorf("%s line %d: %d bytes", name, i+1, n)
			}
		}
	}
}

func TestParseCODAStructured(t *testing.T) {
	data := readGolden(t)["statement_ogm.cod"]
	sts, err := ParseCODA(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 {
		t.Fatalf("%d statements, want 1", len(sts))
	}
	s := sts[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"creation date", s.CreationDate, date(1, 12, 2026)},
		{"BIC", s.BIC, "GKCCBEBB"},
		{"addressee", s.Addressee, "ECOLE SAINT-JOSEPH"},
		{"holder id", s.HolderID, "00123456789"},
		{"account", s.Account, "BE68539007547034"},
		{"structure", s.AccountStructure, 2},
		{"currency", s.Currency, "EUR"},
		{"holder", s.HolderName, "PO ECOLE SAINT-JOSEPH"},
		{"description", s.Description, "Compte courant"},
		{"paper seq", s.PaperSequence, 12},
		{"coda seq", s.CODASequence, 235},
		{"old balance", s.OldBalance.String(), "1234.56"},
		{"old date", s.OldBalanceDate, date(30, 11, 2026)},
		{"new balance", s.NewBalance.String(), "1287.22"},
		{"new date", s.NewBalanceDate, date(1, 12, 2026)},
		{"movements", len(s.Movements), 3},
		{"unbooked", len(s.Unbooked), 0},
		{"free messages", s.FreeMessages, []string{"Votre extrait de compte numéro 12 – merci de votre confiance."}},
	}
	for _, c := range checks {
		if !equalAny(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if t.Failed() {
		return
	}
	m := s.Movements[0]
	if !m.Structured || m.StructuredType != "101" || m.OGM != "010806817183" {
		t.Errorf("movement 1: structured %v type %q OGM %q, want 101 010806817183", m.Structured, m.StructuredType, m.OGM)
	}
	if !m.Amount.Equal(dec("25")) || m.CounterpartyName != "DUPONT MARIE" || m.CounterpartyAccount != "BE71096123456769" ||
		m.CounterpartyCurrency != "EUR" || m.CounterpartyBIC != "GEBABEBB" || m.CustomerReference != "NOTPROVIDED" {
		t.Errorf("movement 1 = %+v", m)
	}
	if m.Line != 3 || m.Sequence != 1 || m.Detail != 0 || m.BankReference != "0001200002835" ||
		m.TransactionCode != "00150000" || m.TransactionType() != 0 || !m.ValueDate.Equal(date(1, 12, 2026)) ||
		!m.EntryDate.Equal(date(1, 12, 2026)) {
		t.Errorf("movement 1 = %+v", m)
	}
	m = s.Movements[1]
	if m.Structured || m.OGM != "" || !m.Amount.Equal(dec("-12.34")) ||
		m.Communication != "Frais de gestion de compte – décembre 2026 (ÉCOLE)" {
		t.Errorf("movement 2: amount %s communication %q", m.Amount, m.Communication)
	}
	m = s.Movements[2]
	wantComm := "Recharge cantine Emma Dubois classe P3A et Lucas Dubois classe M2B pour le mois de décembre, merci beaucoup !"
	if m.Communication != wantComm || m.CounterpartyName != "DUBOIS-LEROY FRANÇOIS" || !m.ValueDate.Equal(date(30, 11, 2026)) {
		t.Errorf("movement 3: communication %q name %q", m.Communication, m.CounterpartyName)
	}
	if len(s.Information) != 1 || s.Information[0].Sequence != 3 ||
		s.Information[0].Communication != "DUBOIS-LEROY FRANÇOIS RUE DE LA STATION 12 5000 NAMUR" {
		t.Errorf("information = %+v", s.Information)
	}
	checkSum(t, s)
}

func TestParseCODAGrouped(t *testing.T) {
	sts, err := ParseCODA(readGolden(t)["statement_grouped.cod"])
	if err != nil {
		t.Fatal(err)
	}
	s := sts[0]
	type mv struct {
		seq, detail int
		amount, ogm string
	}
	var got []mv
	for _, m := range s.Movements {
		got = append(got, mv{m.Sequence, m.Detail, m.Amount.StringFixed(2), m.OGM})
	}
	w := func(seq uint64) string { o, _ := WalletOGM(42, seq); return o }
	want := []mv{
		{1, 1, "40.00", w(1234)}, // details of a global amount that add up: booked
		{1, 2, "35.00", w(1235)},
		{1, 3, "25.00", w(7)},
		{2, 0, "-60.00", ""}, // nested details do not add up: the global amount is booked
		{3, 0, "15.00", w(99)},
	}
	if !equalAny(got, want) {
		t.Errorf("booked movements\ngot  %v\nwant %v", got, want)
	}
	var unbooked []mv
	for _, m := range s.Unbooked {
		unbooked = append(unbooked, mv{m.Sequence, m.Detail, m.Amount.StringFixed(2), m.OGM})
	}
	wantUnbooked := []mv{{1, 0, "100.00", ""}, {2, 1, "-60.00", ""}, {2, 2, "-25.00", ""}, {2, 3, "-35.00", ""}}
	if !equalAny(unbooked, wantUnbooked) {
		t.Errorf("unbooked\ngot  %v\nwant %v", unbooked, wantUnbooked)
	}
	if s.Movements[2].CounterpartyName != "NGUYEN THI" || s.Movements[2].Globalisation != 1 || s.Movements[2].TransactionType() != 6 {
		t.Errorf("detail 3 = %+v", s.Movements[2])
	}
	if !s.Movements[4].ValueDate.IsZero() {
		t.Errorf("value date 000000 gave %v, want zero", s.Movements[4].ValueDate)
	}
	checkSum(t, s)
}

// TestParseCODAGlobalisation: a payer's transfer that the bank globalised
// with its charge books what the account received, under the total's
// structured communication and payer (or the detail's, when the bank wrote
// them there only); the gross amount and the charge are not booked.
func TestParseCODAGlobalisation(t *testing.T) {
	sts, err := ParseCODA(readGolden(t)["statement_globalisation.cod"])
	if err != nil {
		t.Fatal(err)
	}
	s := sts[0]
	w := func(seq uint64) string { o, _ := WalletOGM(42, seq); return o }
	type mv struct {
		seq, detail       int
		amount, ogm, name string
	}
	var got []mv
	for _, m := range s.Movements {
		got = append(got, mv{m.Sequence, m.Detail, m.Amount.StringFixed(2), m.OGM, m.CounterpartyName})
	}
	want := []mv{
		{1, 0, "48.50", w(1234), "MARTIN SOPHIE"},
		{2, 0, "29.75", w(76), "PEETERS AN"},
		{3, 0, "20.00", w(7), "NGUYEN THI"},
	}
	if !equalAny(got, want) {
		t.Errorf("booked movements\ngot  %v\nwant %v", got, want)
	}
	if m := s.Movements[0]; m.CounterpartyAccount != "FR7630006000011234567890189" || !m.Structured || m.Communication != w(1234) {
		t.Errorf("total 1: account %q structured %v communication %q", m.CounterpartyAccount, m.Structured, m.Communication)
	}
	if m := s.Movements[1]; m.CounterpartyAccount != "NL91ABNA0417164300" || m.CounterpartyBIC != "ABNANL2A" {
		t.Errorf("total 2: account %q BIC %q, want the detail's", m.CounterpartyAccount, m.CounterpartyBIC)
	}
	var unbooked []mv
	for _, m := range s.Unbooked {
		unbooked = append(unbooked, mv{m.Sequence, m.Detail, m.Amount.StringFixed(2), m.OGM, m.CounterpartyName})
	}
	wantUnbooked := []mv{{1, 1, "50.00", "", ""}, {1, 2, "-1.50", "", ""}, {2, 1, "30.00", w(76), "PEETERS AN"}, {2, 2, "-0.25", "", ""}}
	if !equalAny(unbooked, wantUnbooked) {
		t.Errorf("unbooked\ngot  %v\nwant %v", unbooked, wantUnbooked)
	}
	checkSum(t, s)
}

// TestParseCODABBAN reads a statement that names its account in the old
// Belgian form (account structure 0) and a free communication of 140
// characters whose end is in record 2.3 up to position 125.
func TestParseCODABBAN(t *testing.T) {
	sts, err := ParseCODA(readGolden(t)["statement_bban.cod"])
	if err != nil {
		t.Fatal(err)
	}
	s := sts[0]
	if s.AccountStructure != 0 || s.BBAN != "539007547034" || s.Account != "BE68539007547034" || s.Currency != "EUR" {
		t.Errorf("structure %d BBAN %q account %q currency %q, want 0 539007547034 BE68539007547034 EUR",
			s.AccountStructure, s.BBAN, s.Account, s.Currency)
	}
	if len(s.Movements) != 2 {
		t.Fatalf("%d movements, want 2", len(s.Movements))
	}
	if got := s.Movements[1].Communication; got != LongCommunication {
		t.Errorf("communication (%d characters)\ngot  %q\nwant %q", len([]rune(got)), got, LongCommunication)
	}
	checkSum(t, s)

	// A Belgian account number whose check digits are wrong is refused.
	bad := bytes.Replace(readGolden(t)["statement_bban.cod"], []byte("10046539007547034"), []byte("10046539007547035"), 1)
	_, err = ParseCODA(bad)
	var ce *CODAError
	if !errors.As(err, &ce) || ce.Line != 2 || !errors.Is(err, ErrCODAField) || !strings.Contains(err.Error(), "Belgian account number") {
		t.Errorf("bad BBAN: error = %v, want line 2 Belgian account number", err)
	}
}

// TestParseCODAThirdDecimal: an amount with a third decimal is refused by
// the parser, naming its line and field, even when the balances and
// trailer add up with it.
func TestParseCODAThirdDecimal(t *testing.T) {
	f := &codaFile{t: t}
	f.header("011226", "000", "", "X", "GKCCBEBB", "00123456789")
	f.oldBalance(1, "BE68539007547034", "0", "301126", "X", "", 1)
	f.movement(codaMove{seq: 1, amount: "5", valueDate: "011226", code: "00150000", ogm: "010806817183", entryDate: "011226"})
	f.movement(codaMove{seq: 2, amount: "10.005", valueDate: "011226", code: "00150000", comm: "X", entryDate: "011226"})
	f.newBalance(1, "BE68539007547034", "15.005", "011226")
	f.trailer(true)
	_, err := ParseCODA(f.bytes("\n"))
	var ce *CODAError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCODAField) {
		t.Fatalf("error = %v, want a *CODAError ErrCODAField", err)
	}
	if ce.Line != 4 || ce.Record != "2.1" {
		t.Errorf("error on line %d record %s, want line 4 record 2.1: %v", ce.Line, ce.Record, err)
	}
	for _, want := range []string{"line 4", "amount (positions 32-47)", "10.005", "third decimal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestParseCODATwoStatementsCRLF(t *testing.T) {
	sts, err := ParseCODA(readGolden(t)["two_statements_crlf.cod"])
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("%d statements, want 2", len(sts))
	}
	if len(sts[0].Movements) != 0 || !sts[0].OldBalance.Equal(dec("500")) || !sts[0].NewBalance.Equal(dec("500")) {
		t.Errorf("statement 1 = %+v", sts[0])
	}
	s := sts[1]
	if !s.OldBalance.Equal(dec("-50")) || !s.NewBalance.Equal(dec("30")) || s.Line != 5 || s.Account != "BE71096123456769" {
		t.Errorf("statement 2: old %s new %s line %d", s.OldBalance, s.NewBalance, s.Line)
	}
	if len(s.Movements) != 1 || s.Movements[0].OGM != "" || s.Movements[0].Communication != "+++042/0000/00763+++ Emma" {
		t.Errorf("statement 2 movements = %+v", s.Movements)
	}
	for _, s := range sts {
		checkSum(t, s)
	}
}

// checkSum checks the documented promise: booked movements sum to new − old.
func checkSum(t *testing.T, s Statement) {
	t.Helper()
	sum := decimal.Zero
	for _, m := range s.Movements {
		sum = sum.Add(m.Amount)
	}
	if !s.OldBalance.Add(sum).Equal(s.NewBalance) {
		t.Errorf("old %s + booked %s ≠ new %s", s.OldBalance, sum, s.NewBalance)
	}
}

func equalAny(a, b any) bool {
	switch a := a.(type) {
	case time.Time:
		return a.Equal(b.(time.Time))
	}
	return strings.TrimSpace(sprint(a)) == strings.TrimSpace(sprint(b))
}

// TestParseCODAErrors damages the golden files one field at a time and checks
// that the error names the line and the fault.
func TestParseCODAErrors(t *testing.T) {
	golden := readGolden(t)["statement_ogm.cod"]
	lines := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
	// Line numbers in statement_ogm.cod: 1 header, 2 old balance, 3-5 movement 1
	// (2.1, 2.2, 2.3), 6 movement 2, 7-10 movement 3 (2.1, 2.2, 2.3, 3.1),
	// 11 record 4, 12 record 8, 13 record 9.
	set := func(line, pos int, s string) func([]string) []string {
		return func(ls []string) []string {
			b := []byte(ls[line-1])
			copy(b[pos-1:], s)
			ls[line-1] = string(b)
			return ls
		}
	}
	tests := []struct {
		name   string
		damage func([]string) []string
		line   int
		err    error
		msg    string
	}{
		{"short line", func(ls []string) []string { ls[5] = ls[5][:127]; return ls }, 6, ErrCODALength, "127 characters"},
		{"long line", func(ls []string) []string { ls[1] += " "; return ls }, 2, ErrCODALength, "129 characters"},
		{"unknown record", set(11, 1, "5"), 11, ErrCODARecord, "unknown record type"},
		{"unknown movement article", set(4, 2, "4"), 4, ErrCODARecord, "2.4"},
		{"no header", func(ls []string) []string { return ls[1:] }, 1, ErrCODARecord, "header record 0"},
		{"missing trailer", func(ls []string) []string { return ls[:12] }, 13, ErrCODARecord, "trailer"},
		{"movement after new balance", func(ls []string) []string {
			return append(ls[:12:12], ls[5], ls[12])
		}, 13, ErrCODARecord, "out of place"},
		{"continuation of another movement", set(4, 3, "0009"), 4, ErrCODARecord, "does not match"},
		{"bad version", set(1, 128, "1"), 1, ErrCODAField, "version"},
		{"bad application code", set(1, 15, "07"), 1, ErrCODAField, "application code"},
		{"bad creation date", set(1, 6, "310226"), 1, ErrCODAField, "creation date"},
		{"bad account", set(2, 6, "BE69539007547034"), 2, ErrCODAField, "IBAN"},
		{"bad old balance", set(2, 44, "00000012345x000"), 2, ErrCODAField, "old balance"},
		{"bad sign", set(6, 32, "2"), 6, ErrCODAField, "sign"},
		{"bad amount digits", set(6, 33, " "), 6, ErrCODAField, "amount"},
		{"bad transaction code", set(6, 54, "0035x000"), 6, ErrCODAField, "transaction code"},
		{"bad communication type", set(6, 62, "2"), 6, ErrCODAField, "communication type"},
		{"bad entry date", set(6, 116, "000000"), 6, ErrCODAField, "entry date"},
		{"balance mismatch", set(6, 33, "000000000012350"), 12, ErrCODABalance, "1234.56 + movements 52.65 = 1287.21, but the new balance is 1287.22"},
		{"new balance mismatch", set(12, 43, "000000001287230"), 12, ErrCODABalance, "new balance is 1287.23"},
		{"trailer count", set(13, 17, "000099"), 13, ErrCODATrailer, "record count 99"},
		{"trailer debit", set(13, 23, "000000000012350"), 13, ErrCODATrailer, "debit total 12.35"},
		{"trailer credit", set(13, 38, "000000000000000"), 13, ErrCODATrailer, "credit total 0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := tt.damage(append([]string(nil), lines...))
			_, err := ParseCODA([]byte(strings.Join(ls, "\n") + "\n"))
			var ce *CODAError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want *CODAError", err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error = %v, want %v", err, tt.err)
			}
			if ce.Line != tt.line {
				t.Errorf("error on line %d, want %d: %v", ce.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestParseCODAEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "\r\n"} {
		if _, err := ParseCODA([]byte(in)); !errors.Is(err, ErrCODARecord) {
			t.Errorf("ParseCODA(%q) error = %v, want ErrCODARecord", in, err)
		}
	}
}

func TestParseCODADetailWithoutGlobal(t *testing.T) {
	f := &codaFile{t: t}
	f.header("011226", "000", "", "X", "GKCCBEBB", "00123456789")
	f.oldBalance(1, "BE68539007547034", "0", "301126", "X", "", 1)
	f.movement(codaMove{seq: 1, detail: 1, amount: "5", valueDate: "011226", code: "60150000", entryDate: "011226"})
	f.newBalance(1, "BE68539007547034", "0", "011226")
	f.trailer(true)
	_, err := ParseCODA(f.bytes("\n"))
	var ce *CODAError
	if !errors.As(err, &ce) || ce.Line != 3 || !strings.Contains(err.Error(), "without its global amount") {
		t.Errorf("error = %v, want line 3 detail without global", err)
	}
}

func FuzzParseCODA(f *testing.F) {
	dir, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range dir {
		if filepath.Ext(e.Name()) == ".cod" {
			data, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sts, err := ParseCODA(data)
		if err != nil {
			var ce *CODAError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Fatalf("error %v is not a *CODAError with a line", err)
			}
			return
		}
		for _, s := range sts {
			checkSum(t, s)
		}
	})
}

func sprint(v any) string { return fmt.Sprintf("%v", v) }
