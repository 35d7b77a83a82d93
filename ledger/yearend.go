package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
)

// KindYearClose is the kind of the transfer that books a year's income and
// expenses to the result account.
const KindYearClose = "year-close"

// ErrYearClosed is returned by CloseYear for a year already closed: a
// closed year is never reopened.
var ErrYearClosed = errors.New("ledger: year already closed")

// YearClose is a closed financial year [Start, End).
type YearClose struct {
	TenantID   int64
	Start, End time.Time
	// Result is income minus expenses over the year (positive: a surplus),
	// booked to the result account.
	Result     decimal.Decimal
	TransferID *int64 // the closing transfer; nil when no income or expense
	Actor      string
	ClosedAt   time.Time
	// Opening are the balance-sheet accounts' balances at End (debit
	// positive): the next year's opening balances. Wallets and
	// receivables are among them, untouched by the close.
	Opening []AccountTotal
}

// CloseYear closes the tenant's year [start, end) in one transaction:
//   - every income and expense account's balance at end is booked to
//     resultAccountID (an equity account: liability type) by one transfer of
//     kind KindYearClose dated one microsecond before end, so the year's
//     result shows on that account and the next year's income and expenses
//     start from zero; balance-sheet accounts (wallets, receivables, bank,
//     cash…) are not touched;
//   - the period is closed up to end (all of the year's periods closed);
//   - the balance of every balance-sheet account at end is recorded as the
//     next year's opening balance.
//
// It returns ErrYearClosed when the year was closed before, ErrInvalidRequest
// when end is not after start, the year has not ended at the ledger's now or
// resultAccountID is not a liability account of the tenant, and
// ErrPeriodClosed when the books are already closed beyond end (the closing
// transfer could not be dated inside the year: close the year first).
func (l *Ledger) CloseYear(ctx context.Context, tenantID int64, start, end time.Time, resultAccountID int64, actor string) (YearClose, error) {
	yc := YearClose{TenantID: tenantID, Start: start, End: end, Actor: actor, ClosedAt: l.now()}
	if !end.After(start) {
		return yc, fmt.Errorf("%w: year end %s is not after its start", ErrInvalidRequest, end)
	}
	if end.After(yc.ClosedAt) {
		return yc, fmt.Errorf("%w: the year ending %s has not ended", ErrInvalidRequest, end.Format(time.DateOnly))
	}
	if actor == "" {
		return yc, fmt.Errorf("%w: missing actor", ErrInvalidRequest)
	}
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		// One close at a time per tenant: the period lock of transfers is
		// read under this lock too.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(81, $1::int)`, tenantID); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM year_closes WHERE tenant_id = $1 AND year_end = $2)`,
			tenantID, end).Scan(&done); err != nil {
			return err
		}
		if done {
			return fmt.Errorf("%w: %s", ErrYearClosed, end.Format(time.DateOnly))
		}
		var typ AccountType
		err := tx.QueryRow(ctx, `SELECT type FROM accounts WHERE tenant_id = $1 AND id = $2`, tenantID, resultAccountID).Scan(&typ)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && typ != Liability) {
			return fmt.Errorf("%w: result account %d must be a liability account of the tenant", ErrInvalidRequest, resultAccountID)
		}
		if err != nil {
			return err
		}
		until, err := closedUntil(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if until != nil && until.After(end) {
			return fmt.Errorf("%w: the books are closed until %s, after the year's end", ErrPeriodClosed, until.Format(time.RFC3339))
		}
		totals, err := accountTotals(ctx, tx, tenantID, time.Time{}, end)
		if err != nil {
			return err
		}
		var ps []Posting
		sum := decimal.Zero
		for _, t := range totals {
			if t.Type != Income && t.Type != Expense {
				continue
			}
			if b := t.Balance(); !b.IsZero() {
				ps = append(ps, Posting{AccountID: t.AccountID, Amount: b.Neg()})
				sum = sum.Add(b)
			}
		}
		// sum is debit positive: expenses minus income.
		yc.Result = sum.Neg()
		if !sum.IsZero() {
			ps = append(ps, Posting{AccountID: resultAccountID, Amount: sum})
		}
		if len(ps) > 0 {
			t, err := l.TransferTx(ctx, tx, TransferRequest{
				TenantID: tenantID, IdempotencyKey: "year-close:" + end.UTC().Format(time.RFC3339),
				Kind: KindYearClose, OccurredAt: end.Add(-time.Microsecond), Actor: actor,
				Memo:     fmt.Sprintf("Clôture de l'exercice %s – %s", start.Format("02/01/2006"), end.Add(-time.Microsecond).Format("02/01/2006")),
				Metadata: map[string]string{"year_start": start.UTC().Format(time.RFC3339), "year_end": end.UTC().Format(time.RFC3339)},
				Postings: ps,
			})
			if err != nil {
				return err
			}
			yc.TransferID = &t.ID
		}
		if until == nil || until.Before(end) {
			if _, err := tx.Exec(ctx, `INSERT INTO period_closes (tenant_id, closed_until, actor) VALUES ($1, $2, $3)`, tenantID, end, actor); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO year_closes (tenant_id, year_start, year_end, result, transfer_id, actor, closed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenantID, start, end, yc.Result, yc.TransferID, actor, yc.ClosedAt); err != nil {
			return err
		}
		if totals, err = accountTotals(ctx, tx, tenantID, time.Time{}, end); err != nil {
			return err
		}
		for _, t := range totals {
			if t.Type != Asset && t.Type != Liability || t.Balance().IsZero() {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO year_opening_balances (tenant_id, year_end, account_id, balance) VALUES ($1, $2, $3, $4)`,
				tenantID, end, t.AccountID, t.Balance()); err != nil {
				return err
			}
			yc.Opening = append(yc.Opening, t)
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return yc, fmt.Errorf("%w: %s", ErrYearClosed, end.Format(time.DateOnly))
	}
	if err != nil {
		return yc, fmt.Errorf("close year: %w", mapDBError(err))
	}
	return yc, nil
}

// YearCloses returns the tenant's closed years, latest first, without their
// opening balances.
func (l *Ledger) YearCloses(ctx context.Context, tenantID int64) ([]YearClose, error) {
	rows, err := l.pool.Query(ctx, `SELECT year_start, year_end, result, transfer_id, actor, closed_at
		FROM year_closes WHERE tenant_id = $1 ORDER BY year_end DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("year closes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (YearClose, error) {
		y := YearClose{TenantID: tenantID}
		err := r.Scan(&y.Start, &y.End, &y.Result, &y.TransferID, &y.Actor, &y.ClosedAt)
		return y, err
	})
}

// OpeningBalances returns the opening balances recorded by the close of the
// year ending at end (debit positive, by account code), or ErrNotFound when
// that year is not closed.
func (l *Ledger) OpeningBalances(ctx context.Context, tenantID int64, end time.Time) ([]AccountTotal, error) {
	var ok bool
	if err := l.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM year_closes WHERE tenant_id = $1 AND year_end = $2)`, tenantID, end).Scan(&ok); err != nil {
		return nil, fmt.Errorf("opening balances: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: no close of the year ending %s", ErrNotFound, end.Format(time.DateOnly))
	}
	rows, err := l.pool.Query(ctx, `SELECT a.id, a.code, a.name, a.type, b.balance
		FROM year_opening_balances b JOIN accounts a ON a.tenant_id = b.tenant_id AND a.id = b.account_id
		WHERE b.tenant_id = $1 AND b.year_end = $2 ORDER BY a.code`, tenantID, end)
	if err != nil {
		return nil, fmt.Errorf("opening balances: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AccountTotal, error) {
		var t AccountTotal
		var b decimal.Decimal
		err := r.Scan(&t.AccountID, &t.Code, &t.Name, &t.Type, &b)
		if b.IsPositive() {
			t.Debit = b
		} else {
			t.Credit = b.Neg()
		}
		return t, err
	})
}
