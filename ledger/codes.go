package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AccountsByCode returns the ids of the tenant's accounts among codes, by
// code, in one query; codes without an account are left out.
func (l *Ledger) AccountsByCode(ctx context.Context, tenantID int64, codes []string) (map[string]int64, error) {
	out := make(map[string]int64, len(codes))
	if len(codes) == 0 {
		return out, nil
	}
	rows, _ := l.pool.Query(ctx, `SELECT code, id FROM accounts WHERE tenant_id = $1 AND code = ANY($2)`, tenantID, codes)
	var code string
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&code, &id}, func() error { out[code] = id; return nil }); err != nil {
		return nil, fmt.Errorf("accounts by code: %w", err)
	}
	return out, nil
}
