package ledger_test

import (
	"context"
	"maps"
	"testing"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

func TestTransferIDsByKey(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.topup(t, "k:a", "5.00")
	b := f.topup(t, "k:b", "1.00")

	got, err := f.l.TransferIDsByKey(ctx, f.tenant, []string{"k:a", "k:b", "k:none"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"k:a": a.ID, "k:b": b.ID}; !maps.Equal(got, want) {
		t.Fatalf("by key = %v, want %v", got, want)
	}
	if got, err := f.l.TransferIDsByKey(ctx, f.tenant+1, []string{"k:a"}); err != nil || len(got) != 0 {
		t.Fatalf("another tenant's keys = %v, %v; want none", got, err)
	}

	// In the caller's transaction: its own uncommitted transfer is seen,
	// by the lookup and by the batch subquery.
	err = inTx(t, f, func(tx pgx.Tx) error {
		c, err := f.l.TransferTx(ctx, tx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "k:c", Kind: "meal", Actor: "test",
			Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("1.00")}, {AccountID: f.revenue.ID, Amount: d("-1.00")}}})
		if err != nil {
			return err
		}
		got, err := f.l.TransferIDsByKeyTx(ctx, tx, f.tenant, []string{"k:c"})
		if err != nil {
			return err
		}
		if got["k:c"] != c.ID || len(got) != 1 {
			t.Errorf("by key in tx = %v, want k:c → %d", got, c.ID)
		}
		var id, none *int64
		if err := tx.QueryRow(ctx, `SELECT `+ledger.TransferIDByKeySQL("$1", "$2")+`, `+ledger.TransferIDByKeySQL("$1", "'k:none'"),
			f.tenant, "k:c").Scan(&id, &none); err != nil {
			return err
		}
		if id == nil || *id != c.ID || none != nil {
			t.Errorf("subquery = %v, %v; want %d and NULL", id, none, c.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
