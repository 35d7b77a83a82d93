package statements

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Period is one statement period of a school year.
type Period struct {
	TenantID   int64
	ID         int64
	SchoolYear string    // "2026-27"
	Seq        int       // 1, 2, … in the year
	From, To   time.Time // civil dates (UTC midnight), both inclusive
	DueDays    int       // days after issue to pay
}

// Label is "2026-27 / 2".
func (p Period) Label() string { return fmt.Sprintf("%s / %d", p.SchoolYear, p.Seq) }

// PeriodInput is one period as the organising body sets it.
type PeriodInput struct {
	From, To time.Time // civil dates, both inclusive
	DueDays  int       // default 30
}

var yearRE = regexp.MustCompile(`^(\d{4})-(\d{2})$`)

// ParseSchoolYear checks "2026-27" and returns its first calendar year.
func ParseSchoolYear(y string) (int, error) {
	m := yearRE.FindStringSubmatch(y)
	if m == nil {
		return 0, invalid("school year %q: write it as 2026-27", y)
	}
	first, _ := strconv.Atoi(m[1])
	second, _ := strconv.Atoi(m[2])
	if (first+1)%100 != second {
		return 0, invalid("school year %q: the second year must follow the first", y)
	}
	return first, nil
}

// SchoolYearOf returns the school year a civil date falls in (from
// 1 August).
func SchoolYearOf(d time.Time) string {
	y := d.Year()
	if d.Month() < time.August {
		y--
	}
	return fmt.Sprintf("%d-%02d", y, (y+1)%100)
}

