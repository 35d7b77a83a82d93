package portal_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"tartine/booking"
	"tartine/school"
)

// queries returns how many statements GET path sent to the database.
func (c *client) queries(path string) int64 {
	c.t.Helper()
	before := c.f.guard.Queries()
	if code, body := c.get(path); code != http.StatusOK {
		c.t.Fatalf("GET %s: %d\n%s", path, code, body)
	}
	return c.f.guard.Queries() - before
}

// TestPagesQueryCount is issue 17's "cheap pages": home, bookings and
// history read their data in at most 5 statements whatever the number of
// children and of days — besides the 3 of every page behind the login
// (the session, the account, and for a child's page the access check).
// Before, the bookings page computed each open day's cut-off with three
// queries (about 60 for a month) and home read 2 per child.
func TestPagesQueryCount(t *testing.T) {
	const perPage, budget = 3, 5
	f := newFixture(t)
	ctx := context.Background()
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	brussels, _ := time.LoadLocation("Europe/Brussels")
	// Bookings on several days for Lucas.
	for _, day := range []int{30} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: time.Date(2026, 11, day, 0, 0, 0, 0, brussels), Service: "repas", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, day := range []int{1, 3, 4, 7, 8} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: time.Date(2026, 12, day, 0, 0, 0, 0, brussels), Service: "repas", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	lucas := childPath(f.tenant, f.lucas)
	pages := []struct {
		name  string
		paths []string // the same page with more children, days or lines: the same count
		fixed int      // statements of the login and access check
	}{
		{"home", []string{"/portal/"}, perPage - 1},
		{"bookings", []string{lucas + "/bookings?month=2026-11", lucas + "/bookings?month=2026-12", lucas + "/bookings?month=2027-02"}, perPage},
		{"history", []string{lucas + "/history?month=2026-11", lucas + "/history?month=2026-12"}, perPage},
	}
	// Warm the caches (account properties, time zones) as a running server has.
	for _, p := range pages {
		for _, path := range p.paths {
			anne.queries(path)
		}
	}
	counts := map[string]int64{}
	for _, p := range pages {
		for _, path := range p.paths {
			n := anne.queries(path)
			t.Logf("%s: %d statements", path, n)
			if n-int64(p.fixed) > budget {
				t.Errorf("%s: %d statements (%d for its data), want at most %d for its data", path, n, n-int64(p.fixed), budget)
			}
			if prev, ok := counts[p.name]; ok && prev != n {
				t.Errorf("%s: %d statements, %d for another month: the count depends on the days", path, n, prev)
			}
			counts[p.name] = n
		}
	}
	// A third child (Zoé, linked to Anne too): home costs the same.
	before := counts["home"]
	st := school.New(f.led.Pool(), f.led, f.clk.Now)
	if err := st.LinkGuardian(ctx, f.tenant, f.anne.ID, f.zoe.ID, "mère", "test"); err != nil {
		t.Fatal(err)
	}
	anne.queries("/portal/")
	if n := anne.queries("/portal/"); n != before {
		t.Errorf("home with 3 children: %d statements, with 2: %d", n, before)
	}
}

// TestNoMealOnWednesdays: the bookings page offers no meal on a Wednesday
// when the school serves none (the default policy): Book would refuse it
// (a third of the bookings loadgen portal tried were refused so).
func TestNoMealOnWednesdays(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	_, body := anne.get(childPath(f.tenant, f.lucas) + "/bookings?month=2026-12")
	if !strings.Contains(body, `data-action="book-2026-12-01-repas"`) {
		t.Fatalf("no booking offered on Tuesday 1 December:\n%s", body)
	}
	if strings.Contains(body, `data-action="book-2026-12-02-repas"`) {
		t.Error("a meal offered on Wednesday 2 December")
	}
}
