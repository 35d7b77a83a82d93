package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// TestPrepareTransfers books a group prepared off the connection
// (PrepareTransfers in a goroutine, ExecTx in the transaction): the same
// transfers, running balances and fingerprints as QueueTransfers (the same
// requests through TransferTx replay them), an account not cached is
// refused before anything runs, and a key used before fails ExecTx.
func TestPrepareTransfers(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	// A second ledger on the same database: its cache knows no account.
	fresh := ledger.New(f.l.Pool(), nil)
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	topup := func(key, amount string) ledger.TransferRequest {
		return ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "topup", Actor: "test", OccurredAt: at,
			Memo: "Virement <bancaire> & co", Metadata: map[string]string{"bank_movement": key, "communication": "Élève \"x\""},
			Postings: []ledger.Posting{{AccountID: f.clear.ID, Amount: d(amount)}, {AccountID: f.wallet.ID, Amount: d(amount).Neg()}}}
	}
	reqs := []ledger.TransferRequest{topup("p1", "1.00"), topup("p2", "2.50"), topup("p3", "0.25")}
	if _, err := fresh.PrepareTransfers(ctx, reqs); !errors.Is(err, ledger.ErrUnknownAccount) {
		t.Fatalf("prepare with accounts not cached: %v, want ErrUnknownAccount", err)
	}
	var q *ledger.Queued
	err := pgx.BeginFunc(ctx, f.l.Pool(), func(tx pgx.Tx) error {
		if err := fresh.CacheAccountsTx(ctx, tx, f.tenant, []int64{f.clear.ID, f.wallet.ID}); err != nil {
			return err
		}
		done := make(chan error)
		var p *ledger.PreparedTransfers
		go func() {
			var err error
			p, err = fresh.PrepareTransfers(ctx, reqs)
			done <- err
		}()
		if err := <-done; err != nil {
			return err
		}
		var err error
		q, err = p.ExecTx(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range q.Transfers {
		if tr.ID == 0 || tr.RecordedAt.IsZero() || tr.IdempotencyKey != reqs[i].IdempotencyKey {
			t.Fatalf("transfer %d = %+v, want its id and recording time", i, tr)
		}
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("13.75")) {
		t.Fatalf("wallet = %s, want 13.75", b.Posted)
	}
	checkVerify(t, f)
	// The same requests through TransferTx replay (same fingerprint) …
	for i, r := range reqs {
		tr, err := f.l.Transfer(ctx, r)
		if err != nil || tr.ID != q.Transfers[i].ID {
			t.Fatalf("replay of %s: %+v, %v; want transfer %d", r.IdempotencyKey, tr, err, q.Transfers[i].ID)
		}
	}
	// … and another request under a used key conflicts.
	other := topup("p1", "1.00")
	other.Memo = "autre"
	if _, err := f.l.Transfer(ctx, other); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("other request under p1: %v, want ErrIdempotencyConflict", err)
	}
	// The group again: the keys were used, ExecTx fails and the
	// transaction rolls back.
	err = pgx.BeginFunc(ctx, f.l.Pool(), func(tx pgx.Tx) error {
		p, err := fresh.PrepareTransfers(ctx, append([]ledger.TransferRequest{topup("p4", "3.00")}, reqs...))
		if err != nil {
			return err
		}
		_, err = p.ExecTx(ctx, tx)
		return err
	})
	if err == nil {
		t.Fatal("group with used keys recorded")
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("13.75")) {
		t.Fatalf("wallet after the failed group = %s, want 13.75", b.Posted)
	}
	checkVerify(t, f)
}
