package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// FirstRunTariffs are the prices a school starts with (`tartine setup`),
// used only when the school has no tariff of that kind yet.
type FirstRunTariffs struct {
	MealPrice        decimal.Decimal  // booked meal, every level
	NurseryMealPrice *decimal.Decimal // booked meal in maternelle ("M"), when it differs
	UnbookedPrice    decimal.Decimal
	DaycarePrice     decimal.Decimal // per started period
	DaycarePeriod    int             // minutes
	DaycareCap       *decimal.Decimal
	Opens, Closes    Clock
}

// FirstRunReport says what FirstRun made.
type FirstRunReport struct {
	// Year is the school year holding today (from 1 August); its calendar
	// and the next one's were generated (GenerateYear).
	Year int
	// MealTariffs are the meal tariffs created now; none when the school
	// had some (MealTariffsKept of them).
	MealTariffs     []MealTariff
	MealTariffsKept int
	// Daycare is the daycare tariff created now; nil when the school had
	// some (DaycareKept of them).
	Daycare     *DaycareTariff
	DaycareKept int
}

// FirstRun completes a school's first run (safe to run again): the FWB
// calendar of the school year holding today in the school's time zone and
// of the next, the "repas" meal type, and the meal and daycare tariffs from
// 1 August of this school year when the school has none. It returns
// ErrNotFound for an unknown school, ErrInvalid for a bad tariff.
func (m *Manager) FirstRun(ctx context.Context, tenantID, schoolID int64, t FirstRunTariffs) (FirstRunReport, error) {
	var rep FirstRunReport
	s, err := m.school(ctx, tenantID, schoolID)
	if err != nil {
		return rep, err
	}
	rep.Year = SchoolYearOf(m.now().In(s.loc))
	for _, y := range []int{rep.Year, rep.Year + 1} {
		if _, err := m.GenerateYear(ctx, tenantID, schoolID, y); err != nil {
			return rep, fmt.Errorf("calendar %d-%d: %w", y, y+1, err)
		}
	}
	if err := m.EnsureMealType(ctx, tenantID, MealType{Code: "repas", Name: "Repas complet", Subsidised: true}); err != nil {
		return rep, fmt.Errorf("meal type: %w", err)
	}
	from := time.Date(rep.Year, time.August, 1, 0, 0, 0, 0, time.UTC)
	meals, err := m.MealTariffs(ctx, tenantID, schoolID)
	if err != nil {
		return rep, fmt.Errorf("meal tariffs: %w", err)
	}
	rep.MealTariffsKept = len(meals)
	if len(meals) == 0 {
		tariffs := []MealTariff{{Level: "*", BookedPrice: t.MealPrice, UnbookedPrice: t.UnbookedPrice}}
		if t.NurseryMealPrice != nil {
			tariffs = append(tariffs, MealTariff{Level: "M", BookedPrice: *t.NurseryMealPrice, UnbookedPrice: t.UnbookedPrice})
		}
		for _, mt := range tariffs {
			mt.SchoolID, mt.MealType, mt.ValidFrom = schoolID, "repas", from
			if mt.ID, err = m.AddMealTariff(ctx, tenantID, mt); err != nil {
				return rep, fmt.Errorf("meal tariff %s: %w", mt.Level, err)
			}
			rep.MealTariffs = append(rep.MealTariffs, mt)
		}
	}
	care, err := m.DaycareTariffs(ctx, tenantID, schoolID)
	if err != nil {
		return rep, fmt.Errorf("daycare tariffs: %w", err)
	}
	rep.DaycareKept = len(care)
	if len(care) == 0 {
		dt := DaycareTariff{SchoolID: schoolID, Level: "*", PeriodMinutes: t.DaycarePeriod, PeriodPrice: t.DaycarePrice,
			DailyCap: t.DaycareCap, Opens: t.Opens, Closes: t.Closes, ValidFrom: from}
		if dt.ID, err = m.AddDaycareTariff(ctx, tenantID, dt); err != nil {
			return rep, fmt.Errorf("daycare tariff: %w", err)
		}
		rep.Daycare = &dt
	}
	return rep, nil
}
