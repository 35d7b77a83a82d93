package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	schools "tartine/school"
)

// CancelLeavingTx cancels, in tx, the pupil's bookings still booked for
// days from from on: the pupil leaves on from (school.Store.Leave calls it
// in the leaving's transaction: school.WithBookingCanceller). It is the
// school's decision: each booking is cancelled as Cancel does (hold voided,
// cancelled by actor), without the families' cut-off where the school's
// policy refunds after it; otherwise a booking past its cut-off stays, as
// does one already charged. An error requires rolling tx back.
func (m *Manager) CancelLeavingTx(ctx context.Context, tx pgx.Tx, tenantID, pupilID int64, from time.Time, actor string) error {
	rows, _ := tx.Query(ctx, `SELECT `+bookingCols+` FROM bookings
		WHERE tenant_id = $1 AND pupil_id = $2 AND day >= $3 AND status = 'booked'
		ORDER BY day, service, id FOR UPDATE`, tenantID, pupilID, civil(from))
	bks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
	if err != nil {
		return fmt.Errorf("lock the bookings from %s: %w", civil(from).Format(time.DateOnly), err)
	}
	if len(bks) == 0 {
		return nil
	}
	// The rules of each school the bookings are at (one, but for a pupil
	// who changed school), with a calendar long enough for every cut-off.
	type rules struct {
		s   school
		cal calendar
	}
	first, last := bks[0].Day, bks[len(bks)-1].Day
	bySchool := map[int64]rules{}
	now := m.now()
	for i := range bks {
		b := &bks[i]
		r, ok := bySchool[b.SchoolID]
		if !ok {
			sc, err := schools.ReadSchool(ctx, tx, tenantID, b.SchoolID)
			if err != nil {
				return fmt.Errorf("read school %d: %w", b.SchoolID, err)
			}
			if r.s, err = m.schoolOf(sc); err != nil {
				return err
			}
			if r.cal, err = m.loadCalendar(ctx, tx, tenantID, b.SchoolID, first.AddDate(0, 0, -60), last); err != nil {
				return err
			}
			bySchool[b.SchoolID] = r
		}
		pol, err := r.s.policy()
		if err != nil {
			return err
		}
		if !now.Before(cutoff(pol, r.cal, b.Day, r.s.loc)) && !pol.RefundAfterCutoff {
			continue // past its cut-off: stays
		}
		if err := m.cancelLocked(ctx, tx, b, actor, now); err != nil && !errors.Is(err, ErrNotCancellable) {
			return fmt.Errorf("cancel booking %d: %w", b.ID, err)
		}
	}
	return nil
}
