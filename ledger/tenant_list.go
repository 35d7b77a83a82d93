package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Tenant is an organising body as the ledger knows it: its books' owner.
type Tenant struct {
	ID   int64
	Code string
	Name string
}

const tenantCols = `id, code, name`

// Tenant returns the tenant with this id, or ErrUnknownTenant.
func (l *Ledger) Tenant(ctx context.Context, id int64) (Tenant, error) {
	return l.tenant(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id, fmt.Sprint("tenant ", id))
}

// TenantByCode returns the tenant with this code, or ErrUnknownTenant.
func (l *Ledger) TenantByCode(ctx context.Context, code string) (Tenant, error) {
	return l.tenant(ctx, `SELECT `+tenantCols+` FROM tenants WHERE code = $1`, code, "tenant "+code)
}

func (l *Ledger) tenant(ctx context.Context, sql string, arg any, what string) (Tenant, error) {
	var t Tenant
	err := l.pool.QueryRow(ctx, sql, arg).Scan(&t.ID, &t.Code, &t.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("%w: %s", ErrUnknownTenant, what)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("ledger: %s: %w", what, err)
	}
	return t, nil
}

// Tenants returns every tenant, by code.
func (l *Ledger) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("ledger: tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Tenant])
	if err != nil {
		return nil, fmt.Errorf("ledger: tenants: %w", err)
	}
	return out, nil
}
