package books_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/backoffice"
	"tartine/books"
	"tartine/internal/dbtest"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/school"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func at(y int, m time.Month, day, h int) time.Time {
	return time.Date(y, m, day, h, 0, 0, 0, tz.Brussels)
}

// world is a tenant with the school chart, two pupils and a year of
// transfers in every journal.
type world struct {
	t       *testing.T
	ctx     context.Context
	pool    *pgxpool.Pool
	led     *ledger.Ledger
	svc     *books.Service
	tenant  int64
	acct    map[string]int64
	now     time.Time
	nextKey int
}

func newWorld(t *testing.T, now time.Time) *world {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	w := &world{t: t, ctx: ctx, pool: pool, now: now, acct: map[string]int64{}}
	clock := func() time.Time { return w.now }
	w.led = ledger.New(pool, clock)
	w.svc = books.New(w.led, clock)
	var err error
	if w.tenant, err = w.led.EnsureTenant(ctx, "po", "PO des Tilleuls"); err != nil {
		t.Fatal(err)
	}
	if err := school.New(pool, w.led, clock).EnsureChart(ctx, w.tenant); err != nil {
		t.Fatal(err)
	}
	zero := decimal.Zero
	for _, s := range []ledger.AccountSpec{
		{Code: "wallet:1", Name: "Portefeuille Emma Dupont", Type: ledger.Liability, Floor: &zero},
		{Code: "wallet:2", Name: "Portefeuille Lucas Martin", Type: ledger.Liability, Floor: &zero},
		{Code: "receivable:1", Name: "Frais scolaires Emma Dupont", Type: ledger.Asset},
		{Code: "cash:kiosk-1", Name: "Caisse accueil", Type: ledger.Asset},
		{Code: "cash-in-transit", Name: "Espèces en transit", Type: ledger.Asset},
		{Code: "revenue:fees:piscine", Name: "Frais scolaires — piscine", Type: ledger.Income},
		{Code: "revenue:meals"}, {Code: "revenue:daycare"}, {Code: "stripe-clearing"}, {Code: "bank"},
		{Code: "suspense"}, {Code: "expense:stripe-fees"}, {Code: "expense:write-off"}, {Code: "expense:cash-over-short"},
	} {
		if s.Type == "" {
			a, err := w.led.AccountByCode(ctx, w.tenant, s.Code)
			if err != nil {
				t.Fatal(err)
			}
			w.acct[s.Code] = a.ID
			continue
		}
		a, err := w.led.EnsureAccount(ctx, w.tenant, s)
		if err != nil {
			t.Fatal(err)
		}
		w.acct[s.Code] = a.ID
	}
	return w
}

// move books amount from one account to another (credit from, debit to).
func (w *world) move(kind string, when time.Time, from, to, amount, memo string, meta map[string]string) ledger.Transfer {
	w.t.Helper()
	w.nextKey++
	a := d(amount)
	tr, err := w.led.Transfer(w.ctx, ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: kind + ":" + time.Duration(w.nextKey).String(),
		Kind: kind, OccurredAt: when, Actor: "test", Memo: memo, Metadata: meta,
		Postings: []ledger.Posting{{AccountID: w.acct[to], Amount: a}, {AccountID: w.acct[from], Amount: a.Neg()}}})
	if err != nil {
		w.t.Fatalf("%s %s→%s %s: %v", kind, from, to, amount, err)
	}
	return tr
}

