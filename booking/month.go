package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/policy"
	schools "tartine/school"
)

// MonthDay is a day of a family's month: whether the school is open and,
// on open days, the cut-off of its bookings (as Cutoff returns it).
type MonthDay struct {
	DayStatus
	Cutoff time.Time // zero on closed days
}

// Month is what a family's month of bookings shows for a pupil, read in
// one round trip whatever the number of days: the school's calendar with
// each open day's cut-off, the meal types, the menus and the pupil's
// bookings (every status) from From to To, and the end of the term that
// holds Today.
type Month struct {
	Policy   policy.Policy // the school's booking policy (e.g. no meals on Wednesdays)
	Days     []MonthDay
	Meals    []MealType
	Menus    []MenuItem
	Bookings []Booking
	Absent   []time.Time // days the pupil was reported absent (sick), from From to To
	LeftAt   time.Time   // the pupil's leaving day (zero when none): from it on, no day is open
	TermEnd  time.Time   // last open day of Today's term; zero when none is found
}

// Month reads the pupil's month from from to to (inclusive, at most 62
// days) at the school (days on or after the pupil's leaving day are closed,
// ReasonPupilLeft), with the end of the term holding today, in four
// statements sent together: the school's policy and the pupil's leaving
// day (package school's), the calendar (one query for every cut-off of the
// month), the pupil's sick days and the meal types, the menus, and the
// bookings. It
// returns ErrNotFound for an unknown school, ErrInvalid for a bad range or
// malformed settings.
func (m *Manager) Month(ctx context.Context, tenantID, schoolID, pupilID int64, from, to, today time.Time) (Month, error) {
	f, t, td := civil(from), civil(to), civil(today)
	if t.Before(f) || t.Sub(f) > 62*24*time.Hour {
		return Month{}, invalid("month range %s–%s: want at most 62 days", f.Format(time.DateOnly), t.Format(time.DateOnly))
	}
	// The calendar must reach back far enough for the cut-offs (Cutoff
	// reads 60 days) and forward to the end of today's term (TermEnd reads
	// 200 days).
	calFrom, calTo := f.AddDate(0, 0, -60), t
	if end := td.AddDate(0, 0, 200); end.After(calTo) {
		calTo = end
	}
	if td.Before(calFrom) {
		calFrom = td
	}
	var (
		out   Month
		sc    schools.School
		found bool
		years []SchoolYear
		cal   = calendar{closures: map[time.Time]Closure{}}
	)
	b := &pgx.Batch{}
	schools.QueueSchoolAndLeaving(b, tenantID, schoolID, pupilID, func(s schools.School, leaves time.Time) {
		sc, found = s, true
		if !leaves.IsZero() {
			out.LeftAt = civil(leaves)
		}
	})
	b.Queue(`
		SELECT ARRAY(SELECT y.label FROM school_years y WHERE y.tenant_id = $1 AND y.school_id = $2 AND y.ends_on >= $3 AND y.starts_on <= $4 ORDER BY y.starts_on),
		       ARRAY(SELECT y.starts_on FROM school_years y WHERE y.tenant_id = $1 AND y.school_id = $2 AND y.ends_on >= $3 AND y.starts_on <= $4 ORDER BY y.starts_on),
		       ARRAY(SELECT y.ends_on FROM school_years y WHERE y.tenant_id = $1 AND y.school_id = $2 AND y.ends_on >= $3 AND y.starts_on <= $4 ORDER BY y.starts_on),
		       ARRAY(SELECT c.day FROM school_closures c WHERE c.tenant_id = $1 AND c.school_id = $2 AND c.day BETWEEN $3 AND $4 ORDER BY c.day),
		       ARRAY(SELECT c.kind FROM school_closures c WHERE c.tenant_id = $1 AND c.school_id = $2 AND c.day BETWEEN $3 AND $4 ORDER BY c.day),
		       ARRAY(SELECT c.label FROM school_closures c WHERE c.tenant_id = $1 AND c.school_id = $2 AND c.day BETWEEN $3 AND $4 ORDER BY c.day),
		       ARRAY(SELECT a.day FROM pupil_absences a WHERE a.tenant_id = $1 AND a.pupil_id = $5 AND a.day BETWEEN $6 AND $7 ORDER BY a.day),
		       ARRAY(SELECT mt.code FROM meal_types mt WHERE mt.tenant_id = $1 ORDER BY mt.position, mt.code),
		       ARRAY(SELECT mt.name FROM meal_types mt WHERE mt.tenant_id = $1 ORDER BY mt.position, mt.code),
		       ARRAY(SELECT mt.subsidised FROM meal_types mt WHERE mt.tenant_id = $1 ORDER BY mt.position, mt.code),
		       ARRAY(SELECT mt.position FROM meal_types mt WHERE mt.tenant_id = $1 ORDER BY mt.position, mt.code)`,
		tenantID, schoolID, calFrom, calTo, pupilID, f, t).QueryRow(func(row pgx.Row) error {
		var labels, kinds, clabels, codes, names []string
		var starts, ends, days []time.Time
		var subsidised []bool
		var positions []int
		if err := row.Scan(&labels, &starts, &ends, &days, &kinds, &clabels, &out.Absent, &codes, &names, &subsidised, &positions); err != nil {
			return fmt.Errorf("read school calendar and meal types: %w", err)
		}
		for i := range labels {
			years = append(years, SchoolYear{Label: labels[i], Start: starts[i], End: ends[i]})
		}
		for i := range days {
			cal.closures[civil(days[i])] = Closure{Day: days[i], Kind: ClosureKind(kinds[i]), Label: clabels[i]}
		}
		out.Meals = make([]MealType, len(codes))
		for i := range codes {
			out.Meals[i] = MealType{Code: codes[i], Name: names[i], Subsidised: subsidised[i], Position: positions[i]}
		}
		return nil
	})
	b.Queue(`
		SELECT mi.day, mi.meal_type, mi.position, mi.course, mi.dish, mi.allergens
		FROM menu_items mi JOIN meal_types mt ON mt.tenant_id = mi.tenant_id AND mt.code = mi.meal_type
		WHERE mi.tenant_id = $1 AND mi.school_id = $2 AND mi.day BETWEEN $3 AND $4
		ORDER BY mi.day, mt.position, mi.meal_type, mi.position`, tenantID, schoolID, f, t).Query(func(rows pgx.Rows) error {
		var err error
		out.Menus, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (MenuItem, error) {
			var it MenuItem
			err := r.Scan(&it.Day, &it.MealType, &it.Position, &it.Course, &it.Dish, &it.Allergens)
			return it, err
		})
		return err
	})
	b.Queue(`SELECT `+bookingCols+` FROM bookings
		WHERE tenant_id = $1 AND pupil_id = $2 AND day BETWEEN $3 AND $4 ORDER BY day, service, id`, tenantID, pupilID, f, t).Query(func(rows pgx.Rows) error {
		var err error
		out.Bookings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
		return err
	})
	if err := m.pool.SendBatch(ctx, b).Close(); err != nil {
		return Month{}, fmt.Errorf("read month %s of pupil %d: %w", f.Format("2006-01"), pupilID, err)
	}
	if !found {
		return Month{}, fmt.Errorf("%w: school %d", ErrNotFound, schoolID)
	}
	cal.years = years
	s, err := m.schoolOf(sc)
	if err != nil {
		return Month{}, err
	}
	pol, err := s.policy()
	if err != nil {
		return Month{}, err
	}
	out.Policy = pol
	loc := s.loc
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		md := MonthDay{DayStatus: cal.status(d)}
		if md.Open && !out.LeftAt.IsZero() && !d.Before(out.LeftAt) {
			// Book refuses it (ErrPupilLeaving): not offered.
			md.DayStatus = DayStatus{Day: d, Reason: ReasonPupilLeft}
		}
		if md.Open {
			md.Cutoff = cutoff(pol, cal, d, loc)
		}
		out.Days = append(out.Days, md)
	}
	out.TermEnd = termEnd(cal, td, td.AddDate(0, 0, 200))
	return out, nil
}

// termEnd is TermEnd on a loaded calendar: the last open day before the
// first break (or the end of the school year) from from on; zero when no
// day is open up to to.
func termEnd(cal calendar, from, to time.Time) time.Time {
	var last time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		s := cal.status(d)
		switch {
		case s.Open:
			last = d
		case last.IsZero() || s.Kind == KindHoliday || s.Kind == KindClosure || s.Reason == ReasonWeekend:
		default:
			return last
		}
	}
	return last
}
