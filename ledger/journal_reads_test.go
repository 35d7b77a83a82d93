package ledger_test

import (
	"context"
	"testing"
	"time"

	"tartine/ledger"
)

func TestTrialBalanceAndClosedUntil(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	t1 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	move := func(key string, at time.Time, from, to ledger.Account, amount string) {
		t.Helper()
		if _, err := f.l.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "test", Actor: "test", OccurredAt: at,
			Postings: []ledger.Posting{{AccountID: from.ID, Amount: d(amount)}, {AccountID: to.ID, Amount: d(amount).Neg()}}}); err != nil {
			t.Fatal(err)
		}
	}
	move("in", t1, f.clear, f.wallet, "10.00")
	move("meal", t2, f.wallet, f.revenue, "4.00")

	type line struct{ code, debit, credit string }
	check := func(until time.Time, wantIdle int, want []line) {
		t.Helper()
		totals, idle, err := f.l.TrialBalance(ctx, f.tenant, until)
		if err != nil {
			t.Fatal(err)
		}
		if idle != wantIdle || len(totals) != len(want) {
			t.Fatalf("until %s: %d lines, %d idle; want %d and %d: %+v", until, len(totals), idle, len(want), wantIdle, totals)
		}
		for i, w := range want {
			if g := totals[i]; g.Code != w.code || !g.Debit.Equal(d(w.debit)) || !g.Credit.Equal(d(w.credit)) {
				t.Errorf("until %s, line %d = %s %s/%s; want %s %s/%s", until, i, g.Code, g.Debit, g.Credit, w.code, w.debit, w.credit)
			}
		}
	}
	check(t1, 3, nil)
	check(t2, 1, []line{{"stripe-clearing", "10", "0"}, {"wallet:1", "0", "10"}})
	check(t2.Add(time.Second), 0, []line{{"revenue:meals", "0", "4"}, {"stripe-clearing", "10", "0"}, {"wallet:1", "4", "10"}})

	if got, err := f.l.ClosedUntil(ctx, f.tenant); err != nil || !got.IsZero() {
		t.Fatalf("closed until, never closed = %s, %v; want zero", got, err)
	}
	for _, until := range []time.Time{t2, t1} { // the latest close counts, not the last one
		if err := f.l.ClosePeriod(ctx, f.tenant, until, "accountant"); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := f.l.ClosedUntil(ctx, f.tenant); err != nil || !got.Equal(t2) {
		t.Fatalf("closed until = %s, %v; want %s", got, err, t2)
	}
}