// year books a year of operations in every journal of 2026.
func (w *world) year() {
	w.t.Helper()
	// Stripe top-up 50 for Emma, fee 0.90, payout 49.10 to the bank.
	w.move("topup", at(2026, 3, 2, 10), "wallet:1", "stripe-clearing", "50.00", "Rechargement en ligne", map[string]string{"charge": "ch_1"})
	w.move("stripe-fee", at(2026, 3, 2, 10), "stripe-clearing", "expense:stripe-fees", "0.90", "Frais Stripe", map[string]string{"charge": "ch_1"})
	w.move("stripe-payout", at(2026, 3, 4, 9), "stripe-clearing", "bank", "49.10", "Versement Stripe", map[string]string{"payout": "po_1"})
	// Bank transfer 30 for Lucas; an unidentified 12 to suspense.
	w.move("bank-transfer", at(2026, 3, 5, 9), "wallet:2", "bank", "30.00", "Virement +++090/0000/00101+++", nil)
	w.move("bank-unallocated", at(2026, 3, 6, 9), "suspense", "bank", "12.00", "=HYPERLINK(\"http://x\")", nil)
	// Kiosk cash 20 for Lucas, a 0.50 shortfall, a remittance of 19.50.
	w.move("kiosk-topup", at(2026, 4, 1, 8), "wallet:2", "cash:kiosk-1", "20.00", "Rechargement en espèces", map[string]string{"station": "kiosk-1"})
	w.move("cash-over-short", at(2026, 4, 1, 17), "cash:kiosk-1", "expense:cash-over-short", "0.50", "Écart de caisse", nil)
	w.move("cash-remittance", at(2026, 4, 2, 9), "cash:kiosk-1", "cash-in-transit", "19.50", "Remise en banque", map[string]string{"remittance": "R-1"})
	w.move("cash-remittance-arrival", at(2026, 4, 3, 9), "cash-in-transit", "bank", "19.50", "Remise arrivée", map[string]string{"remittance": "R-1"})
	// Meals and daycare.
	w.move("meal", at(2026, 5, 4, 12), "revenue:meals", "wallet:1", "3.70", "Repas", nil)
	meal := w.move("meal", at(2026, 5, 5, 12), "revenue:meals", "wallet:2", "3.70", "Repas", nil)
	now := w.now
	w.now = at(2026, 5, 5, 14) // a reversal happens now
	if _, err := w.led.Reverse(w.ctx, w.tenant, meal.ID, "rev-meal", "test", "Repas compté deux fois"); err != nil {
		w.t.Fatal(err)
	}
	w.now = now
	w.move("daycare", at(2026, 5, 6, 17), "revenue:daycare", "wallet:1", "2.40", "Garderie du soir", nil)
	// Fees: 36 swimming charged to Emma, 6 written off.
	w.move("fee", at(2026, 9, 15, 9), "revenue:fees:piscine", "receivable:1", "36.00", "Piscine", map[string]string{"statement": "2026-09"})
	w.move("write-off", at(2026, 12, 20, 9), "receivable:1", "expense:write-off", "6.00", "Irrécouvrable", nil)
	// A sibling transfer (miscellaneous).
	w.move("sibling-transfer", at(2026, 12, 21, 9), "wallet:1", "wallet:2", "5.00", "Transfert entre enfants", nil)
}

// tbByPCMN is the back office's trial balance at until, mapped through the
// tenant's chart: debit and credit by PCMN account.
func (w *world) tbByPCMN(until time.Time) map[string][2]decimal.Decimal {
	w.t.Helper()
	tb, err := backoffice.ReadTrialBalance(w.ctx, w.led, w.tenant, until, false)
	if err != nil {
		w.t.Fatal(err)
	}
	chart, err := w.svc.Chart(w.ctx, w.tenant)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string][2]decimal.Decimal{}
	for _, l := range tb.Lines {
		r, ok := chart.Lookup(l.Code, l.Type)
		if !ok {
			w.t.Errorf("account %s has no PCMN rule", l.Code)
		}
		v := out[r.PCMN]
		out[r.PCMN] = [2]decimal.Decimal{v[0].Add(l.Debit), v[1].Add(l.Credit)}
	}
	return out
}

