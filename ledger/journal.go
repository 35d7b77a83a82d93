package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// JournalLine is one posting with its transfer and account, as an export
// of the books reads it.
type JournalLine struct {
	TransferID int64
	Kind       string
	// OriginKind is the kind of the transfer a reversal reverses (Kind
	// otherwise): a reversal belongs to the journal of what it undoes.
	OriginKind  string
	ReversesID  *int64
	OccurredAt  time.Time
	Memo        string
	Metadata    map[string]string
	AccountID   int64
	AccountCode string
	AccountName string
	AccountType AccountType
	Amount      decimal.Decimal // debit positive
}

// Journal calls fn for every posting of the tenant with business time in
// [from, to), ordered by business time, transfer and posting. It stops at
// fn's first error and returns it.
func (l *Ledger) Journal(ctx context.Context, tenantID int64, from, to time.Time, fn func(JournalLine) error) error {
	rows, err := l.pool.Query(ctx, `
		SELECT t.id, t.kind, coalesce(o.kind, t.kind), t.reverses_id, t.occurred_at, t.memo, t.metadata,
		       a.id, a.code, a.name, a.type, p.amount
		FROM transfers t
		JOIN postings p ON p.tenant_id = t.tenant_id AND p.transfer_id = t.id
		JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
		LEFT JOIN transfers o ON o.tenant_id = t.tenant_id AND o.id = t.reverses_id
		WHERE t.tenant_id = $1 AND t.occurred_at >= $2 AND t.occurred_at < $3
		ORDER BY t.occurred_at, t.id, p.id`, tenantID, from, to)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var j JournalLine
		var meta []byte
		if err := rows.Scan(&j.TransferID, &j.Kind, &j.OriginKind, &j.ReversesID, &j.OccurredAt, &j.Memo, &meta,
			&j.AccountID, &j.AccountCode, &j.AccountName, &j.AccountType, &j.Amount); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if len(meta) > 0 {
			_ = json.Unmarshal(meta, &j.Metadata)
		}
		if err := fn(j); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// AccountTotal is the sum of an account's debits and credits over a window.
type AccountTotal struct {
	AccountID int64
	Code      string
	Name      string
	Type      AccountType
	Debit     decimal.Decimal // sum of positive postings
	Credit    decimal.Decimal // sum of negative postings, as a positive number
}

// Balance is debit minus credit (positive for a debit balance).
func (t AccountTotal) Balance() decimal.Decimal { return t.Debit.Sub(t.Credit) }

// AccountTotals returns, for every account of the tenant with postings
// whose business time is in [from, to), its debit and credit totals, by
// account code.
func (l *Ledger) AccountTotals(ctx context.Context, tenantID int64, from, to time.Time) ([]AccountTotal, error) {
	return accountTotals(ctx, l.pool, tenantID, from, to)
}

func accountTotals(ctx context.Context, q querier, tenantID int64, from, to time.Time) ([]AccountTotal, error) {
	rows, err := q.Query(ctx, `
		SELECT a.id, a.code, a.name, a.type,
		       coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0),
		       coalesce(-sum(p.amount) FILTER (WHERE p.amount < 0), 0)
		FROM postings p
		JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
		WHERE p.tenant_id = $1 AND p.occurred_at >= $2 AND p.occurred_at < $3
		GROUP BY a.id, a.code, a.name, a.type
		ORDER BY a.code`, tenantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("account totals: %w", err)
	}
	defer rows.Close()
	var out []AccountTotal
	for rows.Next() {
		var t AccountTotal
		if err := rows.Scan(&t.AccountID, &t.Code, &t.Name, &t.Type, &t.Debit, &t.Credit); err != nil {
			return nil, fmt.Errorf("account totals: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("account totals: %w", err)
	}
	return out, nil
}
