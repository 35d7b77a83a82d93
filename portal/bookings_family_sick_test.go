package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tartine/booking"
)

// TestFamilySick (issue 14): Anne reports Emma and Lucas sick on Monday
// 30 November in one action from the family page; each gets the absence,
// Lucas's booking (before its cut-off) is released, a child of another
// family slipped into the form is ignored.
func TestFamilySick(t *testing.T) {
	f := newFixture(t) // Thursday 26 November 2026, 20:00
	ctx := context.Background()
	monday := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	b, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: monday, Service: "repas", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	_, form := anne.get("/portal/bookings")
	if !strings.Contains(form, `id="family-sick-form"`) || !strings.Contains(form, `id="fsfrom" name="from" value="2026-11-26"`) {
		t.Fatalf("no sick form for several children:\n%s", form)
	}
	emmaKey, lucasKey := fmt.Sprintf("%d:%d", f.tenant, f.emma.ID), fmt.Sprintf("%d:%d", f.tenant, f.lucas.ID)
	zoeKey := fmt.Sprintf("%d:%d", f.tenant, f.zoe.ID)
	code, page := anne.post("/portal/bookings", url.Values{"action": {"sick"}, "child": {emmaKey, lucasKey, zoeKey},
		"from": {"2026-11-30"}, "until": {"2026-11-30"}})
	if code != http.StatusOK {
		t.Fatalf("report sick: %d\n%s", code, page)
	}
	if !strings.Contains(page, "Absences signalées") {
		t.Errorf("no sick summary:\n%s", page)
	}
	if lucas := resultOf(t, page, f.lucas.ID); !strings.Contains(lucas, "1 jour(s) d&#39;école d&#39;absence enregistré(s) · 1 réservation(s) libérée(s)") {
		t.Errorf("Lucas's summary:\n%s", lucas)
	}
	if emma := resultOf(t, page, f.emma.ID); !strings.Contains(emma, "1 jour(s) d&#39;école d&#39;absence enregistré(s) · 0 réservation(s) libérée(s)") {
		t.Errorf("Emma's summary:\n%s", emma)
	}
	if strings.Contains(page, fmt.Sprintf(`id="result-%d"`, f.zoe.ID)) {
		t.Error("another family's child in the summary")
	}
	abs, err := f.bk.DayAbsences(ctx, f.tenant, f.school, monday)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(abs)
	want := []int64{f.emma.ID, f.lucas.ID}
	slices.Sort(want)
	if !slices.Equal(abs, want) {
		t.Errorf("absent on 30 November = %v, want Emma and Lucas %v", abs, want)
	}
	if got, err := f.bk.Get(ctx, f.tenant, b.ID); err != nil || got.Status != booking.StatusCancelled {
		t.Errorf("Lucas's booking after the report: %v, %v", got.Status, err)
	}
	// No child chosen: the form again, with the reason.
	code, page = anne.post("/portal/bookings", url.Values{"action": {"sick"}, "from": {"2026-11-30"}, "until": {"2026-11-30"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "Choisissez au moins un enfant.") {
		t.Errorf("no child: %d", code)
	}
	// A weekend for everyone: a reason per child, nothing recorded.
	_, page = anne.post("/portal/bookings", url.Values{"action": {"sick"}, "child": {emmaKey}, "from": {"2026-11-28"}, "until": {"2026-11-29"}})
	if emma := resultOf(t, page, f.emma.ID); !strings.Contains(emma, `data-reason="portal.bookings.sick_closed"`) {
		t.Errorf("weekend report:\n%s", emma)
	}
}
