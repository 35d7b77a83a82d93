package backoffice

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/dbtest"
	"tartine/internal/i18n"
	"tartine/internal/websession"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/school"
	"tartine/staff"
	"tartine/terminal"
)

// fixedClock is a clock the test moves.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// kitchenFixture is a school with two classes, pupils with allergies (one
// outside the EU 14, in the notes), diets, the meal type "repas", daycare,
// an admin and the back office on a fixed clock.
type kitchenFixture struct {
	*fixture
	clk    *fixedClock
	tenant int64
	school int64
	pupils map[string]school.Pupil
	svc    *terminal.Service
}

var kitchenDay = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC) // Thursday 3 December 2026

func newKitchenFixture(t *testing.T) *kitchenFixture {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	clk := &fixedClock{t: time.Date(2026, 11, 30, 10, 0, 0, 0, brussels())}
	f := &kitchenFixture{fixture: &fixture{t: t, ctx: ctx, pool: pool, families: &familiesRelay{}}, clk: clk, pupils: map[string]school.Pupil{}}
	f.led = ledger.New(pool, clk.Now)
	f.store = school.New(pool, f.led, clk.Now)
	f.book = booking.New(pool, f.led, clk.Now)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ten, err := f.store.EnsureTenant(ctx, "po-k", "PO cuisine")
	must(err)
	f.tenant = ten.ID
	sch, err := f.store.EnsureSchool(ctx, f.tenant, school.SchoolInput{Code: "tilleuls", Name: "École des Tilleuls"})
	must(err)
	f.school = sch.ID
	p3, err := f.store.EnsureClass(ctx, f.tenant, sch.ID, "P3A", "P3")
	must(err)
	p1, err := f.store.EnsureClass(ctx, f.tenant, sch.ID, "P1A", "P1")
	must(err)
	for _, p := range []school.PupilInput{
		{ClassID: p3.ID, FirstName: "Emma", LastName: "Dubois", Allergens: []school.Allergen{school.Peanuts}},
		{ClassID: p3.ID, FirstName: "Léa", LastName: "Kiwi", AllergyNotes: "kiwi — épipen dans le cartable"},
		{ClassID: p3.ID, FirstName: "Victor", LastName: "Maes", Diet: []school.Diet{school.Vegetarian}},
		{ClassID: p1.ID, FirstName: "Lina", LastName: "El Amrani", Diet: []school.Diet{school.NoPork}, Allergens: []school.Allergen{school.Peanuts}},
		{ClassID: p1.ID, FirstName: "Adam", LastName: "Vermeulen"},
	} {
		p.SchoolID = sch.ID
		pp, err := f.store.CreatePupil(ctx, f.tenant, p, "test")
		must(err)
		f.pupils[p.FirstName] = pp
	}
	_, err = f.store.CreateStaff(ctx, f.tenant, school.StaffInput{Login: "admin", Name: "Admin", Password: "demo-admin-kitchen", Roles: []school.Role{school.RoleAdmin}}, "test")
	must(err)
	must(f.book.EnsureMealType(ctx, f.tenant, booking.MealType{Code: "repas", Name: "Repas complet", Subsidised: true}))
	_, err = f.book.AddMealTariff(ctx, f.tenant, booking.MealTariff{SchoolID: sch.ID, MealType: "repas", Level: "*",
		BookedPrice: decimal.Zero, UnbookedPrice: decimal.Zero, ValidFrom: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	must(err)
	capAmt := decimal.RequireFromString("5.00")
	_, err = f.book.AddDaycareTariff(ctx, f.tenant, booking.DaycareTariff{SchoolID: sch.ID, Level: "*", PeriodMinutes: 30,
		PeriodPrice: decimal.RequireFromString("0.80"), DailyCap: &capAmt, Opens: booking.MustClock("07:00"), Closes: booking.MustClock("18:00"),
		ValidFrom: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	must(err)
	_, err = f.book.GenerateYear(ctx, f.tenant, sch.ID, 2026)
	must(err)
	_, err = f.store.EnsureStation(ctx, f.tenant, school.StationInput{SchoolID: sch.ID, Code: "daycare-1", Name: "Garderie", Kind: school.Daycare}, "test")
	must(err)

	cat, err := i18n.New()
	must(err)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	sessions, err := websession.New(pool, websession.Config{BaseURL: f.srv.URL, CookieName: StaffCookie, Now: clk.Now})
	must(err)
	f.svc, err = terminal.New(terminal.Config{Pool: pool, Ledger: f.led, School: f.store, Booking: f.book, CacheTTL: time.Nanosecond, Now: clk.Now})
	must(err)
	f.svc.MountDeviceAPI(r)
	desk, err := kiosk.New(kiosk.Config{Pool: pool, Ledger: f.led, School: f.store, Now: clk.Now})
	must(err)
	web, err := staff.New(staff.Deps{Taps: f.svc, Kiosk: desk, School: f.store, Ledger: f.led, Sessions: sessions, Catalog: cat, Now: clk.Now})
	must(err)
	web.Mount(r)
	present := func(ctx context.Context, tenantID, schoolID int64) ([]DaycarePresence, error) {
		ps, err := f.svc.PresentInSchool(ctx, tenantID, schoolID)
		out := make([]DaycarePresence, len(ps))
		for i, p := range ps {
			out[i] = DaycarePresence{PupilID: p.PupilID, Since: p.Since}
		}
		return out, err
	}
	app, err := New(Deps{Pool: pool, School: f.store, Booking: f.book, Ledger: f.led, Sessions: sessions, Catalog: cat, BaseURL: f.srv.URL,
		Families: f.families, Now: clk.Now, Present: present})
	must(err)
	app.Mount(r)
	return f
}

func (f *kitchenFixture) bookFor(name string, service booking.Service) booking.Booking {
	f.t.Helper()
	b, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.pupils[name].ID, Day: kitchenDay, Service: service, Actor: "test"})
	if err != nil {
		f.t.Fatalf("book %s %s: %v", name, service, err)
	}
	return b
}

// TestKitchenList: the list of a day counts the meals per class, per
// allergen (an allergy outside the EU 14 included, with its note) and per
// diet, names the children, leaves out a cancelled booking, says whether
// the cut-off has passed, and lists the daycare's expected children; its
// CSV has the same lines, formula-safe.
func TestKitchenList(t *testing.T) {
	f := newKitchenFixture(t)
	for _, n := range []string{"Emma", "Léa", "Victor", "Lina", "Adam"} {
		f.bookFor(n, "repas")
	}
	if _, err := f.book.Cancel(f.ctx, f.tenant, f.bookFor("Victor", booking.DaycareEvening).ID, "test"); err != nil {
		t.Fatal(err)
	}
	adam, err := f.book.BookingFor(f.ctx, f.tenant, f.pupils["Adam"].ID, kitchenDay, "repas")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.book.Cancel(f.ctx, f.tenant, adam.ID, "test"); err != nil {
		t.Fatal(err)
	}
	f.bookFor("Léa", booking.DaycareEvening)
	f.bookFor("Emma", booking.DaycareMorning)
	// A formula typed as a note reaches the CSV defused.
	lina := f.pupils["Lina"]
	_, err = f.store.UpdatePupil(f.ctx, f.tenant, lina.ID, school.PupilInput{SchoolID: lina.SchoolID, ClassID: lina.ClassID,
		FirstName: "Lina", LastName: "El Amrani", Diet: lina.Diet, Allergens: lina.Allergens, AllergyNotes: "=HYPERLINK(\"x\")"}, "test")
	if err != nil {
		t.Fatal(err)
	}

	c := f.login("admin", "demo-admin-kitchen")
	path := "/admin/kitchen?day=2026-12-03"
	st, page := c.get(path)
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d", path, st)
	}
	meal := section(t, page, `id="meal-repas"`)
	if got := regexp.MustCompile(`<span class="total">(\d+)</span>`).FindStringSubmatch(meal); got == nil || got[1] != "4" {
		t.Errorf("meal total = %v, want 4 (Adam cancelled)", got)
	}
	for _, want := range []string{
		`<td>P1A</td><td class="num">1</td>`, `<td>P3A</td><td class="num">3</td>`,
		`data-flag="peanuts"><th scope="row">⚠ Arachides</th><td class="num">2</td>`,
		`data-flag="notes"><th scope="row">⚠ Autre allergie (remarque)</th><td class="num">2</td>`,
		`Léa Kiwi (P3A) — <em>kiwi — épipen dans le cartable</em>`,
		`data-flag="vegetarian"`, `data-flag="no-pork"`,
		`Lina El Amrani (P1A) · Emma Dubois (P3A)`,
	} {
		if !strings.Contains(meal, want) {
			t.Errorf("kitchen list misses %q", want)
		}
	}
	if strings.Contains(meal, "Adam") {
		t.Errorf("a cancelled meal is on the list")
	}
	if !strings.Contains(page, "Liste provisoire") {
		t.Errorf("before the cut-off the list should say it may change")
	}
	day := section(t, page, `id="daycare"`)
	evening := day[strings.Index(day, `id="daycare-daycare-evening"`):]
	if !strings.Contains(evening, "Léa Kiwi") || strings.Contains(evening, "Victor") {
		t.Errorf("evening daycare should list Léa only (Victor cancelled):\n%s", evening)
	}

	// The evening before, after the cut-off (Wednesday 09:00): final.
	f.clk.Set(time.Date(2026, 12, 2, 18, 0, 0, 0, brussels()))
	c = f.login("admin", "demo-admin-kitchen") // the session of Monday has expired
	if _, page = c.get(path); !strings.Contains(page, "Liste définitive") {
		t.Errorf("after the cut-off the list should say it is final")
	}

	resp, csv := c.getResp("/admin/kitchen.csv?day=2026-12-03")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV content type = %q", ct)
	}
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(csv, "\ufeff")), "\r\n")
	if len(lines) != 1+4+2 { // header, 4 meals, 2 daycare
		t.Errorf("CSV has %d lines, want 7:\n%s", len(lines), csv)
	}
	for _, want := range []string{
		"03/12/2026;École des Tilleuls;Repas complet;P3A;Léa Kiwi;;kiwi — épipen dans le cartable;",
		"03/12/2026;École des Tilleuls;Repas complet;P3A;Emma Dubois;Arachides;;",
		"'=HYPERLINK",
		"Garderie du soir;P3A;Léa Kiwi",
	} {
		if !strings.Contains(csv, want) {
			t.Errorf("CSV misses %q:\n%s", want, csv)
		}
	}
}

