package booking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	schools "tartine/school"
)

// Service is what a booking is for: a meal type code ("repas", "potage",
// "sandwich"...) or one of the daycare services.
type Service string

// Daycare services. Meal services are the tenant's meal type codes.
const (
	DaycareMorning Service = "daycare-morning"
	DaycareEvening Service = "daycare-evening"
)

// IsDaycare reports whether s is a daycare service.
func (s Service) IsDaycare() bool { return s == DaycareMorning || s == DaycareEvening }

// MealType is a kind of meal the canteen serves.
type MealType struct {
	Code string // "repas", lower-case, used as the Service
	Name string // "Repas complet"
	// Subsidised: counted for the FWB free-meal programme (free-meal pupils
	// pay 0 € and the meal is charged to subsidy:fwb-meals).
	Subsidised bool
	Position   int // display order
}

// MealTariff is the price of a meal type for a school and level, effective
// from ValidFrom to ValidTo (inclusive; nil: open-ended).
type MealTariff struct {
	ID            int64
	SchoolID      int64
	MealType      string
	Level         string // "*", "M", "P", "S" or an exact level "P3"
	BookedPrice   decimal.Decimal
	UnbookedPrice decimal.Decimal
	ValidFrom     time.Time
	ValidTo       *time.Time
}

var (
	levelRe    = regexp.MustCompile(`^(\*|[MPS]|M[1-3]|P[1-6]|S[1-6])$`)
	mealCodeRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

func validLevel(l string) bool { return levelRe.MatchString(l) }

// civil returns t's date at midnight UTC, the form of a PostgreSQL date.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func cents(d decimal.Decimal) bool { return !d.IsNegative() && d.Equal(d.Round(2)) }

// EnsureMealType creates or updates (name, subsidised, position) a meal type.
// It returns ErrInvalid for a bad code.
func (m *Manager) EnsureMealType(ctx context.Context, tenantID int64, mt MealType) error {
	if !mealCodeRe.MatchString(mt.Code) || Service(mt.Code).IsDaycare() || len(mt.Code) >= 7 && mt.Code[:7] == "daycare" {
		return invalid("meal type code %q: want lower-case letters, digits and dashes, not daycare…", mt.Code)
	}
	if mt.Name == "" {
		return invalid("meal type %q needs a name", mt.Code)
	}
	_, err := m.pool.Exec(ctx, `
		INSERT INTO meal_types (tenant_id, code, name, subsidised, position) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, code) DO UPDATE SET name = EXCLUDED.name, subsidised = EXCLUDED.subsidised, position = EXCLUDED.position`,
		tenantID, mt.Code, mt.Name, mt.Subsidised, mt.Position)
	if err != nil {
		return fmt.Errorf("ensure meal type %s: %w", mt.Code, err)
	}
	return nil
}

// MealTypes lists the tenant's meal types in display order.
func (m *Manager) MealTypes(ctx context.Context, tenantID int64) ([]MealType, error) {
	rows, _ := m.pool.Query(ctx, `SELECT code, name, subsidised, position FROM meal_types WHERE tenant_id = $1 ORDER BY position, code`, tenantID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MealType, error) {
		var mt MealType
		err := r.Scan(&mt.Code, &mt.Name, &mt.Subsidised, &mt.Position)
		return mt, err
	})
	if err != nil {
		return nil, fmt.Errorf("list meal types: %w", err)
	}
	return out, nil
}

func (m *Manager) mealType(ctx context.Context, tenantID int64, code string) (MealType, error) {
	mt := MealType{Code: code}
	err := m.pool.QueryRow(ctx, `SELECT name, subsidised, position FROM meal_types WHERE tenant_id = $1 AND code = $2`, tenantID, code).
		Scan(&mt.Name, &mt.Subsidised, &mt.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return MealType{}, fmt.Errorf("%w: %q", ErrUnknownService, code)
	}
	if err != nil {
		return MealType{}, fmt.Errorf("read meal type %s: %w", code, err)
	}
	return mt, nil
}

