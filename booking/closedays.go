package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// MaxClosedRange bounds the days CloseDays closes at once (a strike, a
// "journée pédagogique", a week of works): longer breaks are school years'
// holidays.
const MaxClosedRange = 31

// BookedBetween returns the bookings still standing (status booked) on the
// school's days from from to to, inclusive: what CloseDays would cancel.
func (m *Manager) BookedBetween(ctx context.Context, tenantID, schoolID int64, from, to time.Time) (int, error) {
	var n int
	if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM bookings WHERE tenant_id = $1 AND school_id = $2 AND day BETWEEN $3 AND $4 AND status = 'booked'`,
		tenantID, schoolID, civil(from), civil(to)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count bookings %s–%s: %w", civil(from).Format(time.DateOnly), civil(to).Format(time.DateOnly), err)
	}
	return n, nil
}

// CloseDays closes every weekday from from to to (inclusive, at most
// MaxClosedRange days) with kind and label, and in the same transaction
// cancels the bookings still standing on those days: each is cancelled by
// actor as CancelUnpriced does (hold voided, without the families' cut-off:
// closing is the school's decision), and returned with the amount released
// and Closure set to label, for the families' email. Days already closed
// are relabelled. Bookings consumed or ended meanwhile are left alone.
//
// It returns ErrInvalid for an empty label or actor, an unknown kind, a
// range that ends before it starts, is longer than MaxClosedRange or holds
// no weekday; ErrNotFound for an unknown school. On an error nothing is
// closed or cancelled.
func (m *Manager) CloseDays(ctx context.Context, tenantID, schoolID int64, from, to time.Time, kind ClosureKind, label, actor string) ([]Cancellation, error) {
	f, t := civil(from), civil(to)
	switch {
	case kind == "":
		kind = KindClosure
	case kind != KindBreak && kind != KindHoliday && kind != KindClosure:
		return nil, invalid("closed-day kind %q: want break, holiday or closure", kind)
	}
	if label == "" || actor == "" {
		return nil, invalid("closing days needs a label and an actor")
	}
	if t.Before(f) || t.Sub(f) >= MaxClosedRange*24*time.Hour {
		return nil, invalid("closing %s–%s: want 1 to %d days, the last not before the first", f.Format(time.DateOnly), t.Format(time.DateOnly), MaxClosedRange)
	}
	var days []time.Time
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		if !weekend(d) {
			days = append(days, d)
		}
	}
	if len(days) == 0 {
		return nil, invalid("%s–%s holds only weekend days: always closed", f.Format(time.DateOnly), t.Format(time.DateOnly))
	}
	if _, err := m.school(ctx, tenantID, schoolID); err != nil {
		return nil, err
	}
	now := m.now()
	var out []Cancellation
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		out = nil
		for _, d := range days {
			if err := closeDay(ctx, tx, tenantID, schoolID, d, kind, label); err != nil {
				return err
			}
		}
		rows, _ := tx.Query(ctx, `SELECT `+bookingCols+` FROM bookings WHERE tenant_id = $1 AND school_id = $2 AND day BETWEEN $3 AND $4
			AND status = 'booked' ORDER BY day, pupil_id, id FOR UPDATE`, tenantID, schoolID, f, t)
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
		if err != nil {
			return fmt.Errorf("bookings of the closed days: %w", err)
		}
		for _, b := range list {
			if err := m.cancelLocked(ctx, tx, &b, actor, now); err != nil {
				if errors.Is(err, ErrNotCancellable) {
					continue // charged already
				}
				return fmt.Errorf("cancel booking %d: %w", b.ID, err)
			}
			released := decimal.Zero
			if b.HoldID != nil {
				released = b.Price
			}
			out = append(out, Cancellation{Booking: b, Released: released, Closure: label})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
