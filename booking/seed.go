package booking

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	schools "tartine/school"
)

// demoMenus are the dishes the demo cycles through (French school canteen
// fare with its allergens).
var demoMenus = [][]MenuItem{
	{{Course: "potage", Dish: "Potage aux poireaux", Allergens: []string{"celery"}},
		{Course: "plat", Dish: "Vol-au-vent, purée de pommes de terre", Allergens: []string{"gluten", "milk", "eggs"}},
		{Course: "dessert", Dish: "Pomme", Allergens: nil}},
	{{Course: "potage", Dish: "Potage tomate", Allergens: []string{"celery"}},
		{Course: "plat", Dish: "Spaghetti bolognaise", Allergens: []string{"gluten", "celery"}},
		{Course: "dessert", Dish: "Yaourt nature", Allergens: []string{"milk"}}},
	{{Course: "potage", Dish: "Potage potiron", Allergens: []string{"milk"}},
		{Course: "plat", Dish: "Poisson pané, épinards à la crème, pommes nature", Allergens: []string{"fish", "gluten", "milk"}},
		{Course: "dessert", Dish: "Mousse au chocolat", Allergens: []string{"eggs", "milk", "soy"}}},
	{{Course: "potage", Dish: "Potage cerfeuil", Allergens: []string{"celery"}},
		{Course: "plat", Dish: "Boulettes sauce tomate, frites", Allergens: []string{"gluten", "eggs", "mustard"}},
		{Course: "dessert", Dish: "Compote", Allergens: nil}},
	{{Course: "potage", Dish: "Potage carottes", Allergens: []string{"celery"}},
		{Course: "plat", Dish: "Stoemp aux carottes, saucisse", Allergens: []string{"milk", "mustard", "sulphites"}},
		{Course: "dessert", Dish: "Gaufre de Liège", Allergens: []string{"gluten", "eggs", "milk"}}},
	{{Course: "potage", Dish: "Potage cresson", Allergens: []string{"celery", "milk"}},
		{Course: "plat", Dish: "Waterzooi de poulet", Allergens: []string{"celery", "milk", "eggs"}},
		{Course: "dessert", Dish: "Banane", Allergens: nil}},
	{{Course: "potage", Dish: "Potage lentilles", Allergens: []string{"celery"}},
		{Course: "plat", Dish: "Chili sin carne, riz (végétarien)", Allergens: []string{"soy"}},
		{Course: "dessert", Dish: "Riz au lait", Allergens: []string{"milk"}}},
}

// SeedDemo fills the demo tenant's schools (idempotently): meal types
// "repas" (repas complet: 3,70 € P, 3,20 € M, 4,50 € unbooked) and "potage"
// (0,60 €), the daycare tariff (0,75 € per started 30 min, free 15:30–15:45,
// cap 6,00 €, 07:00–18:00), the FWB calendar of the current school year and
// the next one (so that a demo started in July already shows September),
// menus for the next three weeks, and a few meal bookings for
// the coming days for up to four pupils (Emma first, when she exists).
// Schools or pupils that do not exist yet are skipped; bookings that the
// calendar, cut-off or wallet refuse are skipped too.
// now is the clock: the demo's "today".
func SeedDemo(ctx context.Context, pool *pgxpool.Pool, led *ledger.Ledger, tenantID int64, now func() time.Time) error {
	m := New(pool, led, now)
	for _, mt := range []MealType{{Code: "repas", Name: "Repas complet", Subsidised: true}, {Code: "potage", Name: "Potage", Position: 1}} {
		if err := m.EnsureMealType(ctx, tenantID, mt); err != nil {
			return err
		}
	}
	ids, err := schools.SchoolIDs(ctx, pool, tenantID)
	if err != nil {
		return fmt.Errorf("list demo schools: %w", err)
	}
	for _, s := range ids {
		if err := seedSchool(ctx, m, tenantID, s); err != nil {
			return fmt.Errorf("demo school %d: %w", s, err)
		}
	}
	return nil
}

func seedSchool(ctx context.Context, m *Manager, tenantID, schoolID int64) error {
	now := m.now()
	y := SchoolYearOf(now)
	from := date(y, time.August, 1)
	for _, sy := range []int{y, y + 1} {
		if _, err := m.GenerateYear(ctx, tenantID, schoolID, sy); err != nil {
			return err
		}
	}
	meals, err := m.MealTariffs(ctx, tenantID, schoolID)
	if err != nil {
		return err
	}
	if len(meals) == 0 {
		for _, t := range []MealTariff{
			{MealType: "repas", Level: "P", BookedPrice: decimal.RequireFromString("3.70"), UnbookedPrice: decimal.RequireFromString("4.50")},
			{MealType: "repas", Level: "M", BookedPrice: decimal.RequireFromString("3.20"), UnbookedPrice: decimal.RequireFromString("4.50")},
			{MealType: "potage", Level: "*", BookedPrice: decimal.RequireFromString("0.60"), UnbookedPrice: decimal.RequireFromString("0.60")},
		} {
			t.SchoolID, t.ValidFrom = schoolID, from
			if _, err := m.AddMealTariff(ctx, tenantID, t); err != nil {
				return err
			}
		}
	}
	care, err := m.DaycareTariffs(ctx, tenantID, schoolID)
	if err != nil {
		return err
	}
	if len(care) == 0 {
		capAmount := decimal.RequireFromString("6.00")
		if _, err := m.AddDaycareTariff(ctx, tenantID, DaycareTariff{SchoolID: schoolID, Level: "*", PeriodMinutes: 30,
			PeriodPrice: decimal.RequireFromString("0.75"), DailyCap: &capAmount, Opens: MustClock("07:00"), Closes: MustClock("18:00"),
			FreeWindows: []Window{{From: MustClock("15:30"), To: MustClock("15:45"), Label: "sortie des classes"}}, ValidFrom: from}); err != nil {
			return err
		}
	}
	today := civil(now)
	for i := 0; i < 21; i++ {
		day := today.AddDate(0, 0, i)
		if weekend(day) {
			continue
		}
		menu := demoMenus[(day.YearDay())%len(demoMenus)]
		if err := m.SetMenu(ctx, tenantID, schoolID, day, "repas", menu); err != nil {
			return err
		}
		if err := m.SetMenu(ctx, tenantID, schoolID, day, "potage", menu[:1]); err != nil {
			return err
		}
	}
	active, err := schools.PupilsOfSchoolIn(ctx, m.pool, tenantID, schoolID, false)
	if err != nil {
		return fmt.Errorf("list demo pupils: %w", err)
	}
	// Emma first, then by id: four of them.
	slices.SortFunc(active, func(a, b schools.Pupil) int {
		if ea, eb := a.FirstName == "Emma", b.FirstName == "Emma"; ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var pupils []int64
	for _, p := range active[:min(4, len(active))] {
		pupils = append(pupils, p.ID)
	}
	for _, p := range pupils {
		booked := 0
		for i := 1; i < 21 && booked < 4; i++ {
			_, err := m.Book(ctx, BookRequest{TenantID: tenantID, PupilID: p, Day: today.AddDate(0, 0, i), Service: "repas", Actor: "system:demo"})
			switch {
			case err == nil:
				booked++
			case errors.Is(err, ErrInsufficientFunds), errors.Is(err, ErrNoWallet), errors.Is(err, ErrNoTariff):
				i = 21 // this pupil cannot book: next pupil
			case errors.Is(err, ErrClosedDay), errors.Is(err, ErrCutoffPassed), errors.Is(err, ErrInactivePupil), errors.Is(err, ErrPupilLeaving):
			default:
				return err
			}
		}
	}
	return nil
}
