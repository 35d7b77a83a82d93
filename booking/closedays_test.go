package booking

import (
	"errors"
	"testing"
)

// Closing days that have bookings (a strike on Thursday and Friday) cancels
// them in the same action and gives their holds back; the day end of a
// closed day never charges a no-show, even for a booking the closing
// missed (a day closed with AddClosedDay).
func TestCloseDaysCancelsAndDayEndNeverChargesAClosedDay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	lucas := f.pupil(t, "lucas", "P3", "0", "20.00", false)
	for _, day := range []string{"2026-11-05", "2026-11-06", "2026-11-09"} {
		for _, p := range []int64{emma, lucas} {
			if _, err := f.book(p, day, "repas"); err != nil {
				t.Fatalf("book %s: %v", day, err)
			}
		}
	}
	wantAvail(t, f, emma, "8.90")
	n, err := f.m.BookedBetween(f.ctx, f.tenant, f.school, d("2026-11-05"), d("2026-11-08"))
	if err != nil || n != 4 {
		t.Fatalf("BookedBetween = %d, %v; want 4 (the preview)", n, err)
	}
	got, err := f.m.CloseDays(f.ctx, f.tenant, f.school, d("2026-11-05"), d("2026-11-08"), KindClosure, "Grève", "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Closure != "Grève" || !got[0].Released.Equal(dec("3.70")) || got[0].Booking.Status != StatusCancelled {
		t.Fatalf("CloseDays = %+v", got)
	}
	wantAvail(t, f, emma, "16.30")
	for _, day := range []string{"2026-11-05", "2026-11-06"} {
		if open, _, err := f.m.IsOpen(f.ctx, f.tenant, f.school, d(day)); err != nil || open {
			t.Errorf("%s open after CloseDays: %v, %v", day, open, err)
		}
	}
	// Again: nothing more to cancel.
	if again, err := f.m.CloseDays(f.ctx, f.tenant, f.school, d("2026-11-05"), d("2026-11-08"), KindClosure, "Grève", "staff:1"); err != nil || len(again) != 0 {
		t.Errorf("second CloseDays = %+v, %v", again, err)
	}
	// Monday 9 is closed without cancelling (AddClosedDay): its day end
	// releases the holds and charges nothing.
	if err := f.m.AddClosedDay(f.ctx, f.tenant, f.school, d("2026-11-09"), KindClosure, "Travaux"); err != nil {
		t.Fatal(err)
	}
	rep, err := f.m.DayEnd(f.ctx, f.tenant, f.school, d("2026-11-09"))
	if err != nil || rep.Charged != 0 || rep.Released != 2 || !rep.Amount.IsZero() {
		t.Errorf("DayEnd of a closed day = %+v, %v; want 2 released, nothing charged", rep, err)
	}
	wantAvail(t, f, emma, "20.00")
	wantAvail(t, f, lucas, "20.00")
	for _, tc := range []struct {
		from, to, label string
	}{{"2026-11-07", "2026-11-08", "Week-end"}, {"2026-11-10", "2026-11-05", "À l'envers"}, {"2026-11-10", "2026-12-31", "Trop long"}, {"2026-11-10", "2026-11-10", ""}} {
		if _, err := f.m.CloseDays(f.ctx, f.tenant, f.school, d(tc.from), d(tc.to), KindClosure, tc.label, "staff:1"); !errors.Is(err, ErrInvalid) {
			t.Errorf("CloseDays(%s, %s, %q): %v, want ErrInvalid", tc.from, tc.to, tc.label, err)
		}
	}
	f.verify(t)
}
