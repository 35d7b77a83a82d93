package backoffice

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/dbtest"
	"tartine/internal/i18n"
	"tartine/internal/testclock"
	"tartine/internal/websession"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/school"
	"tartine/staff"
	"tartine/terminal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fixture is a server with the demo tenant (school.SeedDemo and
// booking.SeedDemo), the real staff login of package terminal, its device
// API and the back office, mounted as cmd/tartine mounts them.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	srv   *httptest.Server
	led   *ledger.Ledger
	store *school.Store
	book  *booking.Manager
	demo  school.DemoInfo
	now   time.Time
	pool  *pgxpool.Pool
	// families relays the back office's notices to the families to the
	// notifier a test sets (the portal's mailer); none by default.
	families *familiesRelay
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	f := &fixture{t: t, ctx: ctx, now: testclock.Now(), pool: pool, families: &familiesRelay{}}
	f.led = ledger.New(pool, testclock.Now)
	f.book = booking.New(pool, f.led, testclock.Now)
	// As the server wires it (cmd/tartine/routes.go): a leaving cancels bookings.
	f.store = school.New(pool, f.led, testclock.Now, school.WithBookingCanceller(f.book.CancelLeavingTx))
	var err error
	if f.demo, err = school.SeedDemo(ctx, f.store); err != nil {
		t.Fatal(err)
	}
	if err := booking.SeedDemo(ctx, pool, f.led, f.demo.TenantID, testclock.Now); err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	sessions, err := websession.New(pool, websession.Config{BaseURL: f.srv.URL, CookieName: StaffCookie, Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := terminal.New(terminal.Config{Pool: pool, Ledger: f.led, School: f.store, Booking: f.book, CacheTTL: time.Nanosecond, Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc.MountDeviceAPI(r)
	desk, err := kiosk.New(kiosk.Config{Pool: pool, Ledger: f.led, School: f.store, Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	web, err := staff.New(staff.Deps{Taps: svc, Kiosk: desk, School: f.store, Ledger: f.led, Sessions: sessions, Catalog: cat, Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	web.Mount(r)
	app, err := New(Deps{Pool: pool, School: f.store, Booking: f.book, Ledger: f.led, Sessions: sessions, Catalog: cat, BaseURL: f.srv.URL,
		Families: f.families, Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	app.Mount(r)
	return f
}

// client is a browser: a cookie jar, no automatic redirects, and the CSRF
// token of its session.
type client struct {
	f    *fixture
	http *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// anonymous returns a client with no session.
func (f *fixture) anonymous() *client {
	jar, _ := cookiejar.New(nil)
	return &client{f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login logs in on the staff login page (terminal) and returns the client.
func (f *fixture) login(login, password string) *client {
	f.t.Helper()
	c := f.anonymous()
	_, body := c.get("/staff/login")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("no CSRF token on the login page")
	}
	c.csrf = m[1]
	st, _, loc := c.post("/staff/login?next=/staff/admin", url.Values{"login": {login}, "password": {password}})
	if st != http.StatusSeeOther || loc != "/staff/admin" {
		f.t.Fatalf("login %s: status %d to %q", login, st, loc)
	}
	st, body = c.get("/staff/admin")
	if st != http.StatusSeeOther {
		f.t.Fatalf("GET /staff/admin: %d", st)
	}
	// A fresh session after login: take its token from a page.
	if st, body = c.get("/staff/"); st != http.StatusOK {
		f.t.Fatalf("GET /staff/: %d", st)
	}
	if m = csrfRE.FindStringSubmatch(body); m == nil {
		f.t.Fatalf("no CSRF token after login")
	}
	c.csrf = m[1]
	return c
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.f.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.f.t.Fatal(err)
	}
	if i := strings.Index(string(b), "⟦"); i >= 0 {
		c.f.t.Errorf("%s %s: missing message %.60s", req.Method, req.URL.Path, b[i:])
	}
	return resp, string(b)
}

// get fetches path and returns the status and body.
func (c *client) get(path string) (int, string) {
	c.f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.f.srv.URL+path, nil)
	resp, body := c.do(req)
	return resp.StatusCode, body
}

// getResp fetches path and returns the response (body read) and body.
func (c *client) getResp(path string) (*http.Response, string) {
	c.f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.f.srv.URL+path, nil)
	return c.do(req)
}

// post submits a same-origin form with the session's CSRF token and
// returns the status, body and Location.
func (c *client) post(path string, form url.Values) (int, string, string) {
	c.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if c.csrf != "" && form.Get("csrf_token") == "" {
		form.Set("csrf_token", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.f.srv.URL)
	resp, body := c.do(req)
	return resp.StatusCode, body, resp.Header.Get("Location")
}

// follow posts and, on a 303, fetches the page it leads to.
func (c *client) follow(path string, form url.Values) (int, string) {
	c.f.t.Helper()
	st, body, loc := c.post(path, form)
	if st != http.StatusSeeOther {
		return st, body
	}
	return c.get(loc)
}

func (f *fixture) pupil(name string) school.Pupil {
	f.t.Helper()
	p, err := f.store.Pupil(f.ctx, f.demo.TenantID, f.demo.Pupils[name])
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func i18nEUR(d decimal.Decimal) string { return i18n.FormatEUR(d, "fr") }
