package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tartine/ledger"
)

// Bugs found by the model test, kept as named cases.

// A request retried after the accountant closed the period that holds its
// business time must still get the original transfer back, not
// ErrPeriodClosed (the terminal would believe a recorded meal was refused).
func TestReplayAfterPeriodClosed(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	at := time.Now().Add(-2 * time.Hour)
	req := ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "tap-1", Kind: "meal", OccurredAt: at, Actor: "device:1",
		Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("3.70")}, {AccountID: f.revenue.ID, Amount: d("-3.70")}}}
	orig, err := f.l.Transfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.l.ClosePeriod(ctx, f.tenant, time.Now().Add(-time.Hour), "accountant"); err != nil {
		t.Fatal(err)
	}
	got, err := f.l.Transfer(ctx, req)
	if err != nil || got.ID != orig.ID {
		t.Fatalf("replay after close = transfer %d, %v; want the original %d", got.ID, err, orig.ID)
	}
	req.Postings[0].Amount, req.Postings[1].Amount = d("3.80"), d("-3.80")
	if _, err := f.l.Transfer(ctx, req); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("other body after close: %v, want ErrIdempotencyConflict", err)
	}
	req.IdempotencyKey = "tap-2"
	if _, err := f.l.Transfer(ctx, req); !errors.Is(err, ledger.ErrPeriodClosed) {
		t.Fatalf("new key in closed period: %v, want ErrPeriodClosed", err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("6.30")) {
		t.Fatalf("wallet = %s, want 6.30", b.Posted)
	}
	f.verifyClean(t)
}

// Posting a hold to the account it holds on moved nothing, yet recorded
// the hold as posted: Verify then reported "hold posting matches".
func TestPostHoldToHeldAccount(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	h, err := f.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("3"), IdempotencyKey: "h1", Kind: "meal"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.l.PostHold(ctx, ledger.PostHoldRequest{TenantID: f.tenant, HoldID: h.ID, Amount: d("3"), To: f.wallet.ID, IdempotencyKey: "p1"})
	if !errors.Is(err, ledger.ErrInvalidRequest) {
		t.Fatalf("post to the held account: %v, want ErrInvalidRequest", err)
	}
	if got, _ := f.l.GetHold(ctx, f.tenant, h.ID); got.Status != ledger.HoldPending {
		t.Fatalf("hold status = %s, want pending", got.Status)
	}
	f.verifyClean(t)
}