// AddMealTariff records a meal tariff and returns its id. A newer tariff
// (later ValidFrom) of the same specificity supersedes an older one from its
// first day. It returns ErrInvalid or ErrUnknownService.
func (m *Manager) AddMealTariff(ctx context.Context, tenantID int64, t MealTariff) (int64, error) {
	switch {
	case !validLevel(t.Level):
		return 0, invalid("level %q: want *, M, P, S or an exact level such as P3", t.Level)
	case !cents(t.BookedPrice) || !cents(t.UnbookedPrice):
		return 0, invalid("meal prices %s/%s: want non-negative amounts in cents", t.BookedPrice, t.UnbookedPrice)
	case t.ValidFrom.IsZero():
		return 0, invalid("meal tariff needs a valid-from date")
	case t.ValidTo != nil && civil(*t.ValidTo).Before(civil(t.ValidFrom)):
		return 0, invalid("meal tariff valid-to before valid-from")
	}
	var to *time.Time
	if t.ValidTo != nil {
		v := civil(*t.ValidTo)
		to = &v
	}
	var id int64
	err := m.pool.QueryRow(ctx, `
		INSERT INTO meal_tariffs (tenant_id, school_id, meal_type, level, booked_price, unbooked_price, valid_from, valid_to)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		tenantID, t.SchoolID, t.MealType, t.Level, t.BookedPrice, t.UnbookedPrice, civil(t.ValidFrom), to).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return 0, fmt.Errorf("%w: meal type %q or school %d", ErrUnknownService, t.MealType, t.SchoolID)
	}
	if err != nil {
		return 0, fmt.Errorf("add meal tariff: %w", err)
	}
	return id, nil
}

// specificity orders level patterns: exact level > cycle > any.
const specificitySQL = `CASE WHEN level = '*' THEN 0 WHEN length(level) = 1 THEN 1 ELSE 2 END`

// MealTariffFor returns the meal tariff effective on day for a pupil of
// level at the school: among the tariffs covering the day whose level
// pattern matches (exact "P3", cycle "P", or "*"), the most specific wins,
// then the latest ValidFrom. It returns ErrNoTariff.
func (m *Manager) MealTariffFor(ctx context.Context, tenantID, schoolID int64, mealType, level string, day time.Time) (MealTariff, error) {
	t := MealTariff{SchoolID: schoolID, MealType: mealType}
	err := m.pool.QueryRow(ctx, `
		SELECT id, level, booked_price, unbooked_price, valid_from, valid_to FROM meal_tariffs
		WHERE tenant_id = $1 AND school_id = $2 AND meal_type = $3
		  AND level IN ('*', left($4, 1), $4)
		  AND valid_from <= $5 AND (valid_to IS NULL OR valid_to >= $5)
		ORDER BY `+specificitySQL+` DESC, valid_from DESC, id DESC LIMIT 1`,
		tenantID, schoolID, mealType, level, civil(day)).
		Scan(&t.ID, &t.Level, &t.BookedPrice, &t.UnbookedPrice, &t.ValidFrom, &t.ValidTo)
	if errors.Is(err, pgx.ErrNoRows) {
		return MealTariff{}, fmt.Errorf("%w: %s for level %s at school %d on %s", ErrNoTariff, mealType, level, schoolID, civil(day).Format(time.DateOnly))
	}
	if err != nil {
		return MealTariff{}, fmt.Errorf("read meal tariff: %w", err)
	}
	return t, nil
}

// AddDaycareTariff records a daycare tariff and returns its id. Zero
// PeriodMinutes, Opens and Closes take the defaults 30, 07:00 and 18:00.
// It returns ErrInvalid.
func (m *Manager) AddDaycareTariff(ctx context.Context, tenantID int64, t DaycareTariff) (int64, error) {
	if t.PeriodMinutes == 0 {
		t.PeriodMinutes = 30
	}
	if t.Opens == 0 && t.Closes == 0 {
		t.Opens, t.Closes = MustClock("07:00"), MustClock("18:00")
	}
	if t.Level == "" {
		t.Level = "*"
	}
	if err := t.Validate(); err != nil {
		return 0, err
	}
	windows, err := json.Marshal(append([]Window{}, t.FreeWindows...))
	if err != nil {
		return 0, fmt.Errorf("encode free windows: %w", err)
	}
	var to *time.Time
	if t.ValidTo != nil {
		v := civil(*t.ValidTo)
		to = &v
	}
	var id int64
	err = m.pool.QueryRow(ctx, `
		INSERT INTO daycare_tariffs (tenant_id, school_id, level, period_minutes, period_price, daily_cap, opens_at, closes_at, free_windows, valid_from, valid_to)
		VALUES ($1, $2, $3, $4, $5, $6, make_time($7, $8, 0), make_time($9, $10, 0), $11, $12, $13) RETURNING id`,
		tenantID, t.SchoolID, t.Level, t.PeriodMinutes, t.PeriodPrice, t.DailyCap,
		int(t.Opens)/60, int(t.Opens)%60, int(t.Closes)/60, int(t.Closes)%60, windows, civil(t.ValidFrom), to).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add daycare tariff: %w", err)
	}
	return id, nil
}

// DaycareTariffFor returns the daycare tariff effective on day for level at
// the school (same precedence as MealTariffFor). It returns ErrNoTariff.
func (m *Manager) DaycareTariffFor(ctx context.Context, tenantID, schoolID int64, level string, day time.Time) (DaycareTariff, error) {
	t := DaycareTariff{SchoolID: schoolID}
	var opensMin, closesMin int
	var windows []byte
	var cap decimal.NullDecimal
	err := m.pool.QueryRow(ctx, `
		SELECT id, level, period_minutes, period_price, daily_cap,
		       (extract(epoch FROM opens_at) / 60)::int, (extract(epoch FROM closes_at) / 60)::int,
		       free_windows, valid_from, valid_to
		FROM daycare_tariffs
		WHERE tenant_id = $1 AND school_id = $2 AND level IN ('*', left($3, 1), $3)
		  AND valid_from <= $4 AND (valid_to IS NULL OR valid_to >= $4)
		ORDER BY `+specificitySQL+` DESC, valid_from DESC, id DESC LIMIT 1`,
		tenantID, schoolID, level, civil(day)).
		Scan(&t.ID, &t.Level, &t.PeriodMinutes, &t.PeriodPrice, &cap, &opensMin, &closesMin, &windows, &t.ValidFrom, &t.ValidTo)
	if errors.Is(err, pgx.ErrNoRows) {
		return DaycareTariff{}, fmt.Errorf("%w: daycare for level %s at school %d on %s", ErrNoTariff, level, schoolID, civil(day).Format(time.DateOnly))
	}
	if err != nil {
		return DaycareTariff{}, fmt.Errorf("read daycare tariff: %w", err)
	}
	t.Opens, t.Closes = Clock(opensMin), Clock(closesMin)
	if cap.Valid {
		c := cap.Decimal
		t.DailyCap = &c
	}
	if err := json.Unmarshal(windows, &t.FreeWindows); err != nil {
		return DaycareTariff{}, fmt.Errorf("daycare tariff %d free windows: %w", t.ID, err)
	}
	return t, nil
}

// MealTariffs lists every meal tariff of the school, past, current and
// future, by meal type, then level pattern (the most general first), then
// latest ValidFrom first. Which one applies on a day is MealTariffFor's
// business.
func (m *Manager) MealTariffs(ctx context.Context, tenantID, schoolID int64) ([]MealTariff, error) {
	rows, _ := m.pool.Query(ctx, `
		SELECT id, school_id, meal_type, level, booked_price, unbooked_price, valid_from, valid_to FROM meal_tariffs
		WHERE tenant_id = $1 AND school_id = $2
		ORDER BY meal_type, `+specificitySQL+`, level, valid_from DESC, id DESC`, tenantID, schoolID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MealTariff, error) {
		var t MealTariff
		err := r.Scan(&t.ID, &t.SchoolID, &t.MealType, &t.Level, &t.BookedPrice, &t.UnbookedPrice, &t.ValidFrom, &t.ValidTo)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list meal tariffs of school %d: %w", schoolID, err)
	}
	return out, nil
}

// DaycareTariffs lists every daycare tariff of the school, past, current
// and future, by level pattern (the most general first), then latest
// ValidFrom first. Which one applies on a day is DaycareTariffFor's
// business.
func (m *Manager) DaycareTariffs(ctx context.Context, tenantID, schoolID int64) ([]DaycareTariff, error) {
	rows, _ := m.pool.Query(ctx, `
		SELECT id, school_id, level, period_minutes, period_price, daily_cap,
		       (extract(epoch FROM opens_at) / 60)::int, (extract(epoch FROM closes_at) / 60)::int,
		       free_windows, valid_from, valid_to
		FROM daycare_tariffs
		WHERE tenant_id = $1 AND school_id = $2
		ORDER BY `+specificitySQL+`, level, valid_from DESC, id DESC`, tenantID, schoolID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DaycareTariff, error) {
		var t DaycareTariff
		var opensMin, closesMin int
		var windows []byte
		var cap decimal.NullDecimal
		if err := r.Scan(&t.ID, &t.SchoolID, &t.Level, &t.PeriodMinutes, &t.PeriodPrice, &cap, &opensMin, &closesMin, &windows, &t.ValidFrom, &t.ValidTo); err != nil {
			return t, err
		}
		t.Opens, t.Closes = Clock(opensMin), Clock(closesMin)
		if cap.Valid {
			c := cap.Decimal
			t.DailyCap = &c
		}
		if err := json.Unmarshal(windows, &t.FreeWindows); err != nil {
			return t, fmt.Errorf("daycare tariff %d free windows: %w", t.ID, err)
		}
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list daycare tariffs of school %d: %w", schoolID, err)
	}
	return out, nil
}

// Why a tariff cannot be ended; a *TariffEndError wraps one of them (and
// ErrInvalid).
var (
	// ErrEndNotFuture: a tariff ends tomorrow at the earliest, so that the
	// meals already served keep their price.
	ErrEndNotFuture = errors.New("booking: a tariff ends tomorrow at the earliest")
	// ErrEndBeforeStart: the first day without the tariff is not after its
	// first day.
	ErrEndBeforeStart = errors.New("booking: a tariff ends after its first day")
	// ErrTariffEnded: the tariff already has a last day.
	ErrTariffEnded = errors.New("booking: tariff already ended")
	// ErrTariffReplaced: a newer tariff of the same service and level
	// pattern replaces it; end that one instead.
	ErrTariffReplaced = errors.New("booking: tariff replaced by a newer one")
)

// TariffEndError says why a tariff cannot be ended and the day that
// explains it: the earliest first day allowed (ErrEndNotFuture), the
// tariff's first day (ErrEndBeforeStart), its last day (ErrTariffEnded),
// or the first day of the tariff that replaces it (ErrTariffReplaced).
// errors.Is matches Reason and ErrInvalid.
type TariffEndError struct {
	Reason error
	Day    time.Time
}

func (e *TariffEndError) Error() string {
	return fmt.Sprintf("%v (%s)", e.Reason, e.Day.Format(time.DateOnly))
}

// Unwrap returns Reason and ErrInvalid.
func (e *TariffEndError) Unwrap() []error { return []error{e.Reason, ErrInvalid} }

// TariffEnd is what ending a tariff did.
type TariffEnd struct {
	ID       int64
	LastDay  time.Time // the tariff's new ValidTo: the day before the end
	Service  string    // the meal type, or "daycare"
	Level    string
	Capped   []int64 // older tariffs of the same service and level ended with it
	Bookings int     // bookings still standing from the end on that no tariff prices any more
}

// EndMealTariff ends the school's meal tariff id from day from on (its
// last day becomes the day before): from then, no tariff of that meal type
// and level pattern applies, and an older tariff it had superseded does not
// come back (it is ended the same day). A less specific level pattern
// ("*" for "P") still applies if one covers the day. Bookings already made
// for later days keep their price; TariffEnd.Bookings counts the ones no
// tariff covers any more.
//
// It returns ErrNotFound (no such tariff at the school), or a
// *TariffEndError: from is not after the school's today (ErrEndNotFuture),
// not after the tariff's first day (ErrEndBeforeStart), the tariff already
// has a last day (ErrTariffEnded), or a newer tariff of the same meal type
// and level pattern replaces it (ErrTariffReplaced).
func (m *Manager) EndMealTariff(ctx context.Context, tenantID, schoolID, id int64, from time.Time) (TariffEnd, error) {
	return m.endTariff(ctx, tenantID, schoolID, id, from, false)
}

// EndDaycareTariff ends the school's daycare tariff id from day from on,
// with the rules and errors of EndMealTariff (same level pattern instead of
// same meal type and level pattern).
func (m *Manager) EndDaycareTariff(ctx context.Context, tenantID, schoolID, id int64, from time.Time) (TariffEnd, error) {
	return m.endTariff(ctx, tenantID, schoolID, id, from, true)
}

func (m *Manager) endTariff(ctx context.Context, tenantID, schoolID, id int64, from time.Time, daycare bool) (TariffEnd, error) {
	s, err := m.school(ctx, tenantID, schoolID)
	if err != nil {
		return TariffEnd{}, err
	}
	from = civil(from)
	tomorrow := civil(m.now().In(s.loc)).AddDate(0, 0, 1)
	// The tariff table and the condition naming the same service: $3 is the
	// meal type (unused for daycare, where it is "daycare").
	table, sameService := "meal_tariffs", "meal_type = $3"
	if daycare {
		table, sameService = "daycare_tariffs", "$3 = 'daycare'"
	}
	out := TariffEnd{ID: id, LastDay: from.AddDate(0, 0, -1)}
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		var validFrom time.Time
		var validTo *time.Time
		q := `SELECT 'daycare', level, valid_from, valid_to FROM daycare_tariffs WHERE tenant_id = $1 AND school_id = $2 AND id = $3 FOR UPDATE`
		if !daycare {
			q = `SELECT meal_type, level, valid_from, valid_to FROM meal_tariffs WHERE tenant_id = $1 AND school_id = $2 AND id = $3 FOR UPDATE`
		}
		err := tx.QueryRow(ctx, q, tenantID, schoolID, id).Scan(&out.Service, &out.Level, &validFrom, &validTo)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: tariff %d at school %d", ErrNotFound, id, schoolID)
		}
		if err != nil {
			return fmt.Errorf("read tariff %d: %w", id, err)
		}
		switch {
		case from.Before(tomorrow):
			return &TariffEndError{Reason: ErrEndNotFuture, Day: tomorrow}
		case validTo != nil:
			return &TariffEndError{Reason: ErrTariffEnded, Day: civil(*validTo)}
		case !from.After(civil(validFrom)):
			return &TariffEndError{Reason: ErrEndBeforeStart, Day: civil(validFrom)}
		}
		// Lock the tariffs of the same service and level, then look for a
		// newer one still running on the end day.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM `+table+` WHERE tenant_id = $1 AND school_id = $2 AND `+sameService+` AND level = $4 FOR UPDATE`,
			tenantID, schoolID, out.Service, out.Level); err != nil {
			return fmt.Errorf("lock tariffs: %w", err)
		}
		var newer time.Time
		err = tx.QueryRow(ctx, `SELECT valid_from FROM `+table+`
			WHERE tenant_id = $1 AND school_id = $2 AND `+sameService+` AND level = $4
			  AND (valid_from > $5 OR (valid_from = $5 AND id > $6)) AND (valid_to IS NULL OR valid_to >= $7)
			ORDER BY valid_from, id LIMIT 1`, tenantID, schoolID, out.Service, out.Level, validFrom, id, from).Scan(&newer)
		switch {
		case err == nil:
			return &TariffEndError{Reason: ErrTariffReplaced, Day: civil(newer)}
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find a newer tariff: %w", err)
		}
		rows, _ := tx.Query(ctx, `UPDATE `+table+` SET valid_to = $5
			WHERE tenant_id = $1 AND school_id = $2 AND `+sameService+` AND level = $4
			  AND valid_from <= $5 AND (valid_to IS NULL OR valid_to > $5)
			RETURNING id`, tenantID, schoolID, out.Service, out.Level, out.LastDay)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("end tariff %d: %w", id, err)
		}
		for _, x := range ids {
			if x != id {
				out.Capped = append(out.Capped, x)
			}
		}
		// Bookings from the end on that no tariff prices any more.
		// out.Service is "daycare" for a daycare tariff.
		args, err := unpricedArgs(ctx, tx, tenantID, schoolID, out.Service, from)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) `+unpricedSQL(out.Service), args...).Scan(&out.Bookings); err != nil {
			return fmt.Errorf("count bookings left without a tariff: %w", err)
		}
		return nil
	})
	if err != nil {
		return TariffEnd{}, err
	}
	return out, nil
}

// unpricedSQL is the FROM and WHERE clauses selecting the school's bookings
// (table b, their pupils' levels p) still booked from a day on that no
// tariff prices any more, for service: a meal type code, or "daycare" for
// both daycare services. Its arguments are unpricedArgs: $1 tenant, $2
// school, $3 serviceArg(service), $4 the first day, $5 and $6 the pupils'
// ids and levels.
func unpricedSQL(service string) string {
	if service == "daycare" {
		return `FROM bookings b JOIN unnest($5::bigint[], $6::text[]) AS p(id, level) ON p.id = b.pupil_id
			WHERE b.tenant_id = $1 AND b.school_id = $2 AND b.status = 'booked' AND b.day >= $4 AND b.service LIKE $3
			  AND NOT EXISTS (SELECT 1 FROM daycare_tariffs t WHERE t.tenant_id = b.tenant_id AND t.school_id = b.school_id
			    AND t.level IN ('*', left(p.level, 1), p.level)
			    AND t.valid_from <= b.day AND (t.valid_to IS NULL OR t.valid_to >= b.day))`
	}
	return `FROM bookings b JOIN unnest($5::bigint[], $6::text[]) AS p(id, level) ON p.id = b.pupil_id
			WHERE b.tenant_id = $1 AND b.school_id = $2 AND b.status = 'booked' AND b.day >= $4 AND b.service = $3
			  AND NOT EXISTS (SELECT 1 FROM meal_tariffs t WHERE t.tenant_id = b.tenant_id AND t.school_id = b.school_id
			    AND t.meal_type = b.service AND t.level IN ('*', left(p.level, 1), p.level)
			    AND t.valid_from <= b.day AND (t.valid_to IS NULL OR t.valid_to >= b.day))`
}

// unpricedArgs returns unpricedSQL's arguments, read in q: the levels of
// the pupils of the school's bookings of service still booked from day
// from on come from school.
func unpricedArgs(ctx context.Context, q querier, tenantID, schoolID int64, service string, from time.Time) ([]any, error) {
	op := "="
	if service == "daycare" {
		op = "LIKE"
	}
	rows, _ := q.Query(ctx, `SELECT DISTINCT pupil_id FROM bookings
		WHERE tenant_id = $1 AND school_id = $2 AND status = 'booked' AND day >= $4 AND service `+op+` $3`,
		tenantID, schoolID, serviceArg(service), from)
	booked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("pupils of the bookings from %s: %w", from.Format(time.DateOnly), err)
	}
	ids, levels := []int64{}, []string{}
	if len(booked) > 0 {
		pupils, err := schools.ReadPupils(ctx, q, tenantID, booked)
		if err != nil {
			return nil, fmt.Errorf("levels of the pupils of the bookings from %s: %w", from.Format(time.DateOnly), err)
		}
		for _, p := range pupils {
			ids, levels = append(ids, p.ID), append(levels, p.Level)
		}
	}
	return []any{tenantID, schoolID, serviceArg(service), from, ids, levels}, nil
}

// serviceArg is unpricedSQL's $3 for service.
func serviceArg(service string) string {
	if service == "daycare" {
		return "daycare-%"
	}
	return service
}
