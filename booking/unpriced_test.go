package booking

import (
	"errors"
	"testing"
	"time"

	"tartine/ledger"
)

// TestCancelUnpriced stops soup and a daycare tariff, then cancels the
// bookings no tariff prices any more: their holds are voided once, the
// bookings another tariff still prices are untouched, and a second run
// cancels nothing.
func TestCancelUnpriced(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // today: Monday 2026-11-02 12:00
	ana := f.pupil(t, "ana", "P3", "0", "50.00", false)
	ben := f.pupil(t, "ben", "M1", "0", "50.00", false)
	// Soup for the nursery has its own tariff: it stays when "*" ends.
	if _, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "potage", Level: "M",
		BookedPrice: dec("0.50"), UnbookedPrice: dec("0.70"), ValidFrom: d("2026-08-31")}); err != nil {
		t.Fatal(err)
	}
	// A wider pattern prices the meal of every level.
	if _, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "repas", Level: "*",
		BookedPrice: dec("5.00"), UnbookedPrice: dec("5.00"), ValidFrom: d("2026-08-31")}); err != nil {
		t.Fatal(err)
	}
	careAll, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("0.75"), ValidFrom: d("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, Level: "M", PeriodPrice: dec("0.50"), ValidFrom: d("2026-08-31")}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, b := range []struct {
		name  string
		pupil int64
		day   string
		svc   Service
	}{
		{"ana soup thu", ana, "2026-11-05", "potage"},       // before the end: stays
		{"ana soup fri", ana, "2026-11-06", "potage"},       // after the end, past its cut-off when ended
		{"ana soup jan", ana, "2027-01-05", "potage"},       // after the end
		{"ben soup jan", ben, "2027-01-05", "potage"},       // priced by the M tariff: stays
		{"ana meal jan", ana, "2027-01-05", "repas"},        // another service: stays
		{"ana care jan", ana, "2027-01-05", DaycareMorning}, // the * daycare ends
		{"ben care jan", ben, "2027-01-05", DaycareEvening}, // priced by the M daycare: stays
	} {
		bk, err := f.book(b.pupil, b.day, b.svc)
		if err != nil {
			t.Fatalf("book %s: %v", b.name, err)
		}
		ids[b.name] = bk.ID
	}
	wantAvail(t, f, ana, "44.50") // 50 − 3 × 0.60 − 3.70
	wantAvail(t, f, ben, "49.50")

	// Thursday 10:00: Friday's cut-off is over. The school stops soup
	// (every level) from Friday.
	f.clock.set(time.Date(2026, 11, 5, 10, 0, 0, 0, f.loc))
	if _, err := f.m.Cancel(f.ctx, f.tenant, ids["ana soup fri"], "guardian:1"); !errors.Is(err, ErrCutoffPassed) {
		t.Fatalf("the family cancelling Friday's soup: %v, want ErrCutoffPassed", err)
	}
	var soupAll int64
	meals, err := f.m.MealTariffs(f.ctx, f.tenant, f.school)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range meals {
		if mt.MealType == "potage" && mt.Level == "*" {
			soupAll = mt.ID
		}
	}
	end, err := f.m.EndMealTariff(f.ctx, f.tenant, f.school, soupAll, d("2026-11-06"))
	if err != nil {
		t.Fatal(err)
	}
	if end.Bookings != 2 {
		t.Fatalf("EndMealTariff counts %d bookings, want 2", end.Bookings)
	}
	// Nothing to cancel for the meal: the * tariff prices it.
	if got, err := f.m.CancelUnpriced(f.ctx, f.tenant, f.school, "repas", d("2026-11-06"), "staff:7"); err != nil || len(got) != 0 {
		t.Fatalf("CancelUnpriced(repas) = %+v, %v; want nothing", got, err)
	}

	got, err := f.m.CancelUnpriced(f.ctx, f.tenant, f.school, end.Service, d("2026-11-06"), "staff:7")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id  int64
		day string
	}{{ids["ana soup fri"], "2026-11-06"}, {ids["ana soup jan"], "2027-01-05"}}
	if len(got) != len(want) {
		t.Fatalf("CancelUnpriced cancelled %d bookings, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		c := got[i]
		if c.Booking.ID != w.id || c.Booking.PupilID != ana || c.Booking.Day.Format(time.DateOnly) != w.day || c.Booking.Service != "potage" ||
			!c.Released.Equal(dec("0.60")) || c.Booking.Status != StatusCancelled || c.Booking.CancelledBy != "staff:7" {
			t.Errorf("cancellation %d = %+v, released %s; want booking %d of %s, 0.60 released, by staff:7", i, c.Booking, c.Released, w.id, w.day)
		}
		b, err := f.m.Get(f.ctx, f.tenant, w.id)
		if err != nil || b.Status != StatusCancelled || b.CancelledBy != "staff:7" || b.CancelledAt == nil {
			t.Errorf("stored booking %d = %+v, %v; want cancelled by staff:7", w.id, b, err)
		}
		if h, err := f.led.GetHold(f.ctx, f.tenant, *b.HoldID); err != nil || h.Status != ledger.HoldVoided {
			t.Errorf("hold of booking %d = %+v, %v; want voided", w.id, h, err)
		}
	}
	wantAvail(t, f, ana, "45.70")
	wantAvail(t, f, ben, "49.50")
	for _, name := range []string{"ana soup thu", "ben soup jan", "ana meal jan", "ana care jan", "ben care jan"} {
		if b, err := f.m.Get(f.ctx, f.tenant, ids[name]); err != nil || b.Status != StatusBooked {
			t.Errorf("%s: %+v, %v; want still booked", name, b, err)
		}
	}

	// Twice: nothing more.
	again, err := f.m.CancelUnpriced(f.ctx, f.tenant, f.school, end.Service, d("2026-11-06"), "staff:7")
	if err != nil || len(again) != 0 {
		t.Errorf("second CancelUnpriced = %+v, %v; want nothing", again, err)
	}
	wantAvail(t, f, ana, "45.70")

	// Daycare: ending the * tariff leaves Ana's booking without a price;
	// Ben's level keeps the M tariff. Daycare holds nothing.
	dend, err := f.m.EndDaycareTariff(f.ctx, f.tenant, f.school, careAll, d("2027-01-04"))
	if err != nil || dend.Bookings != 1 {
		t.Fatalf("EndDaycareTariff = %+v, %v; want 1 booking left", dend, err)
	}
	care, err := f.m.CancelUnpriced(f.ctx, f.tenant, f.school, dend.Service, d("2027-01-04"), "staff:7")
	if err != nil || len(care) != 1 || care[0].Booking.ID != ids["ana care jan"] || !care[0].Released.IsZero() {
		t.Fatalf("CancelUnpriced(daycare) = %+v, %v; want Ana's morning daycare, nothing released", care, err)
	}
	if b, _ := f.m.Get(f.ctx, f.tenant, ids["ben care jan"]); b.Status != StatusBooked {
		t.Errorf("Ben's daycare: %s, want still booked", b.Status)
	}
	wantAvail(t, f, ana, "45.70")

	// Soup booked again after the cancellation: no tariff.
	if _, err := f.book(ana, "2027-01-07", "potage"); !errors.Is(err, ErrNoTariff) {
		t.Errorf("booking soup after the end: %v, want ErrNoTariff", err)
	}
	f.verify(t)

	for _, tc := range []struct {
		name           string
		school         int64
		service, actor string
		want           error
	}{
		{"no service", f.school, "", "staff:7", ErrInvalid},
		{"bad service", f.school, "Potage du jour", "staff:7", ErrInvalid},
		{"no actor", f.school, "potage", "", ErrInvalid},
		{"unknown school", f.school + 1000, "potage", "staff:7", ErrNotFound},
	} {
		if _, err := f.m.CancelUnpriced(f.ctx, f.tenant, tc.school, tc.service, d("2026-11-06"), tc.actor); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestBookDaycareNeedsTariff: daycare is refused with ErrNoTariff on a day
// no daycare tariff covers for the pupil's level, as a meal is.
func TestBookDaycareNeedsTariff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // no daycare tariff yet
	ana := f.pupil(t, "ana", "P3", "0", "10.00", false)
	ben := f.pupil(t, "ben", "M1", "0", "10.00", false)
	_, err := f.book(ana, "2026-11-05", DaycareMorning)
	if !errors.Is(err, ErrNoTariff) || MessageKey(err) != "booking.error.no_tariff" {
		t.Fatalf("daycare without any tariff: %v, want ErrNoTariff", err)
	}
	if _, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, Level: "M", PeriodPrice: dec("0.50"), ValidFrom: d("2026-11-09")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		pupil int64
		day   string
		ok    bool
	}{
		{"before the tariff", ben, "2026-11-05", false},
		{"nursery, from its first day", ben, "2026-11-09", true},
		{"primary, no tariff for the level", ana, "2026-11-09", false},
	} {
		b, err := f.book(tc.pupil, tc.day, DaycareEvening)
		switch {
		case tc.ok && (err != nil || b.Status != StatusBooked || b.HoldID != nil):
			t.Errorf("%s: %+v, %v; want booked, no hold", tc.name, b, err)
		case !tc.ok && !errors.Is(err, ErrNoTariff):
			t.Errorf("%s: %v, want ErrNoTariff", tc.name, err)
		}
	}
	wantAvail(t, f, ana, "10.00")
	f.verify(t)
}
