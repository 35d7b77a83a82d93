package booking

import (
	"testing"
)

func TestTariffLists(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	if _, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "repas", Level: "P",
		BookedPrice: dec("3.90"), UnbookedPrice: dec("4.70"), ValidFrom: d("2027-01-04")}); err != nil {
		t.Fatal(err)
	}
	meals, err := f.m.MealTariffs(f.ctx, f.tenant, f.school)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mt := range meals {
		got = append(got, mt.MealType+" "+mt.Level+" "+mt.BookedPrice.StringFixed(2)+" "+mt.ValidFrom.Format("2006-01-02"))
	}
	want := []string{"potage * 0.60 2026-08-31", "repas M 3.20 2026-08-31", "repas P 3.90 2027-01-04", "repas P 3.70 2026-08-31"}
	if len(got) != len(want) {
		t.Fatalf("MealTariffs = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("MealTariffs[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if other, err := f.m.MealTariffs(f.ctx, f.tenant, f.school+1000); err != nil || len(other) != 0 {
		t.Errorf("another school's tariffs = %v, %v; want none", other, err)
	}

	if none, err := f.m.DaycareTariffs(f.ctx, f.tenant, f.school); err != nil || len(none) != 0 {
		t.Fatalf("DaycareTariffs before any = %v, %v", none, err)
	}
	capAmount := dec("6.00")
	id, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("0.75"), DailyCap: &capAmount,
		FreeWindows: []Window{{From: MustClock("15:30"), To: MustClock("15:45"), Label: "sortie"}}, ValidFrom: d("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, Level: "M", PeriodMinutes: 60, PeriodPrice: dec("1.00"),
		Opens: MustClock("07:30"), Closes: MustClock("17:30"), ValidFrom: d("2026-09-01")})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := f.m.DaycareTariffs(f.ctx, f.tenant, f.school)
	if err != nil || len(dc) != 2 {
		t.Fatalf("DaycareTariffs = %+v, %v; want 2", dc, err)
	}
	if a := dc[0]; a.ID != id || a.Level != "*" || a.PeriodMinutes != 30 || a.Opens != MustClock("07:00") || a.Closes != MustClock("18:00") ||
		a.DailyCap == nil || !a.DailyCap.Equal(capAmount) || len(a.FreeWindows) != 1 || a.FreeWindows[0].Label != "sortie" || a.ValidTo != nil {
		t.Errorf("DaycareTariffs[0] = %+v", a)
	}
	if b := dc[1]; b.ID != id2 || b.Level != "M" || b.PeriodMinutes != 60 || b.DailyCap != nil || len(b.FreeWindows) != 0 ||
		b.Opens != MustClock("07:30") || !b.PeriodPrice.Equal(dec("1.00")) {
		t.Errorf("DaycareTariffs[1] = %+v", b)
	}
}
