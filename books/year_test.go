package books_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/books"
	"tartine/ledger"
)

func TestCloseYear(t *testing.T) {
	w := newWorld(t, at(2026, 12, 31, 18))
	w.year()
	// The year has not ended.
	if _, err := w.svc.CloseYear(w.ctx, w.tenant, 2026, "staff:1"); !errors.Is(err, ledger.ErrInvalidRequest) {
		t.Fatalf("close before the year's end: %v, want ErrInvalidRequest", err)
	}
	w.now = at(2027, 1, 10, 9)
	w.move("meal", at(2027, 1, 5, 12), "revenue:meals", "wallet:1", "3.70", "Repas", nil)
	start, end := books.YearBounds(2026)
	wallets := map[string]decimal.Decimal{}
	for _, c := range []string{"wallet:1", "wallet:2", "receivable:1"} {
		b, err := w.led.BalanceAt(w.ctx, w.tenant, w.acct[c], end)
		if err != nil {
			t.Fatal(err)
		}
		wallets[c] = b
	}
	before := w.tbByPCMN(end)

	yc, err := w.svc.CloseYear(w.ctx, w.tenant, 2026, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	// Income 3.70 + 2.40 + 36 = 42.10 (a meal reversed); expenses 0.90 + 0.50 + 6 = 7.40.
	if want := d("34.70"); !yc.Result.Equal(want) {
		t.Errorf("result %s, want %s", yc.Result, want)
	}
	after := w.tbByPCMN(end)
	for _, pcmn := range []string{"700100", "700200", "700300", "657000", "643000", "642000"} {
		if v := after[pcmn]; !v[0].Equal(v[1]) {
			t.Errorf("%s still has a balance after the close: %s / %s", pcmn, v[0], v[1])
		}
	}
	if v := after["140000"]; !v[1].Sub(v[0]).Equal(d("34.70")) {
		t.Errorf("result account: credit %s debit %s, want a 34.70 credit balance", v[1], v[0])
	}
	// Balance-sheet accounts untouched; the close posts nothing on them.
	for pcmn, v := range before {
		if pcmn[0] >= '6' {
			continue
		}
		if a := after[pcmn]; !a[0].Equal(v[0]) || !a[1].Equal(v[1]) {
			t.Errorf("balance-sheet account %s changed: %v → %v", pcmn, v, a)
		}
	}
	tr, err := w.led.GetTransfer(w.ctx, w.tenant, *yc.TransferID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tr.Postings {
		for c, id := range w.acct {
			if id == p.AccountID && (c[0] == 'w' || c[0] == 'r' && c[1] == 'e' && c[2] == 'c') {
				t.Errorf("the close posts on %s", c)
			}
		}
	}
	for c, b := range wallets {
		got, err := w.led.BalanceAt(w.ctx, w.tenant, w.acct[c], end)
		if err != nil || !got.Equal(b) {
			t.Errorf("%s: %s after the close, %s before (%v)", c, got, b, err)
		}
	}
	// Opening balances of 2027 are the balance-sheet accounts at the end of 2026.
	open, err := w.svc.OpeningEntries(w.ctx, w.tenant, 2027)
	if err != nil {
		t.Fatal(err)
	}
	sum, byPCMN := decimal.Zero, map[string]decimal.Decimal{}
	for _, e := range open {
		sum = sum.Add(e.Debit).Sub(e.Credit)
		byPCMN[e.PCMN] = byPCMN[e.PCMN].Add(e.Debit).Sub(e.Credit)
	}
	if !sum.IsZero() {
		t.Errorf("opening entry does not balance: %s", sum)
	}
	for pcmn, v := range after {
		if pcmn[0] >= '6' {
			continue
		}
		if !byPCMN[pcmn].Equal(v[0].Sub(v[1])) {
			t.Errorf("opening %s: %s, trial balance %s", pcmn, byPCMN[pcmn], v[0].Sub(v[1]))
		}
	}
	if !byPCMN["460000"].Equal(d("-93.90")) { // wallets: 50+30+20 −3.70 −2.40, still owed to families
		t.Errorf("wallets open at %s, want -93.90", byPCMN["460000"])
	}
	// The next year's income starts from zero, and January's meal is there.
	next := w.tbByPCMN(at(2027, 2, 1, 0))
	if v := next["700100"]; !v[1].Sub(v[0]).Equal(d("3.70")) {
		t.Errorf("2027 meals: %s, want 3.70", v[1].Sub(v[0]))
	}

	// Every period of 2026 is closed; the year is never reopened.
	w.nextKey++
	if _, err := w.led.Transfer(w.ctx, ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: "late", Kind: "meal", OccurredAt: at(2026, 12, 31, 12), Actor: "test",
		Postings: []ledger.Posting{{AccountID: w.acct["wallet:1"], Amount: d("1")}, {AccountID: w.acct["revenue:meals"], Amount: d("-1")}}}); !errors.Is(err, ledger.ErrPeriodClosed) {
		t.Errorf("transfer into the closed year: %v, want ErrPeriodClosed", err)
	}
	if _, err := w.svc.CloseYear(w.ctx, w.tenant, 2026, "staff:1"); !errors.Is(err, ledger.ErrYearClosed) {
		t.Errorf("second close: %v, want ErrYearClosed", err)
	}
	if _, err := w.pool.Exec(w.ctx, `DELETE FROM year_closes WHERE tenant_id = $1`, w.tenant); err == nil {
		t.Error("a year close was deleted (reopened)")
	}
	if _, err := w.pool.Exec(w.ctx, `UPDATE year_opening_balances SET balance = 1 WHERE tenant_id = $1`, w.tenant); err == nil {
		t.Error("an opening balance was changed")
	}
	ycs, err := w.led.YearCloses(w.ctx, w.tenant)
	if err != nil || len(ycs) != 1 || !ycs[0].Start.Equal(start) {
		t.Errorf("year closes: %v %v", ycs, err)
	}
	// 2027 cannot be closed before it ends; 2025 (nothing booked) closes empty
	// only if the books are not closed beyond it.
	if _, err := w.svc.CloseYear(w.ctx, w.tenant, 2027, "staff:1"); !errors.Is(err, ledger.ErrInvalidRequest) {
		t.Errorf("close 2027 in January 2027: %v, want ErrInvalidRequest", err)
	}
	if _, err := w.svc.CloseYear(w.ctx, w.tenant, 2025, "staff:1"); !errors.Is(err, ledger.ErrPeriodClosed) {
		t.Errorf("close 2025 after 2026: %v, want ErrPeriodClosed", err)
	}
	// The ledger's invariants hold after the close.
	if vs, _, err := w.led.Verify(w.ctx); err != nil || len(vs) != 0 {
		t.Errorf("verify after the close: %v %v", vs, err)
	}
}