// TestDaycarePresentNow: on the day itself the daycare list says who is
// checked in now.
func TestDaycarePresentNow(t *testing.T) {
	f := newKitchenFixture(t)
	f.bookFor("Léa", booking.DaycareEvening)
	f.clk.Set(time.Date(2026, 12, 3, 15, 40, 0, 0, brussels()))
	r, err := f.svc.Apply(f.ctx, f.tenant, "staff:test", terminal.Tap{ID: "0190f1c2-0000-7000-8000-000000000001", Station: "daycare-1",
		UID: fmt.Sprint("PUPIL:", f.pupils["Léa"].ID), Tech: "manual", ReadAt: f.clk.Now()})
	if err != nil || r.Verdict != "accepted" {
		t.Fatalf("check-in: %+v %v", r, err)
	}
	c := f.login("admin", "demo-admin-kitchen")
	_, page := c.get("/admin/kitchen?day=2026-12-03")
	now := page[strings.Index(page, `id="present-now"`):]
	if !strings.Contains(now, `<span class="total">1</span>`) || !strings.Contains(now, "Léa Kiwi") || !strings.Contains(now, "depuis 15:40") {
		t.Errorf("present now:\n%.600s", now)
	}
}

// section returns the HTML from the element carrying attr to the end of
// its section.
func section(t *testing.T, page, attr string) string {
	t.Helper()
	i := strings.Index(page, attr)
	if i < 0 {
		t.Fatalf("no %s on the page", attr)
	}
	s := page[i:]
	if j := strings.Index(s, "</section>"); j >= 0 {
		s = s[:j]
	}
	return s
}
