package backoffice

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"tartine/booking"
)

// TestKitchenListSickDays: a child reported sick before the cut-off has no
// meal any more and is listed as absent; one reported after it keeps the
// booking (charged) and stays on the meal and daycare lists marked
// « absent (malade) », but the kitchen does not count the meal.
func TestKitchenListSickDays(t *testing.T) {
	f := newKitchenFixture(t)
	for _, n := range []string{"Emma", "Léa", "Victor"} {
		f.bookFor(n, "repas")
	}
	f.bookFor("Léa", booking.DaycareEvening)
	sick := func(name string) booking.SickReport {
		t.Helper()
		rep, err := f.book.ReportSick(f.ctx, booking.SickRequest{TenantID: f.tenant, PupilID: f.pupils[name].ID, From: kitchenDay, Until: kitchenDay, Actor: "guardian:1"})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// Monday 30 November 10:00, before Thursday's cut-off: released.
	if rep := sick("Emma"); rep.Count(booking.SickReleased) != 1 {
		t.Fatalf("Emma's report = %+v, want her meal released", rep)
	}
	// Wednesday 2 December noon, after the cut-off: kept.
	f.clk.Set(time.Date(2026, 12, 2, 12, 0, 0, 0, brussels()))
	if rep := sick("Léa"); rep.Count(booking.SickKept) != 2 {
		t.Fatalf("Léa's report = %+v, want her meal and daycare kept", rep)
	}
	c := f.login("admin", "demo-admin-kitchen")
	st, page := c.get("/admin/kitchen?day=2026-12-03")
	if st != http.StatusOK {
		t.Fatalf("GET kitchen: %d", st)
	}
	meal := section(t, page, `id="meal-repas"`)
	if got := regexp.MustCompile(`<span class="total">(\d+)</span>`).FindStringSubmatch(meal); got == nil || got[1] != "1" {
		t.Errorf("meal total = %v, want 1 (Victor; Emma released, Léa sick)", got)
	}
	if !regexp.MustCompile(`Léa Kiwi <span class="muted">P3A</span> <strong class="absent-mark">absent \(malade\)</strong>`).MatchString(meal) {
		t.Errorf("Léa is not marked absent on the meal list:\n%s", meal)
	}
	if strings.Contains(meal, "Emma") {
		t.Errorf("Emma's released meal is on the list")
	}
	absent := section(t, page, `id="absent"`)
	if !strings.Contains(absent, "Emma Dubois") || !strings.Contains(absent, "Léa Kiwi") || strings.Contains(absent, "Victor") {
		t.Errorf("absent list:\n%s", absent)
	}
	day := section(t, page, `id="daycare"`)
	if evening := day[strings.Index(day, `id="daycare-daycare-evening"`):]; !strings.Contains(evening, `absent (malade)`) {
		t.Errorf("daycare list does not mark Léa absent:\n%s", evening)
	}
}
