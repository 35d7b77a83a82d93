package terminal

import (
	"testing"
	"time"

	"tartine/booking"
)

func at(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, brussels) }

func TestDaycareToggleAndBilling(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(at(7, 30))
	in := f.one(tapAt("daycare-1", uidEmma, at(7, 30)))
	if in.Verdict != VerdictAccepted || in.Action != ActionCheckIn || in.Charged != "0.00" {
		t.Fatalf("check-in: %+v", in)
	}
	// A second tap 30 s later is a duplicate, not a check-out.
	f.clk.Set(at(7, 31))
	if r := f.one(tapAt("daycare-1", uidEmma, at(7, 30).Add(30*time.Second))); r.Verdict != VerdictDuplicate {
		t.Errorf("double tap: %+v, want duplicate", r)
	}
	f.clk.Set(at(8, 20))
	out := f.one(tapAt("daycare-1", uidEmma, at(8, 20)))
	// 50 minutes: 2 started periods of 30 min at 0.80.
	if out.Verdict != VerdictAccepted || out.Action != ActionCheckOut || out.Charged != "1.60" {
		t.Fatalf("check-out: %+v, want 1.60", out)
	}
	// Evening: 15:00 → 17:50 is 170 min − 15 free = 155 min: 6 periods = 4.80.
	f.clk.Set(at(15, 0))
	f.one(tapAt("daycare-1", uidEmma, at(15, 0)))
	f.clk.Set(at(17, 50))
	if r := f.one(tapAt("daycare-1", uidEmma, at(17, 50))); r.Charged != "4.80" {
		t.Errorf("evening: %+v, want 4.80", r)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("13.60")) {
		t.Errorf("wallet = %s, want 13.60", got)
	}
	present, err := f.svc.Present(f.ctx, f.tenant, f.station["daycare-1"])
	must(t, err)
	if len(present) != 0 {
		t.Errorf("present after check-out: %+v", present)
	}
	f.verify()
}

