package booking

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestReportSick: a sick report releases the bookings of the days whose
// cut-off has not passed and, by default, keeps (and charges at day end)
// the ones after it; with "sick_day_after_cutoff": "release" it releases
// them all. The days are recorded for the kitchen lists and the month.
func TestReportSick(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		settings string
		keptTue  bool
		wantAv   string
	}{
		{"default charges after the cut-off", `{}`, true, "16.30"},
		{"release after the cut-off", `{"sick_day_after_cutoff": "release"}`, false, "20.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.settings)
			emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
			if _, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("0.75"), ValidFrom: d("2026-08-31")}); err != nil {
				t.Fatal(err)
			}
			// Monday 2 November 08:00: Tuesday's cut-off is today 09:00.
			f.clock.set(time.Date(2026, 11, 2, 8, 0, 0, 0, f.loc))
			tue, err := f.book(emma, "2026-11-03", "repas")
			if err != nil {
				t.Fatal(err)
			}
			thu, err := f.book(emma, "2026-11-05", "repas")
			if err != nil {
				t.Fatal(err)
			}
			care, err := f.book(emma, "2026-11-05", DaycareEvening)
			if err != nil {
				t.Fatal(err)
			}
			wantAvail(t, f, emma, "12.60")
			// Monday noon: Tuesday is past its cut-off, Thursday is not.
			f.clock.set(time.Date(2026, 11, 2, 12, 0, 0, 0, f.loc))
			rep, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma, From: d("2026-11-03"), Until: d("2026-11-08"), Actor: "portal-account:1"})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(rep.Days), 4; got != want { // Tue–Fri, not the weekend
				t.Errorf("days = %v, want %d", rep.Days, want)
			}
			outcome := map[int64]SickOutcome{}
			for _, b := range rep.Bookings {
				outcome[b.Booking.ID] = b.Outcome
			}
			wantTue := SickReleased
			if tc.keptTue {
				wantTue = SickKept
			}
			if outcome[tue.ID] != wantTue || outcome[thu.ID] != SickReleased || outcome[care.ID] != SickReleased {
				t.Errorf("outcomes = %v; want Tuesday %s, Thursday's meal and daycare released", outcome, wantTue)
			}
			wantAvail(t, f, emma, tc.wantAv)
			for id, want := range map[int64]Status{thu.ID: StatusCancelled, care.ID: StatusCancelled} {
				if b, _ := f.m.Get(f.ctx, f.tenant, id); b.Status != want || b.CancelledBy != "portal-account:1" {
					t.Errorf("booking %d = %s by %q, want %s by the guardian", id, b.Status, b.CancelledBy, want)
				}
			}
			abs, err := f.m.DayAbsences(f.ctx, f.tenant, f.school, d("2026-11-03"))
			if err != nil || !slices.Equal(abs, []int64{emma}) {
				t.Errorf("DayAbsences = %v, %v; want [%d]", abs, err, emma)
			}
			mo, err := f.m.Month(f.ctx, f.tenant, f.school, emma, d("2026-11-01"), d("2026-11-30"), d("2026-11-02"))
			if err != nil || len(mo.Absent) != 4 || !mo.Absent[0].Equal(d("2026-11-03")) {
				t.Errorf("Month.Absent = %v, %v; want 3–6 November", mo.Absent, err)
			}
			// Reporting again changes nothing.
			again, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma, From: d("2026-11-03"), Until: d("2026-11-03"), Actor: "portal-account:1"})
			if err != nil || again.Count(SickReleased) != 0 {
				t.Errorf("second report = %+v, %v", again, err)
			}
			// Tuesday's day end charges the kept meal as a no-show.
			de, err := f.m.DayEnd(f.ctx, f.tenant, f.school, d("2026-11-03"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.keptTue && de.Charged != 1 || !tc.keptTue && de.Charged != 0 {
				t.Errorf("day end = %+v", de)
			}
			wantAvail(t, f, emma, tc.wantAv)
			f.verify(t)
		})
	}
}

func TestReportSickRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `{}`)
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	for _, tc := range []struct {
		name        string
		from, until string
		want        error
	}{
		{"yesterday", "2026-11-01", "2026-11-03", ErrInvalid},
		{"end before start", "2026-11-05", "2026-11-04", ErrInvalid},
		{"too long", "2026-11-03", "2026-12-10", ErrInvalid},
		{"weekend only", "2026-11-07", "2026-11-08", ErrClosedDay},
	} {
		_, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma, From: d(tc.from), Until: d(tc.until), Actor: "t"})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Withdrawing: today's or a later sick day only, once.
	if _, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma, From: d("2026-11-03"), Until: d("2026-11-03"), Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := f.m.WithdrawSick(f.ctx, f.tenant, emma, d("2026-11-03")); err != nil {
		t.Fatal(err)
	}
	if abs, _ := f.m.DayAbsences(f.ctx, f.tenant, f.school, d("2026-11-03")); len(abs) != 0 {
		t.Errorf("absences after the withdrawal = %v", abs)
	}
	if err := f.m.WithdrawSick(f.ctx, f.tenant, emma, d("2026-11-03")); !errors.Is(err, ErrNotFound) {
		t.Errorf("withdrawing twice: %v", err)
	}
	if err := f.m.WithdrawSick(f.ctx, f.tenant, emma, d("2026-10-30")); !errors.Is(err, ErrInvalid) {
		t.Errorf("withdrawing a past day: %v", err)
	}
	if _, err := f.m.ReportSick(f.ctx, SickRequest{TenantID: f.tenant, PupilID: emma + 1000, From: d("2026-11-03"), Until: d("2026-11-03")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown pupil: %v", err)
	}
}