func TestExportBalancesEqualTrialBalance(t *testing.T) {
	w := newWorld(t, at(2027, 1, 15, 12))
	w.year()
	// After the window: must be in neither.
	w.move("meal", at(2027, 1, 5, 12), "revenue:meals", "wallet:1", "3.70", "Repas", nil)
	start, end := books.YearBounds(2026)
	entries, err := w.svc.Entries(w.ctx, w.tenant, start, end, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := books.WriteCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	body := buf.String()
	if !strings.HasPrefix(body, "\ufeffjournal;pièce;ligne;date;compte;") {
		t.Fatalf("CSV header: %q", body[:60])
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff")))
	r.Comma = ';'
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]decimal.Decimal{}
	journals := map[string]bool{}
	for _, rec := range recs[1:] {
		pcmn := rec[4]
		if strings.ContainsAny(pcmn, "x") || len(pcmn) != 6 {
			t.Errorf("PCMN %q is not a number", pcmn)
		}
		dr := d(strings.Replace(rec[6], ",", ".", 1))
		cr := d(strings.Replace(rec[7], ",", ".", 1))
		v := got[pcmn]
		got[pcmn] = [2]decimal.Decimal{v[0].Add(dr), v[1].Add(cr)}
		journals[rec[0]] = true
		if strings.HasPrefix(rec[8], "=") {
			t.Errorf("label %q would run as a formula", rec[8])
		}
	}
	want := w.tbByPCMN(end)
	if len(got) != len(want) {
		t.Errorf("export has %d PCMN accounts, trial balance %d: %v / %v", len(got), len(want), got, want)
	}
	for k, v := range want {
		if !got[k][0].Equal(v[0]) || !got[k][1].Equal(v[1]) {
			t.Errorf("account %s: export debit %s credit %s, trial balance %s %s", k, got[k][0], got[k][1], v[0], v[1])
		}
	}
	for _, j := range []string{"BQ1", "STR", "CAI", "CAN", "GAR", "FRA", "OD"} {
		if !journals[j] {
			t.Errorf("journal %s missing from the export", j)
		}
	}
	for _, want := range []string{"Emma Dupont", "Lucas Martin", "décompte 2026-09", "versement Stripe po_1", "remise R-1", "'=HYPERLINK", "Annulation n° "} {
		if !strings.Contains(body, want) {
			t.Errorf("CSV lacks %q", want)
		}
	}

	// WinBooks ACT.txt: the same totals by general account.
	buf.Reset()
	if err := books.WriteWinBooks(&buf, entries, "1"); err != nil {
		t.Fatal(err)
	}
	wr := csv.NewReader(&buf)
	wrecs, err := wr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(wrecs) != len(recs)-1 {
		t.Fatalf("ACT.txt has %d lines, CSV %d", len(wrecs), len(recs)-1)
	}
	net := map[string]decimal.Decimal{}
	for _, rec := range wrecs {
		if len(rec) != len(books.WinBooksColumns) {
			t.Fatalf("ACT.txt line has %d fields, want %d", len(rec), len(books.WinBooksColumns))
		}
		if len([]rune(rec[13])) > 40 {
			t.Errorf("COMMENT longer than 40: %q", rec[13])
		}
		net[rec[6]] = net[rec[6]].Add(d(rec[16]))
	}
	for k, v := range want {
		if !net[k].Equal(v[0].Sub(v[1])) {
			t.Errorf("ACT.txt account %s: %s, trial balance %s", k, net[k], v[0].Sub(v[1]))
		}
	}

	// One journal: only its documents, each balanced.
	canteen, err := w.svc.Entries(w.ctx, w.tenant, start, end, books.JournalCanteen)
	if err != nil {
		t.Fatal(err)
	}
	if len(canteen) != 6 { // two meals and a reversal, two lines each
		t.Errorf("canteen journal: %d lines, want 6", len(canteen))
	}
	sums := map[int64]decimal.Decimal{}
	for _, e := range canteen {
		if e.Journal != books.JournalCanteen {
			t.Errorf("canteen export holds %s", e.Journal)
		}
		sums[e.Document] = sums[e.Document].Add(e.Debit).Sub(e.Credit)
	}
	for doc, s := range sums {
		if !s.IsZero() {
			t.Errorf("document %d does not balance: %s", doc, s)
		}
	}
}

func TestChartRules(t *testing.T) {
	w := newWorld(t, at(2027, 1, 15, 12))
	c, err := w.svc.Chart(w.ctx, w.tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code string
		typ  ledger.AccountType
		want string
	}{
		{"bank", ledger.Asset, "550000"}, {"cash:kiosk-1", ledger.Asset, "570000"}, {"cash-in-transit", ledger.Asset, "580000"},
		{"suspense", ledger.Liability, "499000"}, {"wallet:7", ledger.Liability, "460000"}, {"fees:7", ledger.Asset, "400000"}, {"receivable:7", ledger.Asset, "400100"},
		{"revenue:meals", ledger.Income, "700100"}, {"revenue:daycare", ledger.Income, "700200"}, {"revenue:fees:piscine", ledger.Income, "700300"},
		{"expense:write-off", ledger.Expense, "642000"}, {"expense:stripe-fees", ledger.Expense, "657000"},
		{"something-new", ledger.Income, "740000"},
	} {
		if r, _ := c.Lookup(tc.code, tc.typ); r.PCMN != tc.want {
			t.Errorf("%s: PCMN %s, want %s", tc.code, r.PCMN, tc.want)
		}
	}
	// The organising body maps swimming fees apart and moves the bank.
	if err := w.svc.SetRule(w.ctx, w.tenant, "revenue:fees:piscine", "700310", "Piscine", "staff:1"); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.SetRule(w.ctx, w.tenant, "bank", "550100", "Belfius", "staff:1"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"6xx", "70x", "12", "800000", ""} {
		if err := w.svc.SetRule(w.ctx, w.tenant, "bank", bad, "x", "staff:1"); !errors.Is(err, books.ErrInvalid) {
			t.Errorf("PCMN %q: err %v, want ErrInvalid", bad, err)
		}
	}
	if c, err = w.svc.Chart(w.ctx, w.tenant); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"revenue:fees:piscine": "700310", "revenue:fees:theatre": "700300", "bank": "550100"} {
		if r, _ := c.Lookup(code, ledger.Income); r.PCMN != want {
			t.Errorf("after edit %s: %s, want %s", code, r.PCMN, want)
		}
	}
	// No account name keeps a placeholder.
	var n int
	if err := w.pool.QueryRow(w.ctx, `SELECT count(*) FROM accounts WHERE name ~ '(6xx|70x)'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d account names keep a placeholder (%v)", n, err)
	}
}
