package booking

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	schools "tartine/school"
)

// freeMealLevel is the levels of the free-meal programme: M1 to P6.
var freeMealLevel = regexp.MustCompile(`^(M[1-3]|P[1-6])$`)

// The FWB free-meals programme (FEES.md §9): a school of socio-economic
// index classes 1–5 serves free meals from maternel to P6 and claims from
// the FWB 3,70 € per meal served plus 40 € per pupil per year; the claim
// format is unconfirmed [U], so the report keeps what FEES.md asks for:
// per day and per implantation (school) the meals served, and the pupils
// enrolled at the canteen, per class.

// FreeMealRate is what the FWB pays per free meal served (not indexed),
// with its source. Data, shown beside the amount it computes.
var FreeMealRate = struct {
	Amount decimal.Decimal
	Source string
}{decimal.RequireFromString("3.70"), "FEES.md §9 [45][46][47][49]: 3,70 € par repas servi (non indexé)"}

// ClaimRow is the meals served on one day to one class's free-meal pupils.
type ClaimRow struct {
	Day     time.Time
	ClassID int64 // 0 for a pupil without a class (school.Store.Classes names them)
	Level   string
	Meals   int
}

// ClaimClass is a class's pupils enrolled at the canteen in the month: the
// free-meal pupils of the class with at least one meal booked (not
// cancelled) in the month.
type ClaimClass struct {
	ClassID int64
	Pupils  int
	Meals   int
}

// Claim is a school's monthly free-meals claim.
type Claim struct {
	SchoolID    int64
	Month       time.Time // first day
	InProgramme bool      // the school is listed in the programme
	Rows        []ClaimRow
	Classes     []ClaimClass
	Meals       int
	Pupils      int
	Amount      decimal.Decimal // Meals × FreeMealRate
}

// FreeMealClaim returns the claim of the school for the month of month:
// the meals served (consumed bookings, not no-shows) of free-meal pupils
// from M1 to P6 (the programme stops at P6), per day and class, and per
// class the pupils enrolled at the canteen. It returns ErrNotFound for a
// school of another tenant.
func (m *Manager) FreeMealClaim(ctx context.Context, tenantID, schoolID int64, month time.Time) (Claim, error) {
	from := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	cl := Claim{SchoolID: schoolID, Month: from, Amount: decimal.Zero}
	sc, err := schools.ReadSchool(ctx, m.pool, tenantID, schoolID)
	if errors.Is(err, schools.ErrNotFound) {
		return Claim{}, fmt.Errorf("school %d: %w", schoolID, ErrNotFound)
	}
	if err != nil {
		return Claim{}, fmt.Errorf("booking: free-meal claim: %w", err)
	}
	cl.InProgramme = sc.FreeMeals
	// Meals are the services that are not daycare: the free meals booked
	// (not cancelled) per pupil and day, the pupils' class and level read
	// from school.
	type booked struct {
		pupil         int64
		day           time.Time
		meals, served int
	}
	rows, _ := m.pool.Query(ctx, `
		SELECT pupil_id, day, count(*), count(*) FILTER (WHERE status = 'consumed')
		FROM bookings
		WHERE tenant_id = $1 AND school_id = $2 AND day >= $3 AND day < $4 AND free_meal
		  AND service NOT LIKE 'daycare%' AND status <> 'cancelled'
		GROUP BY 1, 2`, tenantID, schoolID, from, to)
	var days []booked
	var bk booked
	if _, err := pgx.ForEachRow(rows, []any{&bk.pupil, &bk.day, &bk.meals, &bk.served}, func() error {
		days = append(days, bk)
		return nil
	}); err != nil {
		return Claim{}, fmt.Errorf("booking: free meals booked: %w", err)
	}
	ids := make([]int64, 0, len(days))
	for _, b := range days {
		ids = append(ids, b.pupil)
	}
	pupils, err := schools.ReadPupils(ctx, m.pool, tenantID, ids)
	if err != nil {
		return Claim{}, fmt.Errorf("booking: free-meal pupils: %w", err)
	}
	// The programme stops at P6.
	type rowKey struct {
		day   time.Time
		class int64
		level string
	}
	served := map[rowKey]int{}
	classes := map[int64]*ClaimClass{}
	counted := map[int64]bool{}
	for _, b := range days {
		p, ok := pupils[b.pupil]
		if !ok || !freeMealLevel.MatchString(p.Level) {
			continue
		}
		if b.served > 0 {
			served[rowKey{b.day, p.ClassID, p.Level}] += b.served
		}
		c := classes[p.ClassID]
		if c == nil {
			c = &ClaimClass{ClassID: p.ClassID}
			classes[p.ClassID] = c
		}
		c.Meals += b.served
		if !counted[b.pupil] {
			counted[b.pupil] = true
			c.Pupils++
		}
	}
	cl.Rows, cl.Classes = []ClaimRow{}, []ClaimClass{}
	for k, n := range served {
		cl.Rows = append(cl.Rows, ClaimRow{Day: k.day, ClassID: k.class, Level: k.level, Meals: n})
	}
	slices.SortFunc(cl.Rows, func(a, b ClaimRow) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.ClassID, b.ClassID), strings.Compare(a.Level, b.Level))
	})
	for _, c := range classes {
		cl.Classes = append(cl.Classes, *c)
	}
	slices.SortFunc(cl.Classes, func(a, b ClaimClass) int { return cmp.Compare(a.ClassID, b.ClassID) })
	for _, r := range cl.Rows {
		cl.Meals += r.Meals
	}
	for _, c := range cl.Classes {
		cl.Pupils += c.Pupils
	}
	cl.Amount = FreeMealRate.Amount.Mul(decimal.NewFromInt(int64(cl.Meals)))
	return cl, nil
}
