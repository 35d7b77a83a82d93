package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/policy"
)

// SickRequest reports a pupil absent (sick) on the school days from From to
// Until (inclusive).
type SickRequest struct {
	TenantID int64
	PupilID  int64
	From     time.Time
	Until    time.Time
	Actor    string // "portal-account:5", "staff:3"
}

// SickOutcome is what a sick day did to one booking.
type SickOutcome string

// Sick-day outcomes.
const (
	// SickReleased: the booking was cancelled and its hold voided.
	SickReleased SickOutcome = "released"
	// SickKept: reported after the cut-off, the booking stands; the
	// day-end job treats it as a no-show (a meal's hold is charged when
	// the policy charges no-shows).
	SickKept SickOutcome = "kept"
)

// SickBooking is one booking a sick day met.
type SickBooking struct {
	Booking Booking
	Outcome SickOutcome
}

// SickReport says which open school days were recorded absent and what
// happened to their bookings.
type SickReport struct {
	Days     []time.Time
	Bookings []SickBooking
}

// Count returns how many bookings had outcome o.
func (r SickReport) Count(o SickOutcome) int {
	n := 0
	for _, b := range r.Bookings {
		if b.Outcome == o {
			n++
		}
	}
	return n
}

// ReportSick records the pupil absent (sick) on each open school day from
// req.From to req.Until (at most 31 days, none before the school's today)
// and applies the school's policy to those days' bookings (status booked,
// every service): before a day's cut-off they are released (cancelled,
// hold voided); after it they are released only when the policy says so
// (policy.Policy.SickDayAfterCutoff release, or RefundAfterCutoff: a cancellation
// would be refunded anyway), else kept and charged as a no-show at day end.
// Reporting a day again changes nothing already recorded and applies the
// policy to bookings made since. Everything is written in one transaction.
//
// Days on or after the pupil's leaving day are not school days for them.
// It returns ErrNotFound (pupil or school), ErrInactivePupil,
// ErrPupilLeaving (req.From on or after the leaving day), ErrInvalid
// (a bad range, a day before today, malformed settings) or ErrClosedDay
// when no day of the range is open.
func (m *Manager) ReportSick(ctx context.Context, req SickRequest) (SickReport, error) {
	from, until := civil(req.From), civil(req.Until)
	if until.Before(from) || until.Sub(from) > 30*24*time.Hour {
		return SickReport{}, invalid("sick days %s–%s: want an end after the start, at most 31 days", from.Format(time.DateOnly), until.Format(time.DateOnly))
	}
	p, err := m.pupil(ctx, req.TenantID, req.PupilID)
	if err != nil {
		return SickReport{}, err
	}
	if !p.active {
		return SickReport{}, fmt.Errorf("%w: pupil %d", ErrInactivePupil, p.id)
	}
	if p.leftBy(from) {
		return SickReport{}, fmt.Errorf("%w: pupil %d leaves on %s", ErrPupilLeaving, p.id, p.leaves.Format(time.DateOnly))
	}
	if p.leftBy(until) {
		until = civil(p.leaves).AddDate(0, 0, -1) // no school days after leaving
	}
	s, err := m.school(ctx, req.TenantID, p.schoolID)
	if err != nil {
		return SickReport{}, err
	}
	pol, err := s.policy()
	if err != nil {
		return SickReport{}, err
	}
	now := m.now()
	if today := civil(now.In(s.loc)); from.Before(today) {
		return SickReport{}, invalid("sick day %s is before today (%s)", from.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	cal, err := m.loadCalendar(ctx, m.pool, req.TenantID, p.schoolID, from.AddDate(0, 0, -60), until)
	if err != nil {
		return SickReport{}, err
	}
	var rep SickReport
	cutoffs := map[time.Time]time.Time{}
	for d := from; !d.After(until); d = d.AddDate(0, 0, 1) {
		if cal.status(d).Open {
			rep.Days = append(rep.Days, d)
			cutoffs[d] = cutoff(pol, cal, d, s.loc)
		}
	}
	if len(rep.Days) == 0 {
		return SickReport{}, fmt.Errorf("%w: no school day from %s to %s", ErrClosedDay, from.Format(time.DateOnly), until.Format(time.DateOnly))
	}
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		rep.Bookings = nil
		if _, err := tx.Exec(ctx, `
			INSERT INTO pupil_absences (tenant_id, school_id, pupil_id, day, reason, reported_by, reported_at)
			SELECT $1, $2, $3, d, 'sick', $5, $6 FROM unnest($4::date[]) AS d
			ON CONFLICT (tenant_id, pupil_id, day) DO NOTHING`,
			req.TenantID, p.schoolID, p.id, rep.Days, req.Actor, now); err != nil {
			return fmt.Errorf("record absence: %w", err)
		}
		rows, _ := tx.Query(ctx, `SELECT `+bookingCols+` FROM bookings
			WHERE tenant_id = $1 AND pupil_id = $2 AND day = ANY($3::date[]) AND status = 'booked'
			ORDER BY id FOR UPDATE`, req.TenantID, p.id, rep.Days)
		bks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
		if err != nil {
			return fmt.Errorf("read bookings: %w", err)
		}
		for _, b := range bks {
			if now.Before(cutoffs[civil(b.Day)]) || pol.SickDayAfterCutoff == policy.NoShowRelease || pol.RefundAfterCutoff {
				if err := m.cancelLocked(ctx, tx, &b, req.Actor, now); err != nil {
					return fmt.Errorf("release booking %d: %w", b.ID, err)
				}
				rep.Bookings = append(rep.Bookings, SickBooking{Booking: b, Outcome: SickReleased})
				continue
			}
			rep.Bookings = append(rep.Bookings, SickBooking{Booking: b, Outcome: SickKept})
		}
		return nil
	})
	if err != nil {
		return SickReport{}, fmt.Errorf("report pupil %d sick: %w", p.id, err)
	}
	return rep, nil
}

