package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

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
	err := m.pool.QueryRow(ctx, `SELECT free_meals FROM schools WHERE tenant_id = $1 AND id = $2`, tenantID, schoolID).Scan(&cl.InProgramme)
	if err == pgx.ErrNoRows {
		return Claim{}, fmt.Errorf("school %d: %w", schoolID, ErrNotFound)
	}
	if err != nil {
		return Claim{}, fmt.Errorf("booking: free-meal claim: %w", err)
	}
	// Meals are the services that are not daycare.
	const meals = `b.tenant_id = $1 AND b.school_id = $2 AND b.day >= $3 AND b.day < $4 AND b.free_meal
		AND b.service NOT LIKE 'daycare%' AND p.level ~ '^(M[1-3]|P[1-6])$'`
	rows, err := m.pool.Query(ctx, `
		SELECT b.day, coalesce(p.class_id, 0), p.level, count(*)
		FROM bookings b JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id
		WHERE `+meals+` AND b.status = 'consumed'
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, tenantID, schoolID, from, to)
	if err != nil {
		return Claim{}, fmt.Errorf("booking: free meals served: %w", err)
	}
	cl.Rows, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ClaimRow])
	if err != nil {
		return Claim{}, fmt.Errorf("booking: free meals served: %w", err)
	}
	rows, err = m.pool.Query(ctx, `
		SELECT coalesce(p.class_id, 0), count(DISTINCT b.pupil_id), count(*) FILTER (WHERE b.status = 'consumed')
		FROM bookings b JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id
		WHERE `+meals+` AND b.status <> 'cancelled'
		GROUP BY 1 ORDER BY 1`, tenantID, schoolID, from, to)
	if err != nil {
		return Claim{}, fmt.Errorf("booking: pupils enrolled at the canteen: %w", err)
	}
	cl.Classes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ClaimClass])
	if err != nil {
		return Claim{}, fmt.Errorf("booking: pupils enrolled at the canteen: %w", err)
	}
	for _, r := range cl.Rows {
		cl.Meals += r.Meals
	}
	for _, c := range cl.Classes {
		cl.Pupils += c.Pupils
	}
	cl.Amount = FreeMealRate.Amount.Mul(decimal.NewFromInt(int64(cl.Meals)))
	return cl, nil
}
