package payments

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

// TestBankMovementReferences: a bank movement's tenant and transfers are
// checked per statement on insert and per row on update (migrations
// 00098–00099, in place of foreign keys): whoever connects, a movement naming a
// tenant, a pupil or a transfer that does not exist is refused with 23503.
func TestBankMovementReferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	l := ledger.New(pool, nil)
	tenant, err := l.EnsureTenant(ctx, "po", "PO")
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "bank", Type: ledger.Asset})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "suspense", Type: ledger.Liability})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := l.Transfer(ctx, ledger.TransferRequest{TenantID: tenant, IdempotencyKey: "m1", Kind: "k",
		Postings: []ledger.Posting{{AccountID: a.ID, Amount: dec("5")}, {AccountID: b.ID, Amount: dec("-5")}}})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(key string, tenantID, transferID int64, alloc any) error {
		_, err := pool.Exec(ctx, `INSERT INTO bank_movements (tenant_id, key, account, statement, sequence, detail, entry_date, amount, status, transfer_id, allocation_transfer_id)
			VALUES ($1, $2, 'BE00', 1, 1, 0, '2026-06-01', 5, 'suspense', $3, $4)`, tenantID, key, transferID, alloc)
		return err
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23503" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want 23503 with %q", what, err, want)
		}
	}
	refused("missing transfer", insert("k1", tenant, 999999, nil), "transfer 999999 of tenant")
	refused("missing allocation transfer", insert("k2", tenant, tr.ID, int64(999999)), "transfer 999999 of tenant")
	refused("missing tenant", insert("k3", 999, tr.ID, nil), "tenant 999 does not exist")
	_, err = pool.Exec(ctx, `INSERT INTO bank_movements (tenant_id, key, account, statement, sequence, detail, entry_date, amount, status, pupil_id, transfer_id)
		VALUES ($1, 'k4', 'BE00', 1, 1, 0, '2026-06-01', 5, 'wallet', 999999, $2)`, tenant, tr.ID)
	refused("missing pupil", err, "pupil 999999 of tenant")
	if err := insert("ok", tenant, tr.ID, nil); err != nil {
		t.Fatalf("valid movement: %v", err)
	}
	_, err = pool.Exec(ctx, `UPDATE bank_movements SET status = 'allocated', allocation_transfer_id = 999999 WHERE tenant_id = $1 AND key = 'ok'`, tenant)
	refused("allocated to a missing transfer", err, "transfer 999999 of tenant")
	_, err = pool.Exec(ctx, `UPDATE bank_movements SET status = 'allocated', pupil_id = 999999 WHERE tenant_id = $1 AND key = 'ok'`, tenant)
	refused("allocated to a missing pupil", err, "pupil 999999 of tenant")
	_, err = pool.Exec(ctx, `UPDATE bank_movements SET transfer_id = 999999 WHERE tenant_id = $1 AND key = 'ok'`, tenant)
	refused("moved to a missing transfer", err, "transfer 999999 of tenant")
	if _, err := pool.Exec(ctx, `UPDATE bank_movements SET status = 'allocated', allocation_transfer_id = $2 WHERE tenant_id = $1 AND key = 'ok'`, tenant, tr.ID); err != nil {
		t.Errorf("valid allocation: %v", err)
	}
}