// DayAbsences returns the pupils of the school reported absent (sick) on
// day, by pupil id: the kitchen and daycare lists show them.
func (m *Manager) DayAbsences(ctx context.Context, tenantID, schoolID int64, day time.Time) ([]int64, error) {
	rows, _ := m.pool.Query(ctx, `SELECT pupil_id FROM pupil_absences WHERE tenant_id = $1 AND school_id = $2 AND day = $3 ORDER BY pupil_id`,
		tenantID, schoolID, civil(day))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("absences of school %d on %s: %w", schoolID, civil(day).Format(time.DateOnly), err)
	}
	return ids, nil
}

// WithdrawSick removes the pupil's sick day on day (the child is back):
// the kitchen and daycare lists no longer show the absence. Bookings the
// report released stay cancelled (the family books again, before the
// cut-off). It returns ErrInvalid for a day before the school's today and
// ErrNotFound when the pupil has no sick day on day.
func (m *Manager) WithdrawSick(ctx context.Context, tenantID, pupilID int64, day time.Time) error {
	d := civil(day)
	p, err := m.pupil(ctx, tenantID, pupilID)
	if err != nil {
		return err
	}
	s, err := m.school(ctx, tenantID, p.schoolID)
	if err != nil {
		return err
	}
	if today := civil(m.now().In(s.loc)); d.Before(today) {
		return invalid("sick day %s is before today (%s)", d.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	tag, err := m.pool.Exec(ctx, `DELETE FROM pupil_absences WHERE tenant_id = $1 AND pupil_id = $2 AND day = $3`, tenantID, pupilID, d)
	if err != nil {
		return fmt.Errorf("withdraw sick day %s of pupil %d: %w", d.Format(time.DateOnly), pupilID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: no sick day %s for pupil %d", ErrNotFound, d.Format(time.DateOnly), pupilID)
	}
	return nil
}
