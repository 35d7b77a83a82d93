package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// ConsumeTx is Consume inside the caller's transaction tx: the booking row
// is locked in tx, and the hold posting (ledger.PostHoldTx) or the free
// meal's subsidy transfer (ledger.TransferTx) and the booking's new status
// commit with the caller's rows. The caller commits, rolls back and
// retries.
//
// ErrNotFound, ErrAlreadyConsumed and ErrBookingEnded are returned before
// anything is written: tx stays usable (e.g. to serve the meal as
// unbooked). An error wrapping ledger.ErrTxAborted — a hold ended
// concurrently, a closed period, a database error — means tx must be
// rolled back.
func (m *Manager) ConsumeTx(ctx context.Context, tx pgx.Tx, b Booking, tapID string, occurredAt time.Time) (Consumption, error) {
	if tapID == "" {
		return Consumption{}, invalid("consume needs a tap id")
	}
	key := "tap:" + tapID
	cur, err := lockBooking(ctx, tx, b.TenantID, b.ID)
	if errors.Is(err, ErrNotFound) {
		return Consumption{}, err
	}
	if err != nil {
		return Consumption{}, fmt.Errorf("%w: consume booking %d: %w", ledger.ErrTxAborted, b.ID, err)
	}
	switch cur.Status {
	case StatusConsumed:
		if cur.TapID != tapID {
			return Consumption{}, fmt.Errorf("%w: booking %d by tap %s", ErrAlreadyConsumed, cur.ID, cur.TapID)
		}
		out := consumption(cur)
		out.Replayed = true
		return out, nil
	case StatusCancelled, StatusNoShow:
		return Consumption{}, fmt.Errorf("%w: booking %d is %s", ErrBookingEnded, cur.ID, cur.Status)
	}
	var transferID *int64
	switch {
	case cur.Service.IsDaycare():
	case cur.HoldID != nil:
		rev, err := m.account(ctx, cur.TenantID, AccountRevenueMeals)
		if err != nil {
			return Consumption{}, err
		}
		t, err := m.led.PostHoldTx(ctx, tx, ledger.PostHoldRequest{TenantID: cur.TenantID, HoldID: *cur.HoldID, Amount: cur.Price, To: rev,
			IdempotencyKey: key, Kind: KindMeal, OccurredAt: occurredAt, Actor: key,
			Memo: fmt.Sprintf("Repas (%s) du %s", cur.Service, cur.Day.Format(time.DateOnly)), Metadata: bookingMeta(cur)})
		if errors.Is(err, ledger.ErrHoldEnded) && !errors.Is(err, ledger.ErrTxAborted) {
			return Consumption{}, fmt.Errorf("%w: hold of booking %d already ended", ErrBookingEnded, cur.ID)
		}
		if err != nil {
			return Consumption{}, fmt.Errorf("consume booking %d: post hold %d: %w", cur.ID, *cur.HoldID, err)
		}
		transferID = &t.ID
	case cur.FreeMeal && cur.ListPrice.IsPositive():
		rev, err := m.account(ctx, cur.TenantID, AccountRevenueMeals)
		if err != nil {
			return Consumption{}, err
		}
		sub, err := m.account(ctx, cur.TenantID, AccountSubsidyMeals)
		if err != nil {
			return Consumption{}, err
		}
		t, err := m.led.TransferTx(ctx, tx, ledger.TransferRequest{TenantID: cur.TenantID, IdempotencyKey: key, Kind: KindMeal,
			OccurredAt: occurredAt, Actor: key, Memo: fmt.Sprintf("Repas gratuit FWB (%s) du %s", cur.Service, cur.Day.Format(time.DateOnly)),
			Metadata: bookingMeta(cur), Postings: []ledger.Posting{{AccountID: sub, Amount: cur.ListPrice}, {AccountID: rev, Amount: cur.ListPrice.Neg()}}})
		if err != nil {
			return Consumption{}, fmt.Errorf("consume booking %d: charge free meal to subsidy: %w", cur.ID, err)
		}
		transferID = &t.ID
	case cur.Price.IsPositive():
		return Consumption{}, fmt.Errorf("%w: booking %d has no hold", ErrBookingEnded, cur.ID)
	}
	cur.Status, cur.TapID, cur.ConsumedAt, cur.TransferID = StatusConsumed, tapID, &occurredAt, transferID
	if _, err := tx.Exec(ctx, `UPDATE bookings SET status = 'consumed', tap_id = $3, consumed_at = $4, transfer_id = $5 WHERE tenant_id = $1 AND id = $2`,
		cur.TenantID, cur.ID, tapID, occurredAt, transferID); err != nil {
		return Consumption{}, fmt.Errorf("%w: consume booking %d: %w", ledger.ErrTxAborted, cur.ID, err)
	}
	return consumption(cur), nil
}
