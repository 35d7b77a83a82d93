package booking

import (
	"errors"
	"maps"
	"testing"
	"time"

	schools "tartine/school"
)

// TestLeavingDay: a pupil whose leaving day is set ahead (school.Leave)
// can be booked up to the day before, never on or after it; the month
// does not offer those days and a sick report stops before them.
func TestLeavingDay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // today: Monday 2026-11-02
	emma := f.pupil(t, "emma", "P3", "0", "50.00", false)
	// Leaves on Friday 2026-11-20: still active until then.
	if _, err := f.pool.Exec(f.ctx, `UPDATE pupils SET left_at = '2026-11-20' WHERE tenant_id = $1 AND id = $2`, f.tenant, emma); err != nil {
		t.Fatal(err)
	}
	if _, err := f.book(emma, "2026-11-19", "repas"); err != nil {
		t.Errorf("the day before leaving: %v", err)
	}
	for _, day := range []string{"2026-11-20", "2026-11-23", "2026-12-01"} {
		_, err := f.book(emma, day, "repas")
		if !errors.Is(err, ErrPupilLeaving) {
			t.Errorf("book %s: err = %v, want ErrPupilLeaving", day, err)
		}
		if got := MessageKey(err); got != "booking.error.pupil_leaving" {
			t.Errorf("book %s: MessageKey = %q", day, got)
		}
	}
	rep, err := f.m.BookPattern(f.ctx, PatternRequest{TenantID: f.tenant, PupilID: emma, Service: "potage",
		Weekdays: []time.Weekday{time.Thursday, time.Friday}, From: d("2026-11-19"), Until: d("2026-11-27"), Actor: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Days {
		wantLeft := !r.Day.Before(d("2026-11-20"))
		if gotLeft := errors.Is(r.Err, ErrPupilLeaving); gotLeft != wantLeft {
			t.Errorf("pattern %s: outcome %s, err %v", r.Day.Format(time.DateOnly), r.Outcome, r.Err)
		}
	}
	mo, err := f.m.Month(f.ctx, f.tenant, f.school, emma, d("2026-11-01"), d("2026-11-30"), d("2026-11-02"))
	if err != nil {
		t.Fatal(err)
	}
	if !mo.LeftAt.Equal(d("2026-11-20")) {
		t.Errorf("Month.LeftAt = %v", mo.LeftAt)
	}
	for _, md := range mo.Days {
		iso := md.Day.Format(time.DateOnly)
		switch {
		case iso == "2026-11-19" && !md.Open:
			t.Errorf("%s closed (%s), want open", iso, md.Reason)
		case iso >= "2026-11-20" && (md.Open || (md.Day.Weekday() != time.Saturday && md.Day.Weekday() != time.Sunday && md.Reason != ReasonPupilLeft)):
			t.Errorf("%s: open %v, reason %q; want closed, %q", iso, md.Open, md.Reason, ReasonPupilLeft)
		}
	}
	sick, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma, From: d("2026-11-18"), Until: d("2026-11-25"), Actor: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sick.Days) != 2 || !sick.Days[1].Equal(d("2026-11-19")) {
		t.Errorf("sick days = %v, want 18 and 19 November", sick.Days)
	}
	if _, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma, From: d("2026-11-20"), Until: d("2026-11-20"), Actor: "t"}); !errors.Is(err, ErrPupilLeaving) {
		t.Errorf("sick on the leaving day: err = %v, want ErrPupilLeaving", err)
	}
}

