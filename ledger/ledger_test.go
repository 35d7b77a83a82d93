package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

type fixture struct {
	l                      *ledger.Ledger
	tenant                 int64
	wallet, revenue, clear ledger.Account
}

// setup makes a tenant with a wallet, revenue and clearing accounts; the
// pool is watched by dbtest.Guarded.
func setup(t *testing.T) fixture {
	t.Helper()
	return setupConns(t, 0)
}

// setupConns is setup on a pool of maxConns connections.
func setupConns(t *testing.T, maxConns int32) fixture {
	t.Helper()
	ctx := context.Background()
	pool, _ := dbtest.Guarded(t, maxConns)
	l := ledger.New(pool, nil)
	tenant, err := l.EnsureTenant(ctx, "po-test", "PO test")
	if err != nil {
		t.Fatal(err)
	}
	zero := decimal.Zero
	f := fixture{l: l, tenant: tenant}
	if f.wallet, err = l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "wallet:1", Type: ledger.Liability, Floor: &zero}); err != nil {
		t.Fatal(err)
	}
	if f.revenue, err = l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "revenue:meals", Type: ledger.Income}); err != nil {
		t.Fatal(err)
	}
	if f.clear, err = l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "stripe-clearing", Type: ledger.Asset}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) topup(t *testing.T, key, amount string) ledger.Transfer {
	t.Helper()
	tr, err := f.l.Transfer(context.Background(), ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "topup", Actor: "test",
		Postings: []ledger.Posting{{AccountID: f.clear.ID, Amount: d(amount)}, {AccountID: f.wallet.ID, Amount: d(amount).Neg()}}})
	if err != nil {
		t.Fatalf("topup %s: %v", amount, err)
	}
	return tr
}

func (f fixture) purchase(key, amount string) (ledger.Transfer, error) {
	return f.l.Transfer(context.Background(), ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "meal", Actor: "test",
		Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d(amount)}, {AccountID: f.revenue.ID, Amount: d(amount).Neg()}}})
}

func (f fixture) balance(t *testing.T, id int64) ledger.Balance {
	t.Helper()
	b, err := f.l.Balance(context.Background(), f.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f fixture) verifyClean(t *testing.T) {
	t.Helper()
	v, _, err := f.l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("violation: %s", x)
	}
}

func TestPurchaseFloorAndIdempotency(t *testing.T) {
	f := setup(t)
	f.topup(t, "t1", "10.00")
	if _, err := f.purchase("p1", "3.70"); err != nil {
		t.Fatal(err)
	}
	if got := f.balance(t, f.wallet.ID).Posted; !got.Equal(d("6.30")) {
		t.Fatalf("wallet = %s, want 6.30", got)
	}
	if got := f.balance(t, f.revenue.ID).Posted; !got.Equal(d("3.70")) {
		t.Fatalf("revenue = %s, want 3.70", got)
	}
	// Replay returns the original, no second effect.
	if _, err := f.purchase("p1", "3.70"); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if got := f.balance(t, f.wallet.ID).Posted; !got.Equal(d("6.30")) {
		t.Fatalf("after replay wallet = %s, want 6.30", got)
	}
	if _, err := f.purchase("p1", "3.71"); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("same key other body: err = %v, want ErrIdempotencyConflict", err)
	}
	_, err := f.purchase("p2", "7.00")
	var fe *ledger.FloorError
	if !errors.As(err, &fe) || !fe.Shortfall.Equal(d("0.70")) {
		t.Fatalf("floor breach: err = %v, want FloorError short of 0.70", err)
	}
	f.verifyClean(t)
}

func TestBadInputWritesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	other, _ := f.l.EnsureTenant(ctx, "po-other", "Other")
	otherAcct, err := f.l.EnsureAccount(ctx, other, ledger.AccountSpec{Code: "revenue:meals", Type: ledger.Income})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ps   []ledger.Posting
		want error
	}{
		{"one posting", []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("1")}}, ledger.ErrTooFewPostings},
		{"unbalanced", []ledger.Posting{{AccountID: f.clear.ID, Amount: d("1")}, {AccountID: f.wallet.ID, Amount: d("-0.99")}}, ledger.ErrUnbalanced},
		{"zero", []ledger.Posting{{AccountID: f.clear.ID, Amount: d("0")}, {AccountID: f.wallet.ID, Amount: d("0")}}, ledger.ErrInvalidAmount},
		{"three decimals", []ledger.Posting{{AccountID: f.clear.ID, Amount: d("1.001")}, {AccountID: f.wallet.ID, Amount: d("-1.001")}}, ledger.ErrInvalidAmount},
		{"unknown account", []ledger.Posting{{AccountID: 999999, Amount: d("1")}, {AccountID: f.wallet.ID, Amount: d("-1")}}, ledger.ErrUnknownAccount},
		{"other tenant", []ledger.Posting{{AccountID: otherAcct.ID, Amount: d("1")}, {AccountID: f.wallet.ID, Amount: d("-1")}}, ledger.ErrUnknownAccount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.l.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "bad-" + c.name, Kind: "x", Postings: c.ps})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	var n int
	if err := f.l.Pool().QueryRow(ctx, "SELECT count(*) FROM transfers").Scan(&n); err != nil || n != 0 {
		t.Fatalf("transfers written = %d (%v), want 0", n, err)
	}
	f.verifyClean(t)
}

func TestHoldsPostVoidOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	h, err := f.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("3.70"), IdempotencyKey: "h1", Kind: "meal"})
	if err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Available.Equal(d("6.30")) || !b.Posted.Equal(d("10")) {
		t.Fatalf("after hold: %+v", b)
	}
	if _, err := f.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("7"), IdempotencyKey: "h2", Kind: "meal"}); !errors.Is(err, ledger.ErrFloorBreach) {
		t.Fatalf("hold over available: %v", err)
	}
	post := ledger.PostHoldRequest{TenantID: f.tenant, HoldID: h.ID, Amount: d("3.80"), To: f.revenue.ID, IdempotencyKey: "post-h1"}
	if _, err := f.l.PostHold(ctx, post); !errors.Is(err, ledger.ErrOverPost) {
		t.Fatalf("over post: %v", err)
	}
	post.Amount = d("3.00")
	if _, err := f.l.PostHold(ctx, post); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.PostHold(ctx, post); err != nil {
		t.Fatalf("replayed post: %v", err)
	}
	post.IdempotencyKey = "post-h1-again"
	if _, err := f.l.PostHold(ctx, post); !errors.Is(err, ledger.ErrHoldEnded) {
		t.Fatalf("second post: %v", err)
	}
	if err := f.l.VoidHold(ctx, f.tenant, h.ID, "test"); !errors.Is(err, ledger.ErrHoldEnded) {
		t.Fatalf("void after post: %v", err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Available.Equal(d("7")) || !b.Pending.IsZero() {
		t.Fatalf("after post: %+v", b)
	}
	f.verifyClean(t)
}

func TestReversalClosedPeriodImmutability(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tr := f.topup(t, "t1", "10.00")
	if _, err := f.l.Reverse(ctx, f.tenant, tr.ID, "rev-1", "test", "wrong pupil"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Reverse(ctx, f.tenant, tr.ID, "rev-2", "test", "again"); !errors.Is(err, ledger.ErrAlreadyReversed) {
		t.Fatalf("second reversal: %v", err)
	}
	if err := f.l.ClosePeriod(ctx, f.tenant, time.Now().Add(time.Hour), "accountant"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.purchase("late", "1.00"); !errors.Is(err, ledger.ErrPeriodClosed) {
		t.Fatalf("closed period: %v", err)
	}
	for _, q := range []string{"UPDATE postings SET amount = 1", "DELETE FROM transfers", "TRUNCATE postings CASCADE", "UPDATE transfers SET memo = 'x'"} {
		if _, err := f.l.Pool().Exec(ctx, q); err == nil {
			t.Errorf("%s succeeded on the journal", q)
		}
	}
	f.verifyClean(t)
}
