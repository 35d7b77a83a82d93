package portal

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/password"
	"tartine/school"
)

// DemoEmail and DemoPassword are the demo parent login (Sophie Dubois, Emma
// and Lucas's mother in school.SeedDemo). Demo only.
const (
	DemoEmail    = "sophie.dubois@example.be"
	DemoPassword = "tartine-demo"
)

// SeedDemo gives the demo guardian DemoEmail a portal account (idempotent)
// and returns the lines to print.
func SeedDemo(ctx context.Context, pool *pgxpool.Pool, st *school.Store, tenantID int64) ([]string, error) {
	g, err := st.GuardianByEmail(ctx, tenantID, DemoEmail)
	if errors.Is(err, school.ErrNotFound) {
		return nil, fmt.Errorf("portal demo: guardian %s missing (school demo not seeded?)", DemoEmail)
	}
	if err != nil {
		return nil, fmt.Errorf("portal demo: %w", err)
	}
	hash, err := password.Hash(DemoPassword)
	if err != nil {
		return nil, err
	}
	if err := EnsureAccount(ctx, pool, tenantID, g.ID, DemoEmail, hash); err != nil {
		return nil, fmt.Errorf("portal demo: %w", err)
	}
	return []string{fmt.Sprintf("parent    %s / %s (portal /portal/: Emma and Lucas, bookings, history, fee statements, a low-balance alert)", DemoEmail, DemoPassword)}, nil
}

// EnsureAccount gives the guardian a portal account with this e-mail and
// password hash (password.Hash), or links the existing account of that
// e-mail (its password unchanged), without an invitation: the demo and the
// portal load generator (portal/loadgen), never for real families.
func EnsureAccount(ctx context.Context, pool *pgxpool.Pool, tenantID, guardianID int64, email, hash string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM portal_accounts WHERE lower(email) = lower($1)`, email).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `INSERT INTO portal_accounts (email, password_hash) VALUES ($1, $2) RETURNING id`, email, hash).Scan(&id)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO portal_account_guardians (tenant_id, guardian_id, account_id) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, guardian_id) DO NOTHING`, tenantID, guardianID, id)
		return err
	})
}
