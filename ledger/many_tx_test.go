package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// TestQueueTransfersTxReadsInTx: a ledger that knows none of the accounts
// (a fresh process) queues a group inside the caller's transaction without
// asking the pool for a second connection (the guarded pool fails the test
// otherwise), and the group commits.
func TestQueueTransfersTxReadsInTx(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	fresh := ledger.New(f.l.Pool(), nil) // empty account cache
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	reqs := []ledger.TransferRequest{{TenantID: f.tenant, IdempotencyKey: "tap:a", Kind: "meal", Actor: "test", OccurredAt: at,
		Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("4.20")}, {AccountID: f.revenue.ID, Amount: d("-4.20")}}}}
	tx, err := f.l.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	b := &pgx.Batch{}
	if _, err := fresh.QueueTransfersTx(ctx, tx, b, reqs, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(ledger.MapError(err))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.balance(t, f.wallet.ID); !got.Posted.Equal(d("5.80")) {
		t.Errorf("wallet %s, want 5.80", got.Posted)
	}
}