// YearStart is the first school day of the FWB calendar since 2022-23:
// the last Monday of August of the year's first calendar year. Periods
// must be set before it.
func YearStart(first int) time.Time {
	d := time.Date(first, time.August, 31, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Monday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// MonthsOK reports whether from..to (inclusive) covers at least one and at
// most four months: to+1 day is on or after from+1 month and on or before
// from+4 months (1 Sep–30 Sep is one month; 1 Sep–31 Dec is four).
func MonthsOK(from, to time.Time) bool {
	end := to.AddDate(0, 0, 1)
	return !end.Before(from.AddDate(0, 1, 0)) && !end.After(from.AddDate(0, 4, 0))
}

// SetPeriods replaces the periods of a school year, in order, audited. It
// refuses with a *RuleError RulePeriodLength a period shorter than one
// month or longer than four, and RulePeriodAnnounced once the school year
// has started (now on or after YearStart) or a statement of the year was
// issued. It returns ErrInvalid for overlapping periods or dates outside
// the school year (1 August to 31 July).
func (s *Service) SetPeriods(ctx context.Context, tenantID int64, year string, in []PeriodInput, actor string) ([]Period, error) {
	first, err := ParseSchoolYear(year)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, invalid("school year %s: give at least one period", year)
	}
	now := s.now()
	if start := YearStart(first); !civil(now.In(brussels())).Before(start) {
		return nil, refused(RulePeriodAnnounced, "the periods of %s must be set before the year starts (%s)", year, start.Format("2006-01-02"))
	}
	ps := append([]PeriodInput(nil), in...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].From.Before(ps[j].From) })
	lo := time.Date(first, time.August, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(first+1, time.July, 31, 0, 0, 0, 0, time.UTC)
	for i := range ps {
		p := &ps[i]
		p.From, p.To = civil(p.From), civil(p.To)
		if p.DueDays == 0 {
			p.DueDays = 30
		}
		if p.DueDays < 1 || p.DueDays > 120 {
			return nil, invalid("period %d: due days %d not in 1..120", i+1, p.DueDays)
		}
		if p.To.Before(p.From) {
			return nil, invalid("period %d ends (%s) before it starts (%s)", i+1, p.To.Format("2006-01-02"), p.From.Format("2006-01-02"))
		}
		if p.From.Before(lo) || p.To.After(hi) {
			return nil, invalid("period %d (%s–%s) is outside the school year %s", i+1, p.From.Format("2006-01-02"), p.To.Format("2006-01-02"), year)
		}
		if !MonthsOK(p.From, p.To) {
			return nil, refused(RulePeriodLength, "period %d (%s–%s) covers less than 1 or more than 4 months", i+1, p.From.Format("2006-01-02"), p.To.Format("2006-01-02"))
		}
		if i > 0 && !ps[i-1].To.Before(p.From) {
			return nil, invalid("periods %d and %d overlap", i, i+1)
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var issued bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM statements st JOIN statement_periods p ON p.tenant_id = st.tenant_id AND p.id = st.period_id
			WHERE st.tenant_id = $1 AND p.school_year = $2)`, tenantID, year).Scan(&issued); err != nil {
			return err
		}
		if issued {
			return refused(RulePeriodAnnounced, "statements of %s were issued: its periods can no longer change", year)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM statement_periods WHERE tenant_id = $1 AND school_year = $2`, tenantID, year); err != nil {
			return err
		}
		for i, p := range ps {
			if _, err := tx.Exec(ctx, `INSERT INTO statement_periods (tenant_id, school_year, seq, starts_on, ends_on, due_days, created_by, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, tenantID, year, i+1, p.From, p.To, p.DueDays, actor, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if _, ok := err.(*RuleError); ok {
			return nil, err
		}
		return nil, mapErr(err, "set periods of "+year)
	}
	detail := map[string]any{"school_year": year, "periods": len(ps)}
	if err := s.school.Audit(ctx, tenantID, actor, "statements.periods.set", year, detail); err != nil {
		return nil, err
	}
	return s.Periods(ctx, tenantID, year)
}

const periodCols = `tenant_id, id, school_year, seq, starts_on, ends_on, due_days`

func scanPeriod(row pgx.Row) (Period, error) {
	var p Period
	err := row.Scan(&p.TenantID, &p.ID, &p.SchoolYear, &p.Seq, &p.From, &p.To, &p.DueDays)
	return p, err
}

// Periods returns the periods of a school year in order ("" for every
// year, latest first).
func (s *Service) Periods(ctx context.Context, tenantID int64, year string) ([]Period, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+periodCols+` FROM statement_periods
		WHERE tenant_id = $1 AND ($2 = '' OR school_year = $2) ORDER BY school_year DESC, seq`, tenantID, year)
	if err != nil {
		return nil, fmt.Errorf("periods: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Period, error) { return scanPeriod(r) })
	if err != nil {
		return nil, fmt.Errorf("periods: %w", err)
	}
	return ps, nil
}

// Period returns one period, or ErrNotFound.
func (s *Service) Period(ctx context.Context, tenantID, id int64) (Period, error) {
	p, err := scanPeriod(s.pool.QueryRow(ctx, `SELECT `+periodCols+` FROM statement_periods WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return p, mapErr(err, fmt.Sprint("period ", id))
}

// PeriodByLabel finds a period by "2026-27/2" (spaces allowed), or
// ErrNotFound.
func (s *Service) PeriodByLabel(ctx context.Context, tenantID int64, label string) (Period, error) {
	m := regexp.MustCompile(`^\s*(\d{4}-\d{2})\s*/\s*(\d{1,2})\s*$`).FindStringSubmatch(label)
	if m == nil {
		return Period{}, invalid("period %q: write it as 2026-27/2", label)
	}
	seq, _ := strconv.Atoi(m[2])
	p, err := scanPeriod(s.pool.QueryRow(ctx, `SELECT `+periodCols+` FROM statement_periods WHERE tenant_id = $1 AND school_year = $2 AND seq = $3`, tenantID, m[1], seq))
	return p, mapErr(err, "period "+label)
}

// previous returns the period before p in its year (ok false for the first).
func (s *Service) previous(ctx context.Context, p Period) (Period, bool, error) {
	q, err := scanPeriod(s.pool.QueryRow(ctx, `SELECT `+periodCols+` FROM statement_periods
		WHERE tenant_id = $1 AND starts_on < $2 ORDER BY starts_on DESC LIMIT 1`, p.TenantID, p.From))
	if err == pgx.ErrNoRows {
		return Period{}, false, nil
	}
	if err != nil {
		return Period{}, false, fmt.Errorf("previous period: %w", err)
	}
	return q, true, nil
}
