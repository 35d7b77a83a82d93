package backoffice

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestLoginReturnsToThePageAsked walks the staff login as a browser does:
// a back-office page asked for without a session leads to the login, the
// login page carries the address in its form, and signing in lands on it;
// an accountant without an address lands on the back office, not on the
// stations; an address elsewhere is refused.
func TestLoginReturnsToThePageAsked(t *testing.T) {
	f := newFixture(t)

	signIn := func(asked, login, password string) (string, string) {
		t.Helper()
		c := f.anonymous()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+asked, nil)
		resp, _ := c.do(req)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("GET %s without a session: %d", asked, resp.StatusCode)
		}
		toLogin := resp.Header.Get("Location")
		st, body := c.get(toLogin)
		if st != http.StatusOK {
			t.Fatalf("GET %s: %d", toLogin, st)
		}
		m := csrfRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token on %s", toLogin)
		}
		c.csrf = m[1]
		form := url.Values{"login": {login}, "password": {password}}
		if m := nextRE.FindStringSubmatch(body); m != nil {
			form.Set("next", strings.ReplaceAll(m[1], "&amp;", "&"))
		}
		st, _, loc := c.post("/staff/login", form)
		if st != http.StatusSeeOther {
			t.Fatalf("login %s: %d", login, st)
		}
		if st, _ := c.get(loc); st != http.StatusOK {
			t.Errorf("%s after login: GET %s: %d", login, loc, st)
		}
		return toLogin, loc
	}

	for _, tc := range []struct{ asked, login, password, want string }{
		{"/admin/books", "accountant", "demo-accountant", "/admin/books"},
		{"/admin/", "admin", "demo-admin", "/admin/"},
		{"/admin/pupils?q=Emma", "admin", "demo-admin", "/admin/pupils?q=Emma"},
	} {
		toLogin, loc := signIn(tc.asked, tc.login, tc.password)
		if !strings.HasPrefix(toLogin, "/staff/login?next=") {
			t.Errorf("GET %s without a session: to %q", tc.asked, toLogin)
		}
		if loc != tc.want {
			t.Errorf("%s asked %s, landed on %q", tc.login, tc.asked, loc)
		}
	}

	// No address: the accountant lands on the back office, a station
	// worker on the stations; an address outside the staff screens and
	// the back office, or the login itself, is refused.
	for _, tc := range []struct{ next, login, password, want string }{
		{"", "accountant", "demo-accountant", "/admin/"},
		{"", "admin", "demo-admin", "/staff/"},
		{"//evil.example/admin", "accountant", "demo-accountant", "/admin/"},
		{"https://evil.example/admin/", "admin", "demo-admin", "/staff/"},
		{"/admin/../portal/", "admin", "demo-admin", "/staff/"},
		{"/portal/", "admin", "demo-admin", "/staff/"},
		{"/administrator", "admin", "demo-admin", "/staff/"},
		{"/staff/login?next=/admin/books", "accountant", "demo-accountant", "/admin/"},
		{"/staff/stations/canteen-1", "admin", "demo-admin", "/staff/stations/canteen-1"},
	} {
		c := f.anonymous()
		_, body := c.get("/staff/login?next=" + url.QueryEscape(tc.next))
		m := csrfRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF token on the login page")
		}
		c.csrf = m[1]
		if got := nextRE.FindStringSubmatch(body); (got != nil) != (tc.want == tc.next) {
			t.Errorf("login page for next=%q: hidden next %v", tc.next, got)
		}
		st, _, loc := c.post("/staff/login", url.Values{"login": {tc.login}, "password": {tc.password}, "next": {tc.next}})
		if st != http.StatusSeeOther || loc != tc.want {
			t.Errorf("%s with next=%q: %d to %q, want %q", tc.login, tc.next, st, loc, tc.want)
		}
	}
}

var nextRE = regexp.MustCompile(`name="next" value="([^"]+)"`)
