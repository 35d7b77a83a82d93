package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CreateAccountTx creates a new account in the caller's transaction tx and
// returns its id. Unlike EnsureAccountTx, an account that already has
// spec.Code is an error, not returned: it is for an account that must be
// new (a new pupil's wallet and receivable, created in the pupil's insert
// transaction). Trackedness follows the floor as in EnsureAccount.
// ErrInvalidRequest (and the amount errors of the floor) leave tx usable;
// a database error (the unique violation of a taken code, the foreign key
// violation of an unknown tenant: the *pgconn.PgError is wrapped) wraps
// ErrTxAborted.
func (l *Ledger) CreateAccountTx(ctx context.Context, tx pgx.Tx, tenantID int64, spec AccountSpec) (int64, error) {
	if spec.Code == "" || !spec.Type.valid() {
		return 0, fmt.Errorf("%w: account needs a code and a type (asset, liability, income, expense), got %q/%q", ErrInvalidRequest, spec.Code, spec.Type)
	}
	if spec.Floor != nil {
		if err := checkAmount(*spec.Floor, true); err != nil {
			return 0, fmt.Errorf("floor of %s: %w", spec.Code, err)
		}
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO accounts (tenant_id, code, name, type, tracked, floor)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		tenantID, spec.Code, spec.Name, string(spec.Type), spec.Floor != nil, spec.Floor).Scan(&id); err != nil {
		return 0, aborted(fmt.Errorf("create account %s in tenant %d: %w", spec.Code, tenantID, err))
	}
	return id, nil
}

// RenameAccountsTx sets the names of the tenant's accounts in names (by
// id) in the caller's transaction tx; an id not in the tenant is skipped.
// An error wraps ErrTxAborted.
func (l *Ledger) RenameAccountsTx(ctx context.Context, tx pgx.Tx, tenantID int64, names map[int64]string) error {
	if len(names) == 0 {
		return nil
	}
	ids, ns := make([]int64, 0, len(names)), make([]string, 0, len(names))
	for id, n := range names {
		ids, ns = append(ids, id), append(ns, n)
	}
	if _, err := tx.Exec(ctx, `UPDATE accounts a SET name = u.name
		FROM unnest($2::bigint[], $3::text[]) AS u(id, name)
		WHERE a.tenant_id = $1 AND a.id = u.id`, tenantID, ids, ns); err != nil {
		return aborted(fmt.Errorf("rename accounts of tenant %d: %w", tenantID, err))
	}
	return nil
}