func TestDayEndTwice(t *testing.T) {
	f := newFixture(t)
	notices := f.watchWallets()
	// Emma booked a meal and never came, then checked in at daycare and
	// was never checked out.
	f.clk.Set(monday.AddDate(0, 0, -7))
	_, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.pupils[uidEmma].ID, Day: monday, Service: "repas", Actor: "test"})
	must(t, err)
	f.clk.Set(at(16, 0))
	f.one(tapAt("daycare-1", uidEmma, at(16, 0)))
	present, err := f.svc.Present(f.ctx, f.tenant, f.station["daycare-1"])
	must(t, err)
	if len(present) != 1 || present[0].Name != "Emma D." {
		t.Fatalf("present = %+v, want Emma", present)
	}
	f.clk.Set(at(18, 30))
	rep, err := f.svc.DayEnd(f.ctx, f.tenant, f.school, monday)
	must(t, err)
	// 16:00 → 18:00 (closing) = 4 periods = 3.20; the booked meal 3.70 is a no-show.
	if rep.SessionsClosed != 1 || !rep.DaycareCharged.Equal(dec("3.20")) || rep.Bookings.Charged != 1 {
		t.Errorf("first run: %+v", rep)
	}
	rep2, err := f.svc.DayEnd(f.ctx, f.tenant, f.school, monday)
	must(t, err)
	if rep2.SessionsClosed != 0 || !rep2.DaycareCharged.IsZero() || rep2.Bookings.Charged != 0 {
		t.Errorf("second run did something: %+v", rep2)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("13.10")) { // 20 − 3.20 − 3.70
		t.Errorf("wallet = %s, want 13.10", got)
	}
	// The next morning's tap is a check-in, not a check-out.
	tue := time.Date(2026, 12, 1, 7, 45, 0, 0, brussels)
	f.clk.Set(tue)
	if r := f.one(tapAt("daycare-1", uidEmma, tue)); r.Action != ActionCheckIn {
		t.Errorf("next morning: %+v, want check_in", r)
	}
	// The family heard of the day end's daycare charge once (the no-show
	// was paid by its hold, reserved at booking time); the next notice is
	// Tuesday's meal.
	f.clk.Set(tue.Add(5 * time.Hour))
	f.one(tapAt("canteen-1", uidEmma, tue.Add(4*time.Hour)))
	for i, want := range []string{"13.10", "8.90"} {
		select {
		case d := <-notices:
			if d.pupilID != f.pupils[uidEmma].ID || !d.available.Equal(dec(want)) {
				t.Errorf("notice %d: %+v, want Emma with %s left", i, d, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("notice %d (%s left) not received", i, want)
		}
	}
	f.verify()
}

func TestForgottenSessionClosedByNextTap(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(at(16, 0))
	f.one(tapAt("daycare-1", uidEmma, at(16, 0)))
	tue := time.Date(2026, 12, 1, 7, 45, 0, 0, brussels)
	f.clk.Set(tue)
	if r := f.one(tapAt("daycare-1", uidEmma, tue)); r.Action != ActionCheckIn {
		t.Errorf("next morning: %+v, want check_in", r)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("16.80")) { // yesterday closed at 18:00: 3.20
		t.Errorf("wallet = %s, want 16.80", got)
	}
	f.verify()
}

// The day-end job (DayEndPass, run by the job queue every few minutes)
// closes a school's day once, after its latest daycare closing time plus
// DayEndGrace (not at a fixed hour): 18:00 + 15 min here.
func TestDayEndPassAfterClosing(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(at(16, 0))
	f.one(tapAt("daycare-1", uidEmma, at(16, 0)))
	present := func() int {
		t.Helper()
		p, err := f.svc.Present(f.ctx, f.tenant, f.station["daycare-1"])
		must(t, err)
		return len(p)
	}
	for _, tc := range []struct {
		h, m    int
		present int
	}{{17, 0, 1}, {18, 10, 1}, {18, 16, 0}, {18, 45, 0}} {
		f.clk.Set(at(tc.h, tc.m))
		must(t, f.svc.DayEndPass(f.ctx))
		if got := present(); got != tc.present {
			t.Errorf("at %02d:%02d: %d present, want %d", tc.h, tc.m, got, tc.present)
		}
	}
	if got := f.balance(uidEmma); !got.Equal(dec("16.80")) {
		t.Errorf("wallet = %s, want 16.80", got)
	}
	f.verify()
}

// A school whose daycare closes at 19:00 from some day on is closed after
// 19:15 from that day (its latest closing time), and after 18:15 before.
func TestDayEndDueFollowsTheClosingTime(t *testing.T) {
	f := newFixture(t)
	from := at(0, 0).AddDate(0, 0, 1)
	_, err := f.book.AddDaycareTariff(f.ctx, f.tenant, booking.DaycareTariff{SchoolID: f.school, Level: "P", PeriodMinutes: 30,
		PeriodPrice: dec("0.80"), Opens: booking.MustClock("07:00"), Closes: booking.MustClock("19:00"), ValidFrom: from})
	must(t, err)
	for _, tc := range []struct {
		day  time.Time
		want time.Duration
	}{{at(0, 0), 18*time.Hour + 15*time.Minute}, {from, 19*time.Hour + 15*time.Minute}} {
		got, err := f.svc.DayEndDue(f.ctx, f.tenant, f.school, tc.day)
		if err != nil || got != tc.want {
			t.Errorf("DayEndDue(%s) = %v, %v; want %v", tc.day.Format(time.DateOnly), got, err, tc.want)
		}
	}
	f.clk.Set(from.Add(16 * time.Hour))
	f.one(tapAt("daycare-1", uidEmma, from.Add(16*time.Hour)))
	f.clk.Set(from.Add(18*time.Hour + 30*time.Minute)) // the old fixed 18:30: still open
	must(t, f.svc.DayEndPass(f.ctx))
	if p, _ := f.svc.Present(f.ctx, f.tenant, f.station["daycare-1"]); len(p) != 1 {
		t.Errorf("closed at 18:30 although the daycare closes at 19:00")
	}
	f.clk.Set(from.Add(19*time.Hour + 20*time.Minute))
	must(t, f.svc.DayEndPass(f.ctx))
	if p, _ := f.svc.Present(f.ctx, f.tenant, f.station["daycare-1"]); len(p) != 0 {
		t.Errorf("still open after 19:15: %+v", p)
	}
	f.verify()
}
