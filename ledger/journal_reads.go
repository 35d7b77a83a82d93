package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reads for the back office's books pages (issue 13: the trial balance, the
// journal export and the period close read the ledger through these, not
// its tables). The journal export itself is Journal.

// TrialBalance returns the totals of the tenant's accounts over the
// postings whose business time is before until (AccountTotals from the
// beginning: every account with such a posting, by code), and idle, the
// number of the tenant's other accounts (none before until). Both are read
// in one snapshot.
func (l *Ledger) TrialBalance(ctx context.Context, tenantID int64, until time.Time) (totals []AccountTotal, idle int, err error) {
	err = pgx.BeginTxFunc(ctx, l.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if totals, err = accountTotals(ctx, tx, tenantID, time.Time{}, until); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return fmt.Errorf("trial balance: accounts of tenant %d: %w", tenantID, err)
		}
		idle = n - len(totals)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return totals, idle, nil
}

// ClosedUntil returns the end of the tenant's latest period close
// (ClosePeriod): transfers occurring before it are refused. It is zero when
// the books were never closed.
func (l *Ledger) ClosedUntil(ctx context.Context, tenantID int64) (time.Time, error) {
	until, err := closedUntil(ctx, l.pool, tenantID)
	if err != nil || until == nil {
		return time.Time{}, err
	}
	return *until, nil
}

// closedUntil is the end of the tenant's latest period close, nil when
// none.
func closedUntil(ctx context.Context, q querier, tenantID int64) (*time.Time, error) {
	var until *time.Time
	if err := q.QueryRow(ctx, `SELECT max(closed_until) FROM period_closes WHERE tenant_id = $1`, tenantID).Scan(&until); err != nil {
		return nil, fmt.Errorf("period close of tenant %d: %w", tenantID, err)
	}
	return until, nil
}
