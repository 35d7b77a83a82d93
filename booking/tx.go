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
	w, err := m.planConsume(ctx, tx, cur, tapID, occurredAt)
	if err != nil {
		return Consumption{}, err
	}
	var transferID *int64
	switch {
	case w.Post != nil:
		t, err := m.led.PostHoldTx(ctx, tx, *w.Post)
		if errors.Is(err, ledger.ErrHoldEnded) && !errors.Is(err, ledger.ErrTxAborted) {
			return Consumption{}, fmt.Errorf("%w: hold of booking %d already ended", ErrBookingEnded, cur.ID)
		}
		if err != nil {
			return Consumption{}, fmt.Errorf("consume booking %d: post hold %d: %w", cur.ID, *cur.HoldID, err)
		}
		transferID = &t.ID
	case w.Transfer != nil:
		t, err := m.led.TransferTx(ctx, tx, *w.Transfer)
		if err != nil {
			return Consumption{}, fmt.Errorf("consume booking %d: charge free meal to subsidy: %w", cur.ID, err)
		}
		transferID = &t.ID
	}
	cur.Status, cur.TapID, cur.ConsumedAt, cur.TransferID = StatusConsumed, tapID, &occurredAt, transferID
	if _, err := tx.Exec(ctx, `UPDATE bookings SET status = 'consumed', tap_id = $3, consumed_at = $4, transfer_id = $5 WHERE tenant_id = $1 AND id = $2`,
		cur.TenantID, cur.ID, tapID, occurredAt, transferID); err != nil {
		return Consumption{}, fmt.Errorf("%w: consume booking %d: %w", ledger.ErrTxAborted, cur.ID, err)
	}
	return consumption(cur), nil
}

// ConsumeWrites is what consuming a booking writes in the ledger — a
// paying meal's hold posted to revenue:meals, or a free meal charged to
// subsidy:fwb-meals, or nothing (a daycare booking) — and the answer.
type ConsumeWrites struct {
	Post        *ledger.PostHoldRequest
	Transfer    *ledger.TransferRequest
	Consumption Consumption // TransferID unset
}

// PlanConsumeTx returns what consuming cur — booked, read and locked by the
// caller in its transaction tx — at tap tapID writes, with the idempotency
// key "tap:<tapID>". ConsumeTx writes it; the terminal's group commit writes
// the plans of many taps at once (ledger.QueueTransfersTx), with
// QueueConsumed. It reads (or, on first use, creates) the tenant's revenue
// and subsidy accounts in tx, never through a second pool connection.
// ErrBookingEnded for a paying booking without a hold.
func (m *Manager) PlanConsumeTx(ctx context.Context, tx pgx.Tx, cur Booking, tapID string, occurredAt time.Time) (ConsumeWrites, error) {
	return m.planConsume(ctx, tx, cur, tapID, occurredAt)
}

// planConsume is PlanConsumeTx (ConsumeTx shares it).
func (m *Manager) planConsume(ctx context.Context, tx pgx.Tx, cur Booking, tapID string, occurredAt time.Time) (ConsumeWrites, error) {
	key := "tap:" + tapID
	var w ConsumeWrites
	switch {
	case cur.Service.IsDaycare():
	case cur.HoldID != nil:
		rev, err := m.accountIn(ctx, tx, cur.TenantID, AccountRevenueMeals)
		if err != nil {
			return w, err
		}
		w.Post = &ledger.PostHoldRequest{TenantID: cur.TenantID, HoldID: *cur.HoldID, Amount: cur.Price, To: rev,
			IdempotencyKey: key, Kind: KindMeal, OccurredAt: occurredAt, Actor: key,
			Memo: fmt.Sprintf("Repas (%s) du %s", cur.Service, cur.Day.Format(time.DateOnly)), Metadata: bookingMeta(cur)}
	case cur.FreeMeal && cur.ListPrice.IsPositive():
		rev, err := m.accountIn(ctx, tx, cur.TenantID, AccountRevenueMeals)
		if err != nil {
			return w, err
		}
		sub, err := m.accountIn(ctx, tx, cur.TenantID, AccountSubsidyMeals)
		if err != nil {
			return w, err
		}
		w.Transfer = &ledger.TransferRequest{TenantID: cur.TenantID, IdempotencyKey: key, Kind: KindMeal,
			OccurredAt: occurredAt, Actor: key, Memo: fmt.Sprintf("Repas gratuit FWB (%s) du %s", cur.Service, cur.Day.Format(time.DateOnly)),
			Metadata: bookingMeta(cur), Postings: []ledger.Posting{{AccountID: sub, Amount: cur.ListPrice}, {AccountID: rev, Amount: cur.ListPrice.Neg()}}}
	case cur.Price.IsPositive():
		return w, fmt.Errorf("%w: booking %d has no hold", ErrBookingEnded, cur.ID)
	}
	done := cur
	done.Status, done.TapID, done.ConsumedAt = StatusConsumed, tapID, &occurredAt
	w.Consumption = consumption(done)
	return w, nil
}

// QueueConsumed queues on b the update that marks cur consumed by tap
// tapID at occurredAt; its transfer, if any, is found by its key
// "tap:<tapID>" (queue it after the transfers).
func QueueConsumed(b *pgx.Batch, cur Booking, tapID string, occurredAt time.Time) {
	b.Queue(`UPDATE bookings SET status = 'consumed', tap_id = $3, consumed_at = $4,
		transfer_id = `+ledger.TransferIDByKeySQL("$1", "$5")+`
		WHERE tenant_id = $1 AND id = $2`, cur.TenantID, cur.ID, tapID, occurredAt, "tap:"+tapID)
}

// QueueDayBookings queues on b the read of the bookings (not cancelled) of
// pupils on days, locked for update, in the order pupil, service, id, into
// into; then the read of their holds into holds. pupils is an SQL
// expression of type bigint[] without parameters, evaluated by the
// database: the terminal's group commit names there the pupils its
// transaction just locked, in the same round trip. The caller serialises
// the taps of a pupil; the lock keeps a guardian's cancellation or the
// day-end job from ending a booking between this read and the caller's
// commit.
func QueueDayBookings(b *pgx.Batch, tenantID int64, pupils string, days []string, into func(Booking), holds map[int64]ledger.Hold) {
	b.Queue(`SELECT `+qualifiedBookingCols+` FROM unnest(`+pupils+`) AS x(pid)
		CROSS JOIN LATERAL (SELECT * FROM bookings WHERE tenant_id = $1 AND pupil_id = x.pid AND day = ANY($2::date[])
			AND status <> 'cancelled' FOR UPDATE) b
		ORDER BY b.pupil_id, b.service, b.id`, tenantID, days).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			bk, err := scanBooking(rows)
			if err != nil {
				return fmt.Errorf("read bookings: %w", err)
			}
			into(bk)
		}
		return rows.Err()
	})
	ledger.QueueHolds(b, tenantID, `SELECT k.hold_id FROM unnest(`+pupils+`) AS x(pid)
		CROSS JOIN LATERAL (SELECT hold_id FROM bookings WHERE tenant_id = $1 AND pupil_id = x.pid AND day = ANY($2::date[])
			AND status = 'booked' AND hold_id IS NOT NULL OFFSET 0) k`, []any{days}, holds)
}
