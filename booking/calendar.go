package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ClosureKind says why a weekday of the school year is closed.
type ClosureKind string

// Kinds of closed days.
const (
	KindBreak   ClosureKind = "break"   // school holidays (congé d'automne, vacances d'hiver...)
	KindHoliday ClosureKind = "holiday" // single public or school holiday
	KindClosure ClosureKind = "closure" // one-off closure decided by the school
)

// Closure is a closed weekday of a school.
type Closure struct {
	Day   time.Time
	Kind  ClosureKind
	Label string
}

// SchoolYear is a school year: first and last school day.
type SchoolYear struct {
	Label      string // "2026-27"
	Start, End time.Time
}

// DayStatus is a day of a school's calendar.
type DayStatus struct {
	Day    time.Time
	Open   bool
	Kind   ClosureKind // for closed days: break, holiday, closure, or "" (weekend, outside the year)
	Reason string      // French label of why it is closed, "" when open
}

// Reasons for closed days that are not stored closures.
const (
	ReasonWeekend       = "week-end"
	ReasonOutsideYear   = "hors année scolaire"
	ReasonNoWednesday   = "pas de repas le mercredi"
	ReasonDaycareClosed = "pas de garderie ce jour"
	ReasonPupilLeft     = "après le départ de l'élève"
)

// Easter returns Easter Sunday of year (Gregorian calendar, anonymous
// Gregorian algorithm "Meeus/Jones/Butcher"), at midnight UTC.
func Easter(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// mondayOf returns the Monday of d's week (Monday to Sunday).
func mondayOf(d time.Time) time.Time {
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// SchoolYearOf returns the school year holding day, as the calendar year
// it starts in (school years are counted from 1 August: GenerateYear's
// startYear).
func SchoolYearOf(day time.Time) int {
	if day.Month() < time.August {
		return day.Year() - 1
	}
	return day.Year()
}

// FWBTemplate returns the default calendar of the FWB school year starting
// in startYear (rhythm in force since 2022-23), as editable data:
//
//   - start: the last Monday of August; end: the first Friday of July;
//   - congé d'automne: the two weeks whose second week (Monday–Sunday)
//     contains 1 November;
//   - vacances d'hiver: two weeks from the Monday of Christmas' week, or
//     from the Monday after when 25 December is a Saturday or Sunday;
//   - vacances de printemps: two weeks from the Monday of the week that
//     contains 1 May;
//   - congé de détente (carnaval): two weeks from Carnival Monday (Easter −
//     48 days) when that leaves at least 6 weeks of school after the winter
//     break and 7 before spring; otherwise seven weeks after the winter
//     break (as in 2023-24 and 2024-25); Mardi gras (Easter − 47) is then a
//     day off of its own;
//   - single days off: 27 September, 11 November, Easter Monday, 1 May,
//     Ascension (Easter + 39), Whit Monday (Easter + 50), when they fall on
//     a school weekday outside a break.
//
// The government sets each year's calendar two years ahead: this is a
// default that matched the published calendars 2022-23 to 2025-26; schools
// edit the result with AddClosedDay and RemoveClosedDay.
func FWBTemplate(startYear int) (SchoolYear, []Closure) {
	end := startYear + 1
	start := date(startYear, time.August, 31)
	start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7)) // last Monday of August
	last := date(end, time.July, 1)
	last = last.AddDate(0, 0, (int(time.Friday)-int(last.Weekday())+7)%7) // first Friday of July
	year := SchoolYear{Label: fmt.Sprintf("%d-%02d", startYear, end%100), Start: start, End: last}

	autumn := mondayOf(date(startYear, time.November, 1)).AddDate(0, 0, -7)
	xmas := date(startYear, time.December, 25)
	winter := mondayOf(xmas)
	if wd := xmas.Weekday(); wd == time.Saturday || wd == time.Sunday {
		winter = mondayOf(xmas).AddDate(0, 0, 7)
	}
	easter := Easter(end)
	spring := mondayOf(date(end, time.May, 1))
	resume := winter.AddDate(0, 0, 14)
	carnival := easter.AddDate(0, 0, -48)
	weeksBefore := int(carnival.Sub(resume).Hours() / 24 / 7)
	weeksAfter := int(spring.Sub(carnival.AddDate(0, 0, 14)).Hours() / 24 / 7)
	if weeksBefore < 6 || weeksAfter < 7 {
		carnival = resume.AddDate(0, 0, 7*7)
	}
	breaks := []struct {
		from  time.Time
		label string
	}{
		{autumn, "Congé d'automne"},
		{winter, "Vacances d'hiver"},
		{carnival, "Congé de détente (carnaval)"},
		{spring, "Vacances de printemps"},
	}
	closed := map[time.Time]Closure{}
	for _, b := range breaks {
		for d := b.from; d.Before(b.from.AddDate(0, 0, 14)); d = d.AddDate(0, 0, 1) {
			closed[d] = Closure{Day: d, Kind: KindBreak, Label: b.label}
		}
	}
	singles := []Closure{
		{Day: date(startYear, time.September, 27), Label: "Fête de la Fédération Wallonie-Bruxelles"},
		{Day: date(startYear, time.November, 11), Label: "Armistice"},
		{Day: easter.AddDate(0, 0, -47), Label: "Mardi gras"},
		{Day: easter.AddDate(0, 0, 1), Label: "Lundi de Pâques"},
		{Day: date(end, time.May, 1), Label: "Fête du travail"},
		{Day: easter.AddDate(0, 0, 39), Label: "Ascension"},
		{Day: easter.AddDate(0, 0, 50), Label: "Lundi de Pentecôte"},
	}
	for _, s := range singles {
		if _, inBreak := closed[s.Day]; !inBreak {
			s.Kind = KindHoliday
			closed[s.Day] = s
		}
	}
	var out []Closure
	for d := start; !d.After(last); d = d.AddDate(0, 0, 1) {
		if c, ok := closed[d]; ok && !weekend(d) {
			out = append(out, c)
		}
	}
	return year, out
}

