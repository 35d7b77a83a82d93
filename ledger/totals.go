package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// KindTotal is what one kind of transfer did to one account over a time
// window: how many transfers (a reversal counts −1) and their net amount.
type KindTotal struct {
	AccountID int64
	Kind      string
	Count     int
	// Amount is the net change in the account's normal orientation (a meal
	// taken from a wallet is negative, a fee charged to a receivable
	// positive).
	Amount decimal.Decimal
}

// KindTotals returns, for each of the accounts and each transfer kind, the
// count and net amount of the postings with business time in [from, to),
// in one query (statements read thousands of accounts at once). A
// reversal is counted under the kind of the transfer it reverses, as −1.
// Accounts with no posting in the window are absent.
func (l *Ledger) KindTotals(ctx context.Context, tenantID int64, accountIDs []int64, from, to time.Time) ([]KindTotal, error) {
	rows, err := l.pool.Query(ctx, `
		SELECT p.account_id, coalesce(o.kind, t.kind),
		       sum(CASE WHEN t.reverses_id IS NULL THEN 1 ELSE -1 END)::int, sum(p.amount), a.type
		FROM postings p
		JOIN transfers t ON t.tenant_id = p.tenant_id AND t.id = p.transfer_id
		LEFT JOIN transfers o ON o.tenant_id = t.tenant_id AND o.id = t.reverses_id
		JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
		WHERE p.tenant_id = $1 AND p.account_id = ANY($2) AND p.occurred_at >= $3 AND p.occurred_at < $4
		GROUP BY p.account_id, coalesce(o.kind, t.kind), a.type
		ORDER BY p.account_id, 2`, tenantID, accountIDs, from, to)
	if err != nil {
		return nil, fmt.Errorf("kind totals: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KindTotal, error) {
		var k KindTotal
		var typ AccountType
		err := r.Scan(&k.AccountID, &k.Kind, &k.Count, &k.Amount, &typ)
		k.Amount = typ.normal(k.Amount)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("kind totals: %w", err)
	}
	return out, nil
}
