package booking

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// endErr checks that err is a *TariffEndError for reason and day.
func endErr(t *testing.T, what string, err, reason error, day string) {
	t.Helper()
	var te *TariffEndError
	if !errors.As(err, &te) || !errors.Is(err, reason) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%s: error %v, want a TariffEndError %v", what, err, reason)
		return
	}
	if got := te.Day.Format(time.DateOnly); got != day {
		t.Errorf("%s: day %s, want %s", what, got, day)
	}
}

func TestEndMealTariff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // today: Monday 2026-11-02
	ana := f.pupil(t, "ana", "P3", "0", "50.00", false)
	for _, b := range []struct {
		day string
		svc Service
	}{{"2026-11-10", "potage"}, {"2027-01-05", "potage"}, {"2027-01-05", "repas"}} {
		if _, err := f.book(ana, b.day, b.svc); err != nil {
			t.Fatalf("book %s %s: %v", b.svc, b.day, err)
		}
	}
	add := func(level, price, from string) int64 {
		t.Helper()
		id, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "repas", Level: level,
			BookedPrice: dec(price), UnbookedPrice: dec(price), ValidFrom: d(from)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	price := func(level, day string) string {
		t.Helper()
		mt, err := f.m.MealTariffFor(f.ctx, f.tenant, f.school, "repas", level, d(day))
		if errors.Is(err, ErrNoTariff) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		return mt.BookedPrice.StringFixed(2)
	}
	meals, err := f.m.MealTariffs(f.ctx, f.tenant, f.school)
	if err != nil {
		t.Fatal(err)
	}
	var oldP, potage int64
	for _, mt := range meals {
		switch {
		case mt.MealType == "repas" && mt.Level == "P":
			oldP = mt.ID
		case mt.MealType == "potage":
			potage = mt.ID
		}
	}
	newP := add("P", "3.90", "2026-09-15")    // supersedes oldP (3.70)
	futureP := add("P", "4.10", "2027-02-01") // will supersede newP

	// Refusals: nothing changes.
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, newP, d("2026-11-02"))
	endErr(t, "end from today", err, ErrEndNotFuture, "2026-11-03")
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, newP, d("2026-10-01"))
	endErr(t, "backdated end", err, ErrEndNotFuture, "2026-11-03")
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, newP, d("2027-01-04"))
	endErr(t, "end a tariff a future one replaces", err, ErrTariffReplaced, "2027-02-01")
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, oldP, d("2027-01-04"))
	endErr(t, "end a superseded tariff", err, ErrTariffReplaced, "2026-09-15")
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, futureP, d("2027-02-01"))
	endErr(t, "end on the first day", err, ErrEndBeforeStart, "2027-02-01")
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, futureP, d("2027-01-10"))
	endErr(t, "end before the first day", err, ErrEndBeforeStart, "2027-02-01")
	if _, err := f.m.EndMealTariff(f.ctx, f.tenant, f.school, 999999, d("2027-03-01")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tariff: %v, want ErrNotFound", err)
	}
	if _, err := f.m.EndMealTariff(f.ctx, f.tenant, f.school+1000, futureP, d("2027-03-01")); !errors.Is(err, ErrNotFound) {
		t.Errorf("another school's tariff: %v, want ErrNotFound", err)
	}
	if got := price("P3", "2027-06-01"); got != "4.10" {
		t.Fatalf("after refusals, P3 pays %s in June, want 4.10", got)
	}

	// Ending the newest tariff from 1 March: the older ones it superseded
	// do not come back.
	end, err := f.m.EndMealTariff(f.ctx, f.tenant, f.school, futureP, d("2027-03-01"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(end.Capped)
	if end.ID != futureP || end.LastDay.Format(time.DateOnly) != "2027-02-28" || end.Service != "repas" || end.Level != "P" ||
		!slices.Equal(end.Capped, []int64{oldP, newP}) || end.Bookings != 0 {
		t.Errorf("EndMealTariff = %+v", end)
	}
	for day, want := range map[string]string{"2026-11-02": "3.90", "2027-01-05": "3.90", "2027-02-28": "4.10", "2027-03-01": "none", "2027-06-30": "none"} {
		if got := price("P3", day); got != want {
			t.Errorf("P3 on %s pays %s, want %s", day, got, want)
		}
	}
	if got := price("M1", "2027-03-01"); got != "3.20" {
		t.Errorf("M1 on 2027-03-01 pays %s, want 3.20 (another level)", got)
	}
	if _, err := f.book(ana, "2027-03-02", "repas"); !errors.Is(err, ErrNoTariff) {
		t.Errorf("booking a meal after the end: %v, want ErrNoTariff", err)
	}
	if b, err := f.book(ana, "2027-02-02", "repas"); err != nil || !b.Price.Equal(dec("4.10")) {
		t.Errorf("booking the first week of the 4.10 tariff: %+v, %v", b, err)
	}
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, futureP, d("2027-04-01"))
	endErr(t, "end twice", err, ErrTariffEnded, "2027-02-28")
	_, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, newP, d("2027-01-04"))
	endErr(t, "end a tariff ended with a newer one", err, ErrTariffEnded, "2027-02-28")

	// A less specific level pattern still prices the level.
	add("*", "5.00", "2026-09-01")
	if got := price("P3", "2027-03-01"); got != "5.00" {
		t.Errorf("P3 on 2027-03-01 pays %s, want the every-level 5.00", got)
	}

	// Soup stops from 4 January: a booking already made stays, and is
	// counted; new bookings are refused.
	end, err = f.m.EndMealTariff(f.ctx, f.tenant, f.school, potage, d("2027-01-04"))
	if err != nil {
		t.Fatal(err)
	}
	if end.Bookings != 1 || len(end.Capped) != 0 || end.Service != "potage" || end.Level != "*" {
		t.Errorf("EndMealTariff(potage) = %+v, want 1 booking left without a tariff", end)
	}
	if _, err := f.book(ana, "2027-01-06", "potage"); !errors.Is(err, ErrNoTariff) {
		t.Errorf("booking soup after the end: %v, want ErrNoTariff", err)
	}
	if _, err := f.book(ana, "2026-11-12", "potage"); err != nil {
		t.Errorf("booking soup before the end: %v", err)
	}
	if got := MessageKey(ErrNoTariff); got != "booking.error.no_tariff" {
		t.Errorf("MessageKey(ErrNoTariff) = %q", got)
	}
}

