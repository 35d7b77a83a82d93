package portal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tartine/booking"
)

// resultOf is the summary block of one child on the family page.
func resultOf(t *testing.T, page string, pupilID int64) string {
	t.Helper()
	i := strings.Index(page, fmt.Sprintf(`id="result-%d"`, pupilID))
	if i < 0 {
		t.Fatalf("no result for pupil %d:\n%s", pupilID, page)
	}
	s := page[i:]
	if j := strings.Index(s[1:], `<div class="result"`); j >= 0 {
		s = s[:j+1]
	}
	return s
}

// TestFamilyBookings: Anne books every Monday and Thursday of December for
// Emma and Lucas in one action; the summary says per child what was booked
// and what was refused with the reason (the winter break, Emma's wallet),
// then she cancels the Thursdays of both in one action. A child of another
// family cannot be slipped into the form.
func TestFamilyBookings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	code, form := anne.get("/portal/bookings?month=2026-12")
	if code != http.StatusOK {
		t.Fatalf("GET family form: %d", code)
	}
	emmaKey, lucasKey := fmt.Sprintf("%d:%d", f.tenant, f.emma.ID), fmt.Sprintf("%d:%d", f.tenant, f.lucas.ID)
	for _, want := range []string{`value="` + emmaKey + `" checked`, `value="` + lucasKey + `" checked`, `name="from" value="2026-12-01"`, `name="until" value="2026-12-31"`} {
		if !strings.Contains(form, want) {
			t.Errorf("family form misses %s", want)
		}
	}
	zoeKey := fmt.Sprintf("%d:%d", f.tenant, f.zoe.ID)
	code, page := anne.post("/portal/bookings", url.Values{"child": {emmaKey, lucasKey, zoeKey}, "service": {"repas"}, "weekday": {"1", "4"},
		"from": {"2026-12-01"}, "until": {"2026-12-31"}, "action": {"book"}})
	if code != http.StatusOK {
		t.Fatalf("book for the family: %d\n%s", code, page)
	}
	// Lucas (30 €): 3, 7, 10, 14 and 17 December; 21, 24, 28 and 31 are
	// in the winter break.
	lucas := resultOf(t, page, f.lucas.ID)
	if !strings.Contains(lucas, "5 jour(s) réservé(s)") || !strings.Contains(lucas, "4 refusé(s)") ||
		!strings.Contains(lucas, `<li data-reason="booking.error.closed_day"><strong>L&#39;école ou le service est fermé ce jour-là.</strong><br><span data-day="2026-12-21">lundi 21 décembre 2026</span> · <span data-day="2026-12-24">jeudi 24 décembre 2026</span> · <span data-day="2026-12-28">lundi 28 décembre 2026</span> · <span data-day="2026-12-31">jeudi 31 décembre 2026</span></li>`) {
		t.Errorf("Lucas's summary:\n%s", lucas)
	}
	// Emma (8 € and a 10 € grace): four meals, the fifth refused.
	emma := resultOf(t, page, f.emma.ID)
	if !strings.Contains(emma, "4 jour(s) réservé(s)") || !strings.Contains(emma, `<li data-reason="booking.error.insufficient_funds"><strong>Le solde du compte est insuffisant pour cette réservation. Rechargez le compte puis réessayez.</strong><br><span data-day="2026-12-17">jeudi 17 décembre 2026</span></li>`) {
		t.Errorf("Emma's summary:\n%s", emma)
	}
	if strings.Contains(page, fmt.Sprintf(`id="result-%d"`, f.zoe.ID)) {
		t.Errorf("another family's child was booked")
	}
	bks, err := f.bk.BookingsOf(ctx, []booking.PupilRef{{TenantID: f.tenant, PupilID: f.lucas.ID}, {TenantID: f.tenant, PupilID: f.emma.ID}},
		time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil || len(bks) != 9 {
		t.Fatalf("bookings after the family action = %d, %v; want 9", len(bks), err)
	}
	// Again: nothing new.
	_, page = anne.post("/portal/bookings", url.Values{"child": {lucasKey}, "service": {"repas"}, "weekday": {"1", "4"},
		"from": {"2026-12-01"}, "until": {"2026-12-18"}, "action": {"book"}})
	if got := resultOf(t, page, f.lucas.ID); !strings.Contains(got, "0 jour(s) réservé(s) · 5 déjà réservé(s)") {
		t.Errorf("booking again:\n%s", got)
	}
	// Wednesdays: no meals at this school, said so.
	_, page = anne.post("/portal/bookings", url.Values{"child": {lucasKey}, "service": {"repas"}, "weekday": {"3"},
		"from": {"2026-12-01"}, "until": {"2026-12-04"}, "action": {"book"}})
	if got := resultOf(t, page, f.lucas.ID); !strings.Contains(got, "Pas de repas le mercredi dans cette école.") {
		t.Errorf("Wednesday:\n%s", got)
	}
	// Cancel the Thursdays of both.
	_, page = anne.post("/portal/bookings", url.Values{"child": {emmaKey, lucasKey}, "service": {"repas"}, "weekday": {"4"},
		"from": {"2026-12-01"}, "until": {"2026-12-31"}, "action": {"cancel"}})
	if got := resultOf(t, page, f.lucas.ID); !strings.Contains(got, "3 jour(s) annulé(s)") {
		t.Errorf("Lucas's cancellations:\n%s", got)
	}
	if got := resultOf(t, page, f.emma.ID); !strings.Contains(got, "2 jour(s) annulé(s)") {
		t.Errorf("Emma's cancellations:\n%s", got)
	}
	if _, err := f.bk.BookingFor(ctx, f.tenant, f.lucas.ID, time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), "repas"); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Lucas's Thursday 10 December still booked: %v", err)
	}
	if _, err := f.bk.BookingFor(ctx, f.tenant, f.lucas.ID, time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC), "repas"); err != nil {
		t.Errorf("Lucas's Monday 14 December was cancelled too: %v", err)
	}
	// A form without a child is refused with a message, nothing done.
	code, page = anne.post("/portal/bookings", url.Values{"service": {"repas"}, "from": {"2026-12-01"}, "until": {"2026-12-31"}, "action": {"book"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "Choisissez au moins un enfant.") {
		t.Errorf("no child: %d", code)
	}
}

// TestSickDayAfterCutoff: a sick day reported after the cut-off keeps the
// booking by default (charged at day end) and says so; the day shows the
// absence; with the school's "sick_day_after_cutoff": "release" the same
// report releases it.
func TestSickDayAfterCutoff(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	brussels, _ := time.LoadLocation("Europe/Brussels")
	mon := time.Date(2026, 11, 30, 0, 0, 0, 0, brussels)
	tue := time.Date(2026, 12, 1, 0, 0, 0, 0, brussels)
	for _, day := range []time.Time{mon, tue} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: day, Service: "repas", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	// Monday 30 November 08:00: Monday's cut-off (Friday 09:00) has passed.
	f.clk.Add(time.Date(2026, 11, 30, 8, 0, 0, 0, brussels).Sub(f.clk.Now()))
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	lucas := childPath(f.tenant, f.lucas)
	anne.get(lucas + "/bookings?month=2026-11")
	code, page := anne.post(lucas+"/bookings/sick", url.Values{"from": {"2026-11-30"}, "until": {"2026-11-30"}})
	if code != http.StatusOK {
		t.Fatalf("sick report: %d", code)
	}
	if want := "Absence de Lucas (maladie) enregistrée pour 1 jour(s) d&#39;école : 0 réservation(s) libérée(s), 1 maintenue(s)"; !strings.Contains(page, want) {
		t.Errorf("flash after the report misses %q:\n%s", want, page)
	}
	if !strings.Contains(page, `<p class="sick-note" role="note">✚ absent (malade)</p>`) || !strings.Contains(page, `<td class="open today sick">`) {
		t.Errorf("the day does not show the absence")
	}
	if b, err := f.bk.BookingFor(ctx, f.tenant, f.lucas.ID, mon, "repas"); err != nil || b.Status != booking.StatusBooked {
		t.Errorf("Monday's booking = %+v, %v; want kept", b, err)
	}
	// The school releases after the cut-off: Tuesday's report (cut-off
	// Monday 09:00, passed at 10:00) releases it.
	if _, err := f.led.Pool().Exec(ctx, `UPDATE schools SET settings = settings || '{"sick_day_after_cutoff": "release"}' WHERE tenant_id = $1 AND id = $2`, f.tenant, f.school); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(2 * time.Hour)
	anne.get(lucas + "/bookings?month=2026-12")
	_, page = anne.post(lucas+"/bookings/sick", url.Values{"from": {"2026-12-01"}})
	if want := "1 réservation(s) libérée(s), le montant est de nouveau disponible."; !strings.Contains(page, want) {
		t.Errorf("flash misses %q", want)
	}
	if _, err := f.bk.BookingFor(ctx, f.tenant, f.lucas.ID, tue, "repas"); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Tuesday's booking still stands: %v", err)
	}
	// Lucas is back on Tuesday: the absence is withdrawn, the meal stays released.
	_, page = anne.post(lucas+"/bookings/sick", url.Values{"from": {"2026-12-01"}, "withdraw": {"1"}})
	if !strings.Contains(page, "L&#39;absence de Lucas est annulée pour ce jour.") || strings.Contains(page, `data-action="unsick-2026-12-01"`) {
		t.Errorf("withdrawing the absence: flash or button wrong")
	}
	if abs, err := f.bk.DayAbsences(ctx, f.tenant, f.school, tue); err != nil || len(abs) != 0 {
		t.Errorf("absences of Tuesday after the withdrawal = %v, %v", abs, err)
	}
	// A day in the past is refused.
	_, page = anne.post(lucas+"/bookings/sick", url.Values{"from": {"2026-11-27"}})
	if !strings.Contains(page, "Dates d&#39;absence incorrectes") {
		t.Errorf("a past day was accepted")
	}
}
