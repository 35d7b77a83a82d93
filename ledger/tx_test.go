package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// inTx runs fn in a transaction of the ledger's pool and commits when fn
// returns nil, rolls back otherwise.
func inTx(t *testing.T, f fixture, fn func(tx pgx.Tx) error) error {
	t.Helper()
	return pgx.BeginFunc(context.Background(), f.l.Pool(), fn)
}

func TestTransferTxCommitsWithTheCaller(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	req := ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "tap:1", Kind: "meal", Actor: "test", OccurredAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("4.20")}, {AccountID: f.revenue.ID, Amount: d("-4.20")}}}

	// Rolled back with the caller: nothing happened.
	errCaller := errors.New("caller changed its mind")
	err := inTx(t, f, func(tx pgx.Tx) error {
		if _, err := f.l.TransferTx(ctx, tx, req); err != nil {
			return err
		}
		return errCaller
	})
	if !errors.Is(err, errCaller) {
		t.Fatalf("rollback: %v", err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("10")) {
		t.Fatalf("balance after rollback = %s, want 10.00", b.Posted)
	}

	// Committed with the caller's row.
	var first ledger.Transfer
	err = inTx(t, f, func(tx pgx.Tx) error {
		var err error
		first, err = f.l.TransferTx(ctx, tx, req)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("5.80")) {
		t.Fatalf("balance = %s, want 5.80", b.Posted)
	}

	// Replays: in another transaction and through Transfer, the original
	// comes back and nothing is written.
	err = inTx(t, f, func(tx pgx.Tx) error {
		again, err := f.l.TransferTx(ctx, tx, req)
		if err != nil {
			return err
		}
		if again.ID != first.ID || len(again.Postings) != 2 || !again.Postings[0].Amount.Equal(d("4.20")) {
			t.Errorf("replay in tx = %+v, want transfer %d with its postings", again, first.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.l.Transfer(ctx, req); err != nil || again.ID != first.ID {
		t.Fatalf("replay through Transfer = %d, %v; want %d", again.ID, err, first.ID)
	}

	// Another body under the same key: a conflict, and tx stays usable.
	other := req
	other.Postings = []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("1.00")}, {AccountID: f.revenue.ID, Amount: d("-1.00")}}
	err = inTx(t, f, func(tx pgx.Tx) error {
		_, err := f.l.TransferTx(ctx, tx, other)
		if !errors.Is(err, ledger.ErrIdempotencyConflict) || errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("conflict = %v, want ErrIdempotencyConflict without ErrTxAborted", err)
		}
		var one int
		return tx.QueryRow(ctx, `SELECT 1`).Scan(&one)
	})
	if err != nil {
		t.Fatalf("tx after a conflict: %v", err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("5.80")) {
		t.Fatalf("balance after replays = %s, want 5.80", b.Posted)
	}
	f.verifyClean(t)
}

func TestTransferTxErrors(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "3.00")
	tests := []struct {
		name    string
		req     ledger.TransferRequest
		want    error
		aborted bool
	}{
		{"unbalanced", ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "u", Kind: "meal",
			Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("1")}, {AccountID: f.revenue.ID, Amount: d("-2")}}}, ledger.ErrUnbalanced, false},
		{"unknown account", ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "a", Kind: "meal",
			Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("1")}, {AccountID: 999999, Amount: d("-1")}}}, ledger.ErrUnknownAccount, false},
		{"floor", ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "f", Kind: "meal",
			Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("4.20")}, {AccountID: f.revenue.ID, Amount: d("-4.20")}}}, ledger.ErrFloorBreach, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := f.l.Pool().Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			_, err = f.l.TransferTx(ctx, tx, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := errors.Is(err, ledger.ErrTxAborted); got != tc.aborted {
				t.Fatalf("ErrTxAborted = %v, want %v (%v)", got, tc.aborted, err)
			}
			if tc.want == ledger.ErrFloorBreach {
				var fe *ledger.FloorError
				if !errors.As(err, &fe) || !fe.Shortfall.Equal(d("1.40")) {
					t.Fatalf("floor error = %v, want a *FloorError short of 1.40 (2.80 left after the two 0.10 above)", err)
				}
			}
			if !tc.aborted {
				// Usable: a later transfer in the same tx commits.
				if _, err := f.l.TransferTx(ctx, tx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "ok-" + tc.name, Kind: "meal",
					Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("0.10")}, {AccountID: f.revenue.ID, Amount: d("-0.10")}}}); err != nil {
					t.Fatalf("tx not usable after %v: %v", tc.want, err)
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// 3.00 − 2 × 0.10; the floor breach was rolled back.
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("2.80")) {
		t.Fatalf("balance = %s, want 2.80", b.Posted)
	}
	f.verifyClean(t)
}

