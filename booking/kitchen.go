package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DayBooking is one booking of a day that still stands (booked, consumed
// or no-show), for the kitchen and daycare lists.
type DayBooking struct {
	ID      int64
	PupilID int64
	Service Service
	Status  Status
}

// DayBookings returns the school's bookings of day that were not
// cancelled, every service, by service then pupil: what the kitchen cooks
// for and who the daycare expects. It is a read: the list changes until the
// day's cut-off (Manager.Cutoff).
func (m *Manager) DayBookings(ctx context.Context, tenantID, schoolID int64, day time.Time) ([]DayBooking, error) {
	rows, _ := m.pool.Query(ctx, `
		SELECT id, pupil_id, service, status FROM bookings
		WHERE tenant_id = $1 AND school_id = $2 AND day = $3 AND status <> 'cancelled'
		ORDER BY service, pupil_id, id`, tenantID, schoolID, civil(day))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DayBooking, error) {
		var b DayBooking
		err := r.Scan(&b.ID, &b.PupilID, &b.Service, &b.Status)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("bookings of school %d on %s: %w", schoolID, civil(day).Format(time.DateOnly), err)
	}
	return out, nil
}