func TestEndDaycareTariff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // today: Monday 2026-11-02
	ana := f.pupil(t, "ana", "P3", "0", "50.00", false)
	all, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("0.75"), ValidFrom: d("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, Level: "M", PeriodPrice: dec("0.50"), ValidFrom: d("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.book(ana, "2027-01-05", DaycareMorning); err != nil {
		t.Fatal(err)
	}
	_, err = f.m.EndDaycareTariff(f.ctx, f.tenant, f.school, all, d("2026-11-01"))
	endErr(t, "backdated end", err, ErrEndNotFuture, "2026-11-03")

	end, err := f.m.EndDaycareTariff(f.ctx, f.tenant, f.school, all, d("2027-01-04"))
	if err != nil {
		t.Fatal(err)
	}
	if end.Service != "daycare" || end.Level != "*" || end.LastDay.Format(time.DateOnly) != "2027-01-03" || end.Bookings != 1 {
		t.Errorf("EndDaycareTariff = %+v", end)
	}
	if _, err := f.m.DaycareTariffFor(f.ctx, f.tenant, f.school, "P3", d("2027-01-04")); !errors.Is(err, ErrNoTariff) {
		t.Errorf("P3 daycare after the end: %v, want ErrNoTariff", err)
	}
	if got, err := f.m.DaycareTariffFor(f.ctx, f.tenant, f.school, "P3", d("2027-01-03")); err != nil || got.ID != all {
		t.Errorf("P3 daycare on the last day: %+v, %v", got, err)
	}
	if got, err := f.m.DaycareTariffFor(f.ctx, f.tenant, f.school, "M2", d("2027-01-04")); err != nil || got.ID != m {
		t.Errorf("M2 daycare after the end of *: %+v, %v; want the M tariff", got, err)
	}
	_, err = f.m.EndDaycareTariff(f.ctx, f.tenant, f.school, all, d("2027-02-01"))
	endErr(t, "end twice", err, ErrTariffEnded, "2027-01-03")
	if _, err := f.m.EndMealTariff(f.ctx, f.tenant, f.school+1000, m, d("2027-02-01")); !errors.Is(err, ErrNotFound) {
		t.Errorf("another school: %v, want ErrNotFound", err)
	}
}
