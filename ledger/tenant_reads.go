package ledger

import (
	"context"
	"fmt"
)

// TenantExists reports whether a tenant with this id exists (a payout's
// account check: the tenant named in a Stripe object's metadata).
func (l *Ledger) TenantExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	if err := l.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("ledger: look up tenant %d: %w", id, err)
	}
	return ok, nil
}
