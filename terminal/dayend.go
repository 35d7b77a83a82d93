package terminal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tartine/booking"
)

// DayEndGrace is how long after a school's latest daycare closing time its
// day end runs, so that a late check-out at the door is still a check-out.
const DayEndGrace = 15 * time.Minute

// defaultClosing is the closing time of a school without a daycare tariff
// for the day (booking's default tariff closes at 18:00).
var defaultClosing = booking.MustClock("18:00")

// DayEndDue returns the school-local time of day after which the school's
// day end may run for day: its latest daycare closing time that day (over
// the tariffs of every level valid on day; 18:00 without one) plus
// DayEndGrace.
func (s *Service) DayEndDue(ctx context.Context, tenantID, schoolID int64, day time.Time) (time.Duration, error) {
	tariffs, err := s.booking.DaycareTariffs(ctx, tenantID, schoolID)
	if err != nil {
		return 0, fmt.Errorf("day end: daycare tariffs: %w", err)
	}
	d := day.Format(time.DateOnly)
	latest := booking.Clock(-1)
	for _, t := range tariffs {
		if t.ValidFrom.Format(time.DateOnly) > d || (t.ValidTo != nil && t.ValidTo.Format(time.DateOnly) < d) {
			continue
		}
		latest = max(latest, t.Closes)
	}
	if latest < 0 {
		latest = defaultClosing
	}
	return time.Duration(latest)*time.Minute + DayEndGrace, nil
}

// DayEndPass runs DayEnd for every school of every organising body whose
// day end is due today (DayEndDue, in the school's time zone) and that this
// Service has not closed today yet. It is the day-end job's body, run
// every few minutes by the job queue: DayEnd is idempotent, so a pass
// interrupted by a crash, or run by two servers, closes each session and
// ends each booking once. It returns the schools' errors joined (the job
// is then retried); the other schools are still closed.
func (s *Service) DayEndPass(ctx context.Context) error {
	list, err := s.store.AllSchools(ctx)
	if err != nil {
		return fmt.Errorf("day end: %w", err)
	}
	var errs []error
	for _, sc := range list {
		loc := sc.Location()
		now := s.now().In(loc)
		y, m, d := now.Date()
		midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
		day := midnight.Format(time.DateOnly)
		key := idKey{sc.TenantID, sc.ID}
		s.dayEndMu.Lock()
		closed := s.dayEndDone[key] == day
		s.dayEndMu.Unlock()
		if closed {
			continue
		}
		due, err := s.DayEndDue(ctx, sc.TenantID, sc.ID, midnight)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Wall-clock time of day (a DST day has 23 or 25 hours).
		if time.Duration(now.Hour())*time.Hour+time.Duration(now.Minute())*time.Minute < due {
			continue
		}
		rep, err := s.DayEnd(ctx, sc.TenantID, sc.ID, midnight)
		if err != nil {
			s.log.Error("day end", "tenant_id", sc.TenantID, "school_id", sc.ID, "day", day, "err", err)
			errs = append(errs, fmt.Errorf("school %d: %w", sc.ID, err))
			continue
		}
		s.dayEndMu.Lock()
		s.dayEndDone[key] = day
		s.dayEndMu.Unlock()
		s.log.Info("day end", "tenant_id", sc.TenantID, "school_id", sc.ID, "day", day, "sessions_closed", rep.SessionsClosed,
			"noshow_charged", rep.Bookings.Charged, "noshow_released", rep.Bookings.Released)
	}
	return errors.Join(errs...)
}