func TestPostHoldTx(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	h, err := f.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("3.70"), IdempotencyKey: "booking:1", Kind: "meal", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	post := ledger.PostHoldRequest{TenantID: f.tenant, HoldID: h.ID, Amount: d("3.70"), To: f.revenue.ID, IdempotencyKey: "tap:1", Actor: "test"}

	// Rolled back: the hold stays pending.
	_ = inTx(t, f, func(tx pgx.Tx) error {
		if _, err := f.l.PostHoldTx(ctx, tx, post); err != nil {
			t.Fatal(err)
		}
		return errors.New("rollback")
	})
	if g, err := f.l.GetHold(ctx, f.tenant, h.ID); err != nil || g.Status != ledger.HoldPending {
		t.Fatalf("hold after rollback = %v, %v; want pending", g.Status, err)
	}

	var first ledger.Transfer
	if err := inTx(t, f, func(tx pgx.Tx) (err error) {
		first, err = f.l.PostHoldTx(ctx, tx, post)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("6.30")) || !b.Pending.IsZero() {
		t.Fatalf("balance = %+v, want posted 6.30, nothing pending", b)
	}
	// Replay of the same post: the original; another key: ErrHoldEnded,
	// clean.
	if err := inTx(t, f, func(tx pgx.Tx) error {
		again, err := f.l.PostHoldTx(ctx, tx, post)
		if err != nil || again.ID != first.ID {
			t.Errorf("replay = %d, %v; want %d", again.ID, err, first.ID)
		}
		other := post
		other.IdempotencyKey = "tap:2"
		_, err = f.l.PostHoldTx(ctx, tx, other)
		if !errors.Is(err, ledger.ErrHoldEnded) || errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("post of an ended hold = %v, want ErrHoldEnded without ErrTxAborted", err)
		}
		_, err = f.l.PostHoldTx(ctx, tx, ledger.PostHoldRequest{TenantID: f.tenant, HoldID: 999999, Amount: d("1"), To: f.revenue.ID, IdempotencyKey: "x"})
		if !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("unknown hold = %v, want ErrNotFound", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("6.30")) {
		t.Fatalf("balance after replays = %s, want 6.30", b.Posted)
	}
	f.verifyClean(t)
}

// TestTransferTxPipelined runs, in one transaction, a fresh transfer, then
// the replay of a key recorded earlier (its guarded balance update and
// postings must write nothing although the session's transfer sequence
// moved), then a transfer with two postings on the same tracked account:
// the running balances and versions of the postings must chain, which
// Verify checks.
func TestTransferTxPipelined(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "20.00")
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	meal := func(key, amount string) ledger.TransferRequest {
		return ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "meal", Actor: "test", OccurredAt: at,
			Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d(amount)}, {AccountID: f.revenue.ID, Amount: d(amount).Neg()}}}
	}
	old, err := f.l.Transfer(ctx, meal("tap:old", "1.00"))
	if err != nil {
		t.Fatal(err)
	}
	split := ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "tap:split", Kind: "meal", Actor: "test", OccurredAt: at,
		Postings: []ledger.Posting{
			{AccountID: f.wallet.ID, Amount: d("3.00")}, {AccountID: f.revenue.ID, Amount: d("-5.00")},
			{AccountID: f.wallet.ID, Amount: d("2.00")}}}
	err = inTx(t, f, func(tx pgx.Tx) error {
		if _, err := f.l.TransferTx(ctx, tx, meal("tap:new", "4.00")); err != nil {
			return err
		}
		again, err := f.l.TransferTx(ctx, tx, meal("tap:old", "1.00"))
		if err != nil {
			return err
		}
		if again.ID != old.ID {
			t.Errorf("replay = transfer %d, want %d", again.ID, old.ID)
		}
		_, err = f.l.TransferTx(ctx, tx, split)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("10")) {
		t.Fatalf("balance = %s, want 10.00 (20 − 1 − 4 − 5)", b.Posted)
	}
	violations, _, err := f.l.Verify(ctx)
	if err != nil || len(violations) > 0 {
		t.Fatalf("verify: %v, %+v", err, violations)
	}
	var n int
	if err := f.l.Pool().QueryRow(ctx, `SELECT count(*) FROM postings p JOIN transfers t ON t.tenant_id = p.tenant_id AND t.id = p.transfer_id
		WHERE t.idempotency_key = 'tap:old'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("postings of the replayed transfer = %d, %v; want 2", n, err)
	}
	// The split's two wallet postings chain: 15 → 12 → 10, versions +1.
	rows, _ := f.l.Pool().Query(ctx, `SELECT p.balance_before, p.balance_after FROM postings p JOIN transfers t ON t.tenant_id = p.tenant_id AND t.id = p.transfer_id
		WHERE t.idempotency_key = 'tap:split' AND p.account_id = $1 ORDER BY p.id`, f.wallet.ID)
	type ba struct{ Before, After decimal.Decimal }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ba])
	if err != nil {
		t.Fatal(err)
	}
	want := []ba{{d("15"), d("12")}, {d("12"), d("10")}}
	if len(got) != 2 || !got[0].Before.Equal(want[0].Before) || !got[0].After.Equal(want[0].After) ||
		!got[1].Before.Equal(want[1].Before) || !got[1].After.Equal(want[1].After) {
		t.Fatalf("split postings = %+v, want %+v", got, want)
	}
}
