package portal_test

import (
	"context"
	"net/http"
	"net/url"
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

// TestAccountInMemory (issue 17): a page reads the logged-in account once
// in a while, not on every request; a change of the account (here the
// language switch) is read again at once, and the settings saved apply on
// the next page.
func TestAccountInMemory(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	anne.queries("/portal/")
	kept := anne.queries("/portal/")
	if again := anne.queries("/portal/"); again != kept {
		t.Fatalf("home: %d statements, then %d", kept, again)
	}
	// The switch writes the language and lands on home: one statement
	// more than home for the write, one more for reading the account again
	// (before: the account was read by every page, home's count included).
	before := anne.f.guard.Queries()
	if code, _ := anne.post("/portal/lang", url.Values{"lang": {"en"}, "back": {"/portal/"}}); code != http.StatusOK {
		t.Fatalf("language switch: %d", code)
	}
	if n := anne.f.guard.Queries() - before; n != kept+2 {
		t.Errorf("language switch and home: %d statements, want %d (home's %d, the write, the account read again)", n, kept+2, kept)
	}
	if n := anne.queries("/portal/"); n != kept {
		t.Errorf("home after that: %d statements, want %d", n, kept)
	}
	if _, body := anne.get("/portal/"); !strings.Contains(body, `<html lang="en">`) {
		t.Error("home not in English after the switch")
	}
	// Settings saved: the next page has them.
	anne.get("/portal/settings")
	if code, _ := anne.post("/portal/settings", url.Values{"threshold": {"7,50"}, "alert": {"on"}, "language": {"fr"}, "email_topups": {"on"}, "email_bookings": {"on"}}); code != http.StatusOK && code != http.StatusSeeOther {
		t.Fatalf("settings: %d", code)
	}
	if _, body := anne.get("/portal/"); !strings.Contains(body, `<html lang="fr">`) {
		t.Error("home not in French after saving the settings")
	}
}
