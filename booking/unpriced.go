package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Cancellation is a booking the school cancelled and the amount it gave
// back to the family.
type Cancellation struct {
	Booking Booking // as cancelled: Status cancelled, CancelledBy, CancelledAt
	// Released is the hold voided on the pupil's wallet (its available
	// balance went up by as much): the booked price, or zero for a free
	// meal and daycare, which hold nothing.
	Released decimal.Decimal
	// Closure is the label of the closed day that cancelled it (CloseDays);
	// empty when a stopped service did (CancelUnpriced).
	Closure string
}

// CancelUnpriced cancels every booking of the school still booked for
// service (a meal type code, or "daycare" for both daycare services, as in
// TariffEnd.Service) from day from on that no tariff prices any more — the
// bookings TariffEnd.Bookings counts after EndMealTariff or
// EndDaycareTariff. Each is cancelled as Cancel does (status cancelled by
// actor, hold voided, once) but without the families' cut-off: stopping a
// service is the school's decision, and a booking left standing would be
// charged as a no-show. A booking that a tariff prices again (a wider level
// pattern, a new tariff), or that was consumed, cancelled or closed
// meanwhile, is left alone, so running it again cancels nothing more.
//
// It returns the bookings it cancelled, by day, pupil and id (an empty list
// when there were none). It returns ErrInvalid for an empty service or
// actor, ErrNotFound for an unknown school; on another error the bookings
// cancelled before it stay cancelled and are returned with it.
func (m *Manager) CancelUnpriced(ctx context.Context, tenantID, schoolID int64, service string, from time.Time, actor string) ([]Cancellation, error) {
	if service != "daycare" && !mealCodeRe.MatchString(service) {
		return nil, invalid("service %q: want a meal type code or daycare", service)
	}
	if actor == "" {
		return nil, invalid("cancelling bookings needs an actor")
	}
	if _, err := m.school(ctx, tenantID, schoolID); err != nil {
		return nil, err
	}
	from = civil(from)
	where := unpricedSQL(service)
	args, err := unpricedArgs(ctx, m.pool, tenantID, schoolID, service, from)
	if err != nil {
		return nil, err
	}
	rows, _ := m.pool.Query(ctx, `SELECT b.id `+where+` ORDER BY b.day, b.pupil_id, b.id`, args...)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find bookings of %s without a tariff from %s: %w", service, from.Format(time.DateOnly), err)
	}
	out := []Cancellation{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		var c *Cancellation
		err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
			// Lock the booking if it still meets the condition: one a
			// concurrent tap, cancellation or new tariff took out is skipped.
			b, err := scanBooking(tx.QueryRow(ctx, `SELECT `+qualifiedBookingCols+` `+where+` AND b.id = $7 FOR UPDATE OF b`,
				append(args, id)...))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("lock booking: %w", err)
			}
			if err := m.cancelLocked(ctx, tx, &b, actor, m.now()); err != nil {
				return err
			}
			released := decimal.Zero
			if b.HoldID != nil {
				released = b.Price
			}
			c = &Cancellation{Booking: b, Released: released}
			return nil
		})
		switch {
		case errors.Is(err, ErrNotCancellable):
			continue // charged meanwhile: no longer standing
		case err != nil:
			return out, fmt.Errorf("cancel booking %d of a stopped service: %w", id, err)
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

// CountUnpriced returns how many bookings CancelUnpriced would cancel now
// (same arguments; ErrInvalid for an empty or malformed service).
func (m *Manager) CountUnpriced(ctx context.Context, tenantID, schoolID int64, service string, from time.Time) (int, error) {
	if service != "daycare" && !mealCodeRe.MatchString(service) {
		return 0, invalid("service %q: want a meal type code or daycare", service)
	}
	args, err := unpricedArgs(ctx, m.pool, tenantID, schoolID, service, civil(from))
	if err != nil {
		return 0, err
	}
	var n int
	if err := m.pool.QueryRow(ctx, `SELECT count(*) `+unpricedSQL(service), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count bookings of %s without a tariff: %w", service, err)
	}
	return n, nil
}
