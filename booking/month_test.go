package booking

import (
	"testing"
	"time"
)

// TestMonthMatchesDayByDay checks Month against the functions the bookings
// page called per day before (Calendar, Cutoff, Bookings, Menus,
// TermEnd), on a month with a break, a holiday and a closed day, and a
// policy of two school days before at 10:30.
func TestMonthMatchesDayByDay(t *testing.T) {
	f := newFixture(t, `{"booking_cutoff": "10:30", "booking_cutoff_days_before": 2}`)
	p := f.pupil(t, "emma", "P3", "0", "20.00", false)
	if err := f.m.AddClosedDay(f.ctx, f.tenant, f.school, d("2026-11-20"), KindClosure, "Journée pédagogique"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.SetMenu(f.ctx, f.tenant, f.school, d("2026-11-16"), "repas", []MenuItem{{Course: "plat", Dish: "Stoemp"}}); err != nil {
		t.Fatal(err)
	}
	b, err := f.m.Book(f.ctx, BookRequest{TenantID: f.tenant, PupilID: p, Day: d("2026-11-24"), Service: "repas", Actor: "guardian:1"})
	if err != nil {
		t.Fatal(err)
	}
	from, to := d("2026-11-01"), d("2026-11-30")
	today := d("2026-11-02")
	got, err := f.m.Month(f.ctx, f.tenant, f.school, p, from, to, today)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := f.m.Calendar(f.ctx, f.tenant, f.school, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Days) != len(cal) {
		t.Fatalf("%d days, want %d", len(got.Days), len(cal))
	}
	open := 0
	for i, day := range got.Days {
		if day.DayStatus != cal[i] {
			t.Errorf("%s: %+v, want %+v", cal[i].Day.Format(time.DateOnly), day.DayStatus, cal[i])
		}
		if !day.Open {
			if !day.Cutoff.IsZero() {
				t.Errorf("%s closed with a cut-off", day.Day.Format(time.DateOnly))
			}
			continue
		}
		open++
		want, err := f.m.Cutoff(f.ctx, f.tenant, f.school, day.Day)
		if err != nil {
			t.Fatal(err)
		}
		if !day.Cutoff.Equal(want) {
			t.Errorf("%s: cut-off %s, want %s", day.Day.Format(time.DateOnly), day.Cutoff, want)
		}
	}
	if open < 10 {
		t.Errorf("only %d open days in November 2026: the fixture calendar is not what the test expects", open)
	}
	end, err := f.m.TermEnd(f.ctx, f.tenant, f.school, today)
	if err != nil {
		t.Fatal(err)
	}
	if !got.TermEnd.Equal(end) {
		t.Errorf("term end %s, want %s", got.TermEnd, end)
	}
	if len(got.Bookings) != 1 || got.Bookings[0].ID != b.ID {
		t.Errorf("bookings %+v, want booking %d", got.Bookings, b.ID)
	}
	if len(got.Menus) != 1 || got.Menus[0].Dish != "Stoemp" {
		t.Errorf("menus %+v, want the stoemp", got.Menus)
	}
	if len(got.Meals) != 2 {
		t.Errorf("meal types %+v, want repas and potage", got.Meals)
	}
}
