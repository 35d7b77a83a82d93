package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Balance of an account in its normal orientation (a wallet's balance is
// what the family has prepaid).
type Balance struct {
	Posted    decimal.Decimal // sum of posted transfers
	Pending   decimal.Decimal // held by pending holds
	Available decimal.Decimal // Posted − Pending
}

// Balance returns the account's current balance. Tracked accounts read their
// materialised row; hot accounts sum their postings.
func (l *Ledger) Balance(ctx context.Context, tenantID, accountID int64) (Balance, error) {
	return l.balance(ctx, l.pool, tenantID, accountID)
}

// BalanceTx is Balance read in the caller's transaction tx: it sees tx's
// own writes and never asks the pool for another connection. An error
// leaves tx usable unless it is a database error (roll back then).
func (l *Ledger) BalanceTx(ctx context.Context, tx pgx.Tx, tenantID, accountID int64) (Balance, error) {
	return l.balance(ctx, tx, tenantID, accountID)
}

func (l *Ledger) balance(ctx context.Context, q querier, tenantID, accountID int64) (Balance, error) {
	accts, err := l.accountsFor(ctx, q, tenantID, []int64{accountID})
	if err != nil {
		return Balance{}, err
	}
	a := accts[accountID]
	var b Balance
	if a.Tracked() {
		err = q.QueryRow(ctx, `SELECT balance, pending FROM accounts WHERE tenant_id = $1 AND id = $2`, tenantID, accountID).Scan(&b.Posted, &b.Pending)
	} else {
		err = q.QueryRow(ctx, `SELECT COALESCE(sum(amount), 0) FROM postings WHERE tenant_id = $1 AND account_id = $2`, tenantID, accountID).Scan(&b.Posted)
		b.Posted = a.Type.normal(b.Posted)
	}
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %s: %w", a.Code, err)
	}
	b.Available = b.Posted.Sub(b.Pending)
	return b, nil
}

// BalanceAt returns the posted balance of the account as of at: the sum of
// postings whose business time is before at.
func (l *Ledger) BalanceAt(ctx context.Context, tenantID, accountID int64, at time.Time) (decimal.Decimal, error) {
	accts, err := l.accountsFor(ctx, l.pool, tenantID, []int64{accountID})
	if err != nil {
		return decimal.Zero, err
	}
	var sum decimal.Decimal
	err = l.pool.QueryRow(ctx, `SELECT COALESCE(sum(amount), 0) FROM postings WHERE tenant_id = $1 AND account_id = $2 AND occurred_at < $3`,
		tenantID, accountID, at).Scan(&sum)
	if err != nil {
		return decimal.Zero, fmt.Errorf("balance at %s: %w", at, err)
	}
	return accts[accountID].Type.normal(sum), nil
}

// StatementLine is one posting on an account statement.
type StatementLine struct {
	TransferID int64
	Kind       string
	OccurredAt time.Time
	Memo       string
	Metadata   map[string]string
	Amount     decimal.Decimal // change of the balance (normal orientation)
	Balance    decimal.Decimal // running balance after the line
	Reversed   bool            // a later reversal cancels this transfer
	Reversal   bool            // this line is a reversal
}

// Statement is an account's activity between two business times.
type Statement struct {
	AccountID int64
	From, To  time.Time
	Opening   decimal.Decimal
	Lines     []StatementLine
	Closing   decimal.Decimal
}

// Statement returns the postings of the account with business time in
// [from, to), oldest first, with opening and running balances.
func (l *Ledger) Statement(ctx context.Context, tenantID, accountID int64, from, to time.Time) (Statement, error) {
	opening, err := l.BalanceAt(ctx, tenantID, accountID, from)
	if err != nil {
		return Statement{}, err
	}
	typ := l.cachedType(tenantID, accountID)
	st := Statement{AccountID: accountID, From: from, To: to, Opening: opening}
	bal := opening
	rows, _ := l.pool.Query(ctx, `
		SELECT t.id, t.kind, p.occurred_at, t.memo, t.metadata, p.amount,
		       EXISTS (SELECT 1 FROM transfers r WHERE r.tenant_id = t.tenant_id AND r.reverses_id = t.id),
		       t.reverses_id IS NOT NULL
		FROM postings p JOIN transfers t ON t.tenant_id = p.tenant_id AND t.id = p.transfer_id
		WHERE p.tenant_id = $1 AND p.account_id = $2 AND p.occurred_at >= $3 AND p.occurred_at < $4
		ORDER BY p.occurred_at, p.id`, tenantID, accountID, from, to)
	defer rows.Close()
	for rows.Next() {
		var ln StatementLine
		var meta []byte
		if err := rows.Scan(&ln.TransferID, &ln.Kind, &ln.OccurredAt, &ln.Memo, &meta, &ln.Amount, &ln.Reversed, &ln.Reversal); err != nil {
			return Statement{}, fmt.Errorf("statement: %w", err)
		}
		_ = decodeMeta(meta, &ln.Metadata)
		ln.Amount = typ.normal(ln.Amount)
		bal = bal.Add(ln.Amount)
		ln.Balance = bal
		st.Lines = append(st.Lines, ln)
	}
	if err := rows.Err(); err != nil {
		return Statement{}, fmt.Errorf("statement: %w", err)
	}
	st.Closing = bal
	return st, nil
}

func (l *Ledger) cachedType(tenantID, accountID int64) AccountType {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.accounts[accountKey{tenantID, accountID}].Type
}

func decodeMeta(b []byte, m *map[string]string) error {
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	return json.Unmarshal(b, m)
}

// AccountRef names an account of a tenant.
type AccountRef struct{ TenantID, ID int64 }

// TrackedBalances returns the current balances of tracked accounts
// (wallets), of any tenants, in one query: a family's children at once.
// Untracked and unknown accounts are left out of the map (Balance reads
// them).
func (l *Ledger) TrackedBalances(ctx context.Context, refs []AccountRef) (map[AccountRef]Balance, error) {
	out := make(map[AccountRef]Balance, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	tenants, ids := make([]int64, len(refs)), make([]int64, len(refs))
	for i, r := range refs {
		tenants[i], ids[i] = r.TenantID, r.ID
	}
	rows, _ := l.pool.Query(ctx, `
		SELECT a.tenant_id, a.id, a.balance, a.pending
		FROM unnest($1::bigint[], $2::bigint[]) AS u(t, i) JOIN accounts a ON a.tenant_id = u.t AND a.id = u.i
		WHERE a.tracked`, tenants, ids)
	defer rows.Close()
	for rows.Next() {
		var r AccountRef
		var b Balance
		if err := rows.Scan(&r.TenantID, &r.ID, &b.Posted, &b.Pending); err != nil {
			return nil, fmt.Errorf("balances: %w", err)
		}
		b.Available = b.Posted.Sub(b.Pending)
		out[r] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("balances: %w", err)
	}
	return out, nil
}
