package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// TestHoldTxInOneConnection places, replays and voids holds inside the
// caller's transaction with a ledger whose account cache is cold, on a pool
// of one connection: every read must go through the transaction (the
// guard fails the test, and the pool would deadlock, otherwise).
func TestHoldTxInOneConnection(t *testing.T) {
	f := setupConns(t, 1)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	// A ledger whose account cache is cold, on the same pool.
	one := ledger.New(f.l.Pool(), nil)
	req := ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("3.70"), IdempotencyKey: "booking:1", Kind: "meal-booking", Actor: "test"}

	// Rolled back with the caller: nothing held.
	err := pgx.BeginFunc(ctx, one.Pool(), func(tx pgx.Tx) error {
		if _, err := one.PlaceHoldTx(ctx, tx, req); err != nil {
			t.Fatal(err)
		}
		return errors.New("rollback")
	})
	if err == nil || f.balance(t, f.wallet.ID).Pending.Sign() != 0 {
		t.Fatalf("after rollback: err %v, pending %s; want nothing pending", err, f.balance(t, f.wallet.ID).Pending)
	}

	var h ledger.Hold
	if err := pgx.BeginFunc(ctx, one.Pool(), func(tx pgx.Tx) (err error) {
		h, err = one.PlaceHoldTx(ctx, tx, req)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Available.Equal(d("6.30")) {
		t.Fatalf("available = %s, want 6.30", b.Available)
	}

	err = pgx.BeginFunc(ctx, one.Pool(), func(tx pgx.Tx) error {
		// Replay: the original hold, tx usable.
		again, err := one.PlaceHoldTx(ctx, tx, req)
		if err != nil || again.ID != h.ID {
			t.Errorf("replay = %d, %v; want %d", again.ID, err, h.ID)
		}
		// Conflict and validation errors leave tx usable.
		other := req
		other.Amount = d("1.00")
		if _, err := one.PlaceHoldTx(ctx, tx, other); !errors.Is(err, ledger.ErrIdempotencyConflict) || errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("conflict = %v, want ErrIdempotencyConflict without ErrTxAborted", err)
		}
		if _, err := one.PlaceHoldTx(ctx, tx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.revenue.ID, Amount: d("1"), IdempotencyKey: "k", Kind: "x"}); !errors.Is(err, ledger.ErrInvalidRequest) {
			t.Errorf("hold on an untracked account = %v, want ErrInvalidRequest", err)
		}
		if err := one.VoidHoldTx(ctx, tx, f.tenant, 999999, "test"); !errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("void of an unknown hold = %v, want ErrNotFound", err)
		}
		return one.VoidHoldTx(ctx, tx, f.tenant, h.ID, "test")
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Available.Equal(d("10")) || !b.Pending.IsZero() {
		t.Fatalf("after void: %+v, want 10 available, nothing pending", b)
	}
	err = pgx.BeginFunc(ctx, one.Pool(), func(tx pgx.Tx) error {
		err := one.VoidHoldTx(ctx, tx, f.tenant, h.ID, "test")
		if !errors.Is(err, ledger.ErrHoldEnded) || errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("second void = %v, want ErrHoldEnded without ErrTxAborted", err)
		}
		g, err := one.GetHoldTx(ctx, tx, f.tenant, h.ID)
		if err != nil || g.Status != ledger.HoldVoided {
			t.Errorf("hold = %v, %v; want voided", g.Status, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A hold beyond the floor: *FloorError with ErrTxAborted.
	err = pgx.BeginFunc(ctx, one.Pool(), func(tx pgx.Tx) error {
		big := req
		big.IdempotencyKey, big.Amount = "booking:2", d("10.01")
		_, err := one.PlaceHoldTx(ctx, tx, big)
		var fe *ledger.FloorError
		if !errors.As(err, &fe) || !errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("hold over the balance = %v, want *FloorError with ErrTxAborted", err)
		}
		return err
	})
	if err == nil {
		t.Fatal("transaction with a refused hold committed")
	}
	f.verifyClean(t)
}
