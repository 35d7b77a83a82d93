package booking

import (
	"testing"
	"time"
)

// TestFirstRun: a new school gets the calendar of the school year holding
// today (the injected clock: November 2026) and of the next, and its meal
// and daycare tariffs from 1 August; run again it keeps what exists.
func TestFirstRun(t *testing.T) {
	f := newFixture(t, "{}")
	var sid int64
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO schools (tenant_id, code, name) VALUES ($1, 'neuve', 'École neuve') RETURNING id`, f.tenant).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	nursery, dayCap := dec("3.00"), dec("6.00")
	opens, closes := Clock(7*60), Clock(18*60)
	tariffs := FirstRunTariffs{MealPrice: dec("3.50"), NurseryMealPrice: &nursery, UnbookedPrice: dec("4.50"), DaycarePrice: dec("0.75"),
		DaycarePeriod: 30, DaycareCap: &dayCap, Opens: opens, Closes: closes}
	rep, err := f.m.FirstRun(f.ctx, f.tenant, sid, tariffs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Year != 2026 || len(rep.MealTariffs) != 2 || rep.Daycare == nil || rep.MealTariffsKept != 0 {
		t.Fatalf("first run = %+v", rep)
	}
	for _, y := range []int{2026, 2027} {
		day := time.Date(y, time.October, 5, 0, 0, 0, 0, f.loc)
		for day.Weekday() != time.Monday {
			day = day.AddDate(0, 0, 1)
		}
		if open, why, err := f.m.IsOpen(f.ctx, f.tenant, sid, day); err != nil || !open {
			t.Errorf("%s open: %v (%s), %v", day.Format(time.DateOnly), open, why, err)
		}
		for level, want := range map[string]string{"P3": "3.5", "M2": "3"} {
			tr, err := f.m.MealTariffFor(f.ctx, f.tenant, sid, "repas", level, day)
			if err != nil || !tr.BookedPrice.Equal(dec(want)) || !tr.UnbookedPrice.Equal(dec("4.5")) {
				t.Errorf("meal tariff %s on %s: %+v, %v; want %s booked", level, day.Format(time.DateOnly), tr, err, want)
			}
		}
		if _, err := f.m.DaycareTariffFor(f.ctx, f.tenant, sid, "P3", day); err != nil {
			t.Errorf("daycare tariff on %s: %v", day.Format(time.DateOnly), err)
		}
	}
	if open, _, err := f.m.IsOpen(f.ctx, f.tenant, sid, time.Date(2028, time.October, 4, 0, 0, 0, 0, f.loc)); err == nil && open {
		t.Error("a day of 2028-2029 is open, but the first run creates only 2026-2027 and 2027-2028")
	}
	tariffs.MealPrice = dec("9.99")
	again, err := f.m.FirstRun(f.ctx, f.tenant, sid, tariffs)
	if err != nil || len(again.MealTariffs) != 0 || again.Daycare != nil || again.MealTariffsKept != 2 || again.DaycareKept != 1 {
		t.Errorf("second run = %+v, %v; want everything kept", again, err)
	}
	if _, err := f.m.FirstRun(f.ctx, f.tenant, sid+1000, tariffs); err == nil {
		t.Error("first run of an unknown school: no error")
	}
}