func weekend(d time.Time) bool { return d.Weekday() == time.Saturday || d.Weekday() == time.Sunday }

// GenerateYear stores the FWB template year starting in startYear for the
// school, unless that school year already exists (then it changes nothing,
// so that edits survive). It returns the year as stored.
func (m *Manager) GenerateYear(ctx context.Context, tenantID, schoolID int64, startYear int) (SchoolYear, error) {
	y, closures := FWBTemplate(startYear)
	return y, m.SetYear(ctx, tenantID, schoolID, y, closures, false)
}

// SetYear stores a school year and its closed days. With replace false an
// existing year with the same start is left untouched; with replace true its
// closed days between Start and End are replaced by closures.
func (m *Manager) SetYear(ctx context.Context, tenantID, schoolID int64, y SchoolYear, closures []Closure, replace bool) error {
	if !civil(y.End).After(civil(y.Start)) || y.Label == "" {
		return invalid("school year %q %s–%s: needs a label and an end after the start", y.Label, y.Start.Format(time.DateOnly), y.End.Format(time.DateOnly))
	}
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO school_years (tenant_id, school_id, label, starts_on, ends_on) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, school_id, starts_on) DO `+map[bool]string{false: "NOTHING", true: "UPDATE SET label = EXCLUDED.label, ends_on = EXCLUDED.ends_on"}[replace],
			tenantID, schoolID, y.Label, civil(y.Start), civil(y.End))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if replace {
			if _, err := tx.Exec(ctx, `DELETE FROM school_closures WHERE tenant_id = $1 AND school_id = $2 AND day BETWEEN $3 AND $4`,
				tenantID, schoolID, civil(y.Start), civil(y.End)); err != nil {
				return err
			}
		}
		for _, c := range closures {
			if _, err := tx.Exec(ctx, `
				INSERT INTO school_closures (tenant_id, school_id, day, kind, label) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (tenant_id, school_id, day) DO UPDATE SET kind = EXCLUDED.kind, label = EXCLUDED.label`,
				tenantID, schoolID, civil(c.Day), string(c.Kind), c.Label); err != nil {
				return err
			}
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: school %d", ErrNotFound, schoolID)
	}
	if err != nil {
		return fmt.Errorf("store school year %s: %w", y.Label, err)
	}
	return nil
}

// AddClosedDay closes a weekday for the school (or relabels a closed day).
// kind defaults to KindClosure. It returns ErrInvalid for a weekend day.
func (m *Manager) AddClosedDay(ctx context.Context, tenantID, schoolID int64, day time.Time, kind ClosureKind, label string) error {
	d := civil(day)
	if weekend(d) {
		return invalid("%s is a weekend day: always closed", d.Format(time.DateOnly))
	}
	if kind == "" {
		kind = KindClosure
	}
	if kind != KindBreak && kind != KindHoliday && kind != KindClosure {
		return invalid("closed-day kind %q: want break, holiday or closure", kind)
	}
	if label == "" {
		return invalid("closed day %s needs a label", d.Format(time.DateOnly))
	}
	return closeDay(ctx, m.pool, tenantID, schoolID, d, kind, label)
}

// closeDay stores a closed day (or relabels it) through q: the pool, or a
// transaction (CloseDays). ErrNotFound for an unknown school.
func closeDay(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, tenantID, schoolID int64, d time.Time, kind ClosureKind, label string) error {
	_, err := q.Exec(ctx, `
		INSERT INTO school_closures (tenant_id, school_id, day, kind, label) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, school_id, day) DO UPDATE SET kind = EXCLUDED.kind, label = EXCLUDED.label`,
		tenantID, schoolID, d, string(kind), label)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: school %d", ErrNotFound, schoolID)
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", d.Format(time.DateOnly), err)
	}
	return nil
}

// RemoveClosedDay opens a day that was closed (it reports whether there was
// one). Existing bookings are not affected by closing or opening a day.
func (m *Manager) RemoveClosedDay(ctx context.Context, tenantID, schoolID int64, day time.Time) (bool, error) {
	tag, err := m.pool.Exec(ctx, `DELETE FROM school_closures WHERE tenant_id = $1 AND school_id = $2 AND day = $3`, tenantID, schoolID, civil(day))
	if err != nil {
		return false, fmt.Errorf("open %s: %w", civil(day).Format(time.DateOnly), err)
	}
	return tag.RowsAffected() > 0, nil
}

// calendar is a school's calendar loaded for a range of days.
type calendar struct {
	years    []SchoolYear
	closures map[time.Time]Closure
}

func (m *Manager) loadCalendar(ctx context.Context, q querier, tenantID, schoolID int64, from, to time.Time) (calendar, error) {
	cal := calendar{closures: map[time.Time]Closure{}}
	rows, _ := q.Query(ctx, `SELECT label, starts_on, ends_on FROM school_years
		WHERE tenant_id = $1 AND school_id = $2 AND ends_on >= $3 AND starts_on <= $4`, tenantID, schoolID, civil(from), civil(to))
	years, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SchoolYear, error) {
		var y SchoolYear
		err := r.Scan(&y.Label, &y.Start, &y.End)
		return y, err
	})
	if err != nil {
		return cal, fmt.Errorf("read school years: %w", err)
	}
	cal.years = years
	rows, _ = q.Query(ctx, `SELECT day, kind, label FROM school_closures
		WHERE tenant_id = $1 AND school_id = $2 AND day BETWEEN $3 AND $4`, tenantID, schoolID, civil(from), civil(to))
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Closure, error) {
		var c Closure
		var kind string
		err := r.Scan(&c.Day, &kind, &c.Label)
		c.Kind = ClosureKind(kind)
		return c, err
	})
	if err != nil {
		return cal, fmt.Errorf("read closed days: %w", err)
	}
	for _, c := range cs {
		cal.closures[civil(c.Day)] = c
	}
	return cal, nil
}

func (c calendar) status(day time.Time) DayStatus {
	d := civil(day)
	if weekend(d) {
		return DayStatus{Day: d, Reason: ReasonWeekend}
	}
	if cl, ok := c.closures[d]; ok {
		return DayStatus{Day: d, Kind: cl.Kind, Reason: cl.Label}
	}
	for _, y := range c.years {
		if !d.Before(civil(y.Start)) && !d.After(civil(y.End)) {
			return DayStatus{Day: d, Open: true}
		}
	}
	return DayStatus{Day: d, Reason: ReasonOutsideYear}
}

// schoolDay reports whether d counts as a school day for cut-offs: a
// weekday that is not a stored closed day (summer weekdays count, so the
// first day of a year has a cut-off on the last weekday before it).
func (c calendar) schoolDay(d time.Time) bool {
	_, closed := c.closures[civil(d)]
	return !weekend(d) && !closed
}

// IsOpen reports whether the school is open on day, and if not why (a
// French label: the closed day's label, ReasonWeekend or ReasonOutsideYear).
func (m *Manager) IsOpen(ctx context.Context, tenantID, schoolID int64, day time.Time) (open bool, reason string, err error) {
	cal, err := m.loadCalendar(ctx, m.pool, tenantID, schoolID, day, day)
	if err != nil {
		return false, "", err
	}
	s := cal.status(day)
	return s.Open, s.Reason, nil
}

// Calendar returns the status of every day from from to to (inclusive) for
// the school, e.g. for a month view. It returns ErrInvalid for a range over
// 400 days.
func (m *Manager) Calendar(ctx context.Context, tenantID, schoolID int64, from, to time.Time) ([]DayStatus, error) {
	f, t := civil(from), civil(to)
	if t.Before(f) || t.Sub(f) > 400*24*time.Hour {
		return nil, invalid("calendar range %s–%s: want at most 400 days", f.Format(time.DateOnly), t.Format(time.DateOnly))
	}
	cal, err := m.loadCalendar(ctx, m.pool, tenantID, schoolID, f, t)
	if err != nil {
		return nil, err
	}
	var out []DayStatus
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, cal.status(d))
	}
	return out, nil
}

// Years lists the school's years, oldest first.
func (m *Manager) Years(ctx context.Context, tenantID, schoolID int64) ([]SchoolYear, error) {
	rows, _ := m.pool.Query(ctx, `SELECT label, starts_on, ends_on FROM school_years WHERE tenant_id = $1 AND school_id = $2 ORDER BY starts_on`, tenantID, schoolID)
	ys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SchoolYear, error) {
		var y SchoolYear
		err := r.Scan(&y.Label, &y.Start, &y.End)
		return y, err
	})
	if err != nil {
		return nil, fmt.Errorf("list school years: %w", err)
	}
	return ys, nil
}
