package ledger_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestReferencesCheckedPerStatement: the journal's references are checked
// by statement-level triggers (migrations 00097, 00100) instead of foreign keys;
// whoever connects, a dangling reference is refused with 23503 and the
// referenced rows cannot be deleted, truncated or re-keyed.
func TestReferencesCheckedPerStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := healthyLedger(t)
	hot := `(SELECT id FROM accounts WHERE tenant_id = 1 AND code = 'stripe-clearing')`
	rev := `(SELECT id FROM accounts WHERE tenant_id = 1 AND code = 'revenue:meals')`
	t1 := `(SELECT id FROM transfers WHERE tenant_id = 1 AND idempotency_key = 't1')`
	refused := []struct {
		name, sql, code, want string
	}{
		{"posting of a missing transfer",
			`INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at) VALUES
				(1, 999999, ` + hot + `, 5, now()), (1, 999999, ` + rev + `, -5, now())`,
			"23503", "transfer 999999 of tenant 1 does not exist"},
		{"posting to a missing account",
			`INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at) VALUES
				(1, ` + t1 + `, 999999, 5, now()), (1, ` + t1 + `, ` + rev + `, -5, now())`,
			"23503", "account 999999 of tenant 1 does not exist"},
		{"posting to another tenant's account",
			`INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at) VALUES
				(1, ` + t1 + `, (SELECT id FROM accounts WHERE tenant_id = 2 AND code = 'revenue:meals'), 5, now())`,
			"23503", "does not exist"},
		{"transfer of a missing tenant",
			`INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor) VALUES (999, 'x', '\x00', 'k', now(), 'psql')`,
			"23503", "tenant 999 does not exist"},
		{"transfer reversing a missing transfer",
			`INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor, reverses_id) VALUES (1, 'x', '\x00', 'k', now(), 'psql', 999999)`,
			"23503", "reversed transfer 999999 of tenant 1 does not exist"},
		{"transfer of a missing hold",
			`INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor, hold_id) VALUES (1, 'x', '\x00', 'k', now(), 'psql', 999999)`,
			"23503", "hold 999999 of tenant 1 does not exist"},
		{"account of a missing tenant",
			`INSERT INTO accounts (tenant_id, code, name, type, tracked) VALUES (999, 'x', 'x', 'asset', false)`,
			"23503", "tenant 999 does not exist"},
		{"account deleted", `DELETE FROM accounts WHERE tenant_id = 1 AND code = 'wallet:2'`, "P0001", "tartine:immutable"},
		{"account re-keyed", `UPDATE accounts SET tenant_id = 2 WHERE tenant_id = 1 AND code = 'stripe-clearing'`, "P0001", "tartine:immutable"},
		{"accounts truncated", `TRUNCATE accounts CASCADE`, "P0001", "tartine:immutable"},
		{"tenant deleted", `DELETE FROM tenants WHERE id = 2`, "P0001", "tartine:immutable"},
		{"tenants truncated", `TRUNCATE tenants CASCADE`, "P0001", "tartine:immutable"},
	}
	for _, c := range refused {
		_, err := pool.Exec(ctx, c.sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want SQLSTATE %s with %q", c.name, err, c.code, c.want)
		}
	}
	// What the ledger does keep working: accounts renamed and their
	// balances updated, a valid posting pair in one statement.
	for _, sql := range []string{
		`UPDATE accounts SET name = 'Stripe' WHERE tenant_id = 1 AND code = 'stripe-clearing'`,
		`UPDATE tenants SET name = 'PO A' WHERE id = 1`,
		`WITH t AS (INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor)
			VALUES (1, 'ok', '\x00', 'k', now(), 'psql') RETURNING id)
		 INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at)
		 SELECT 1, t.id, a.id, CASE a.code WHEN 'revenue:meals' THEN -1 ELSE 1 END, now()
		 FROM t, accounts a WHERE a.tenant_id = 1 AND a.code IN ('revenue:meals', 'stripe-clearing')`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}