// TestLeaveCancelsBookings: school.Leave, given booking's canceller,
// cancels in its transaction the bookings made before the leaving date was
// set for days on or after it (holds voided); a booking past its cut-off
// stays unless the school's policy refunds after the cut-off; the days
// before the leaving day keep theirs.
func TestLeaveCancelsBookings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // today: Monday 2026-11-02
	st := schools.New(f.pool, f.led, f.clock.now, schools.WithBookingCanceller(f.m.CancelLeavingTx))
	emma := f.pupil(t, "emma", "P3", "0", "50.00", false)
	days := []string{"2026-11-05", "2026-11-06", "2026-11-09", "2026-11-10"}
	for _, day := range days {
		if _, err := f.book(emma, day, "potage"); err != nil {
			t.Fatalf("book %s: %v", day, err)
		}
	}
	wantAvail(t, f, emma, "47.60")
	status := func() map[string]Status {
		t.Helper()
		bks, err := f.m.Bookings(f.ctx, f.tenant, emma, d("2026-11-01"), d("2026-11-30"))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Status{}
		for _, b := range bks {
			out[b.Day.Format(time.DateOnly)] = b.Status
			if b.Status == StatusCancelled && b.CancelledBy != "staff:1" {
				t.Errorf("%s cancelled by %q", b.Day.Format(time.DateOnly), b.CancelledBy)
			}
		}
		return out
	}
	// Thursday noon: Friday's cut-off (Thursday 09:00) has passed.
	f.clock.set(time.Date(2026, 11, 5, 12, 0, 0, 0, f.loc))
	p, err := st.Leave(f.ctx, f.tenant, emma, d("2026-11-06"), "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Active || !p.LeftAt.Equal(d("2026-11-06")) {
		t.Errorf("after Leave: active %v, left %v; want active until 2026-11-06", p.Active, p.LeftAt)
	}
	want := map[string]Status{"2026-11-05": StatusBooked, "2026-11-06": StatusBooked, "2026-11-09": StatusCancelled, "2026-11-10": StatusCancelled}
	if got := status(); !maps.Equal(got, want) {
		t.Errorf("bookings after leaving = %v, want %v", got, want)
	}
	wantAvail(t, f, emma, "48.80")

	// A school refunding after the cut-off cancels Friday's too.
	if _, err := f.pool.Exec(f.ctx, `UPDATE schools SET settings = '{"refund_after_cutoff": true}' WHERE id = $1`, f.school); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Leave(f.ctx, f.tenant, emma, d("2026-11-06"), "staff:1"); err != nil {
		t.Fatal(err)
	}
	want["2026-11-06"] = StatusCancelled
	if got := status(); !maps.Equal(got, want) {
		t.Errorf("bookings after leaving under a refunding policy = %v, want %v", got, want)
	}
	wantAvail(t, f, emma, "49.40")
	f.verify(t)
}

// TestLeaveBesideATap: a leaving recorded while a tap transaction holds the
// pupil's bookings waits for it without a deadlock, though the tap then
// checks a foreign key to the pupil (a taps row): Leave locks the pupil
// row without blocking key-share locks.
func TestLeaveBesideATap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}") // today: Monday 2026-11-02
	st := schools.New(f.pool, f.led, f.clock.now, schools.WithBookingCanceller(f.m.CancelLeavingTx))
	emma := f.pupil(t, "emma", "P3", "0", "50.00", false)
	if _, err := f.book(emma, "2026-11-09", "potage"); err != nil {
		t.Fatal(err)
	}
	tap, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Rollback(f.ctx)
	if _, err := tap.Exec(f.ctx, `SELECT 1 FROM bookings WHERE tenant_id = $1 AND pupil_id = $2 FOR UPDATE`, f.tenant, emma); err != nil {
		t.Fatal(err)
	}
	left := make(chan error, 1)
	go func() {
		_, err := st.Leave(f.ctx, f.tenant, emma, d("2026-11-09"), "staff:1")
		left <- err
	}()
	// Wait (generously) until Leave waits for the tap's booking lock.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var waiting int
		if err := tap.QueryRow(f.ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Leave never waited for the tap's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The foreign key check of the tap's row.
	if _, err := tap.Exec(f.ctx, `SELECT 1 FROM pupils WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE`, f.tenant, emma); err != nil {
		t.Fatalf("tap beside a leaving: %v", err)
	}
	if err := tap.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-left:
		if err != nil {
			t.Fatalf("Leave beside a tap: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Leave still waiting a minute after the tap committed")
	}
	bks, err := f.m.Bookings(f.ctx, f.tenant, emma, d("2026-11-09"), d("2026-11-09"))
	if err != nil || len(bks) != 1 || bks[0].Status != StatusCancelled {
		t.Errorf("booking after leaving: %+v, %v", bks, err)
	}
}
