package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// querier is what pgxpool.Pool and pgx.Tx share.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// topup is a row of topups.
type topup struct {
	TenantID      int64
	ID            uuid.UUID
	PupilID       int64
	Wallet        int64
	GuardianID    *int64
	Amount        decimal.Decimal
	Status        TopUpStatus
	SessionID     *string
	PaymentIntent *string
	Charge        *string
	PaidAmount    *decimal.Decimal
	Refunded      decimal.Decimal
	Disputed      decimal.Decimal
	Lang          string
	CreatedAt     time.Time
	PaidAt        *time.Time
	// Statement is the fee statement paid (Wallet is then the pupil's fees
	// receivable); nil for a wallet top-up.
	Statement *string
}

const topupColumns = `tenant_id, id, pupil_id, wallet_account_id, guardian_id, amount, status,
	stripe_session_id, stripe_payment_intent, stripe_charge, paid_amount, refunded_amount, disputed_amount,
	lang, created_at, paid_at, statement_number`

func scanTopUp(row pgx.Row) (topup, error) {
	var t topup
	var status string
	err := row.Scan(&t.TenantID, &t.ID, &t.PupilID, &t.Wallet, &t.GuardianID, &t.Amount, &status,
		&t.SessionID, &t.PaymentIntent, &t.Charge, &t.PaidAmount, &t.Refunded, &t.Disputed,
		&t.Lang, &t.CreatedAt, &t.PaidAt, &t.Statement)
	if errors.Is(err, pgx.ErrNoRows) {
		return topup{}, ErrNotFound
	}
	if err != nil {
		return topup{}, fmt.Errorf("payments: read top-up: %w", err)
	}
	t.Status = TopUpStatus(status)
	return t, nil
}

// getTopUp reads a top-up; forUpdate locks its row (q must be a transaction).
func getTopUp(ctx context.Context, q querier, tenantID int64, id uuid.UUID, forUpdate bool) (topup, error) {
	sql := `SELECT ` + topupColumns + ` FROM topups WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	t, err := scanTopUp(q.QueryRow(ctx, sql, tenantID, id))
	if errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("%w: top-up %s in tenant %d", ErrNotFound, id, tenantID)
	}
	return t, err
}

// findTopUp finds a top-up by a Stripe object id (column is one of
// stripe_session_id, stripe_payment_intent, stripe_charge), across tenants.
func findTopUp(ctx context.Context, q querier, column, value string) (topup, error) {
	switch column {
	case "stripe_session_id", "stripe_payment_intent", "stripe_charge":
	default:
		return topup{}, fmt.Errorf("payments: find top-up by %q: not a Stripe id column", column)
	}
	if value == "" {
		return topup{}, ErrNotFound
	}
	// Several rows can share a charge only with stripe-mock's fixtures; the
	// most recent wins.
	t, err := scanTopUp(q.QueryRow(ctx, `SELECT `+topupColumns+` FROM topups WHERE `+column+` = $1
		ORDER BY created_at DESC LIMIT 1`, value))
	if errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("%w: top-up with %s %s", ErrNotFound, column, value)
	}
	return t, err
}

func (t topup) record() TopUpRecord {
	r := TopUpRecord{
		TenantID: t.TenantID, ID: t.ID, PupilID: t.PupilID, WalletAccountID: t.Wallet,
		Amount: t.Amount, Status: t.Status, Refunded: t.Refunded, Disputed: t.Disputed,
		CreatedAt: t.CreatedAt, PaidAt: t.PaidAt,
	}
	if t.GuardianID != nil {
		r.GuardianID = *t.GuardianID
	}
	if t.PaidAmount != nil {
		r.PaidAmount = *t.PaidAmount
	}
	return r
}
