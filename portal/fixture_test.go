package portal_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/db"
	"tartine/internal/dbtest"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/internal/mail/mailtest"
	"tartine/internal/password"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/payments"
	"tartine/portal"
	"tartine/school"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// stubTopUps stands in for payments.Stripe: it records the request and sends
// the browser to a local "checkout" page.
type stubTopUps struct {
	mu   sync.Mutex
	base string
	reqs []payments.TopUpRequest
	// stmts are the statement payments started (StartStatementPayment).
	stmts []payments.StatementPaymentRequest
}

func (s *stubTopUps) StartTopUp(_ context.Context, req payments.TopUpRequest) (payments.TopUp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
	id := uuid.New()
	return payments.TopUp{ID: id, CheckoutURL: s.base + "/fake-checkout/" + id.String()}, nil
}

// StartStatementPayment records a statement payment and sends the browser
// to the local "checkout" page.
func (s *stubTopUps) StartStatementPayment(_ context.Context, req payments.StatementPaymentRequest) (payments.TopUp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stmts = append(s.stmts, req)
	id := uuid.New()
	return payments.TopUp{ID: id, CheckoutURL: s.base + "/fake-checkout/" + id.String()}, nil
}

func (s *stubTopUps) Limits() (decimal.Decimal, decimal.Decimal) {
	return payments.DefaultMinTopUp, payments.DefaultMaxTopUp
}

// fixture is a running portal with two families of one school:
// family A (Anne) with Emma and Lucas, family B (Bruno) with Zoé.
type fixture struct {
	t      testing.TB
	url    string
	app    *portal.App
	clk    *clock
	smtp   *mailtest.Server
	topups *stubTopUps
	led    *ledger.Ledger
	bk     *booking.Manager
	tenant int64
	school int64
	emma   school.Pupil
	lucas  school.Pupil
	zoe    school.Pupil
	anne   school.Guardian
	bruno  school.Guardian
	// Zoé's booking, for cross-family cancellation attempts.
	zoeBooking booking.Booking
	guard      *db.Guard
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	// Guarded: a test fails when code asks for a second connection while
	// holding one; the guard also counts the statements of a page.
	pool, guard := dbtest.Guarded(t, 0)
	brussels, _ := time.LoadLocation("Europe/Brussels")
	// Thursday 26 November 2026, 20:00: Monday 30's cut-off is Friday 09:00.
	f := &fixture{t: t, clk: &clock{t: time.Date(2026, 11, 26, 20, 0, 0, 0, brussels)}, guard: guard}
	f.led = ledger.New(pool, f.clk.Now)
	st := school.New(pool, f.led, f.clk.Now)
	f.bk = booking.New(pool, f.led, f.clk.Now)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ten, err := st.EnsureTenant(ctx, "po-test", "PO de test")
	must(err)
	f.tenant = ten.ID
	sch, err := st.EnsureSchool(ctx, f.tenant, school.SchoolInput{Code: "parc", Name: "École du Parc", IBAN: "BE68539007547034", Beneficiary: "PO du Parc"})
	must(err)
	f.school = sch.ID
	cls, err := st.EnsureClass(ctx, f.tenant, sch.ID, "P3A", "P3")
	must(err)
	pupil := func(first, last string) school.Pupil {
		p, err := st.CreatePupil(ctx, f.tenant, school.PupilInput{SchoolID: sch.ID, ClassID: cls.ID, FirstName: first, LastName: last}, "test")
		must(err)
		return p
	}
	f.emma, f.lucas, f.zoe = pupil("Emma", "Dupont"), pupil("Lucas", "Dupont"), pupil("Zoé", "Martin")
	f.anne, err = st.CreateGuardian(ctx, f.tenant, school.GuardianInput{FirstName: "Anne", LastName: "Dupont", Email: "anne@example.be"}, "test")
	must(err)
	f.bruno, err = st.CreateGuardian(ctx, f.tenant, school.GuardianInput{FirstName: "Bruno", LastName: "Martin", Email: "bruno@example.be"}, "test")
	must(err)
	must(st.LinkGuardian(ctx, f.tenant, f.anne.ID, f.emma.ID, "mère", "test"))
	must(st.LinkGuardian(ctx, f.tenant, f.anne.ID, f.lucas.ID, "mère", "test"))
	must(st.LinkGuardian(ctx, f.tenant, f.bruno.ID, f.zoe.ID, "père", "test"))
	must(f.bk.EnsureMealType(ctx, f.tenant, booking.MealType{Code: "repas", Name: "Repas", Subsidised: true, Position: 1}))
	_, err = f.bk.AddMealTariff(ctx, f.tenant, booking.MealTariff{SchoolID: sch.ID, MealType: "repas", Level: "*",
		BookedPrice: decimal.RequireFromString("3.70"), UnbookedPrice: decimal.RequireFromString("4.20"), ValidFrom: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	must(err)
	_, err = f.bk.GenerateYear(ctx, f.tenant, sch.ID, 2026)
	must(err)
	bank, err := f.led.AccountByCode(ctx, f.tenant, "bank")
	must(err)
	fund := func(p school.Pupil, amount string) {
		_, err := f.led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "fund:" + p.FirstName, Kind: "bank-transfer",
			Actor: "test", Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.RequireFromString(amount)},
				{AccountID: p.WalletAccountID, Amount: decimal.RequireFromString(amount).Neg()}}})
		must(err)
	}
	fund(f.emma, "8.00")
	fund(f.lucas, "30.00")
	fund(f.zoe, "50.00")
	f.zoeBooking, err = f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.zoe.ID, Day: time.Date(2026, 12, 1, 0, 0, 0, 0, brussels), Service: "repas", Actor: "test"})
	must(err)

	f.smtp = mailtest.Start(t, "", "")
	sender, err := mail.NewSMTP(mail.Config{Addr: f.smtp.Addr, From: "Tartine <noreply@ecole.be>"}, f.clk.Now)
	must(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	f.url = "http://" + ln.Addr().String()
	sessions, err := websession.New(pool, websession.Config{BaseURL: f.url, CookieName: "tartine_portal", Now: f.clk.Now})
	must(err)
	cat, err := i18n.New()
	must(err)
	f.topups = &stubTopUps{base: f.url}
	f.app, err = portal.New(portal.Deps{Pool: pool, Ledger: f.led, School: st, Booking: f.bk, Sessions: sessions, Catalog: cat,
		Mail: sender, TopUps: f.topups, Now: f.clk.Now, BaseURL: f.url,
		Throttle: websession.NewThrottle(pool, websession.ThrottleConfig{Scope: "guardian", Now: f.clk.Now, PerAccount: 5, Window: 15 * time.Minute}),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(err)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(gin.Recovery())
	f.app.Routes(r)
	r.GET("/fake-checkout/:id", func(c *gin.Context) {
		c.Data(200, "text/html; charset=utf-8", []byte(`<!doctype html><title>Checkout</title><h1 id="checkout">Stripe Checkout (stub) `+c.Param("id")+`</h1>`))
	})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: r}}
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// register creates Anne's account from an invitation and returns her client.
func (f *fixture) accountFor(g school.Guardian, email, pw string) *client {
	f.t.Helper()
	inv, err := f.app.IssueInvitation(context.Background(), f.tenant, g.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	c := f.client()
	c.get("/portal/register?code=" + inv.Code)
	code, body := c.post("/portal/register", url.Values{"code": {inv.Code}, "email": {email}, "password": {pw}, "password2": {pw}})
	if code != http.StatusOK || !strings.Contains(body, "Bienvenue") {
		f.t.Fatalf("register %s: %d\n%s", email, code, body)
	}
	return c
}

// client is a cookie-keeping HTTP client that follows redirects and fills
// the CSRF token of the last page.
type client struct {
	t    testing.TB
	f    *fixture
	http *http.Client
	csrf string
	last *http.Response
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, f: f, http: &http.Client{Jar: jar}}
}

func (c *client) do(req *http.Request) (int, string) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.last = resp
	if m := csrfRe.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.f.url+path, nil)
	return c.do(req)
}

// post sends a form with the current CSRF token (unless vals sets one).
func (c *client) post(path string, vals url.Values) (int, string) {
	c.t.Helper()
	return c.postWith(path, vals, nil)
}

func (c *client) postWith(path string, vals url.Values, hdr map[string]string) (int, string) {
	c.t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	if _, ok := vals["csrf_token"]; !ok {
		vals.Set("csrf_token", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.f.url+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.do(req)
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.f.url)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func childPath(tenant int64, p school.Pupil) string {
	return fmt.Sprintf("/portal/c/%d/%d", tenant, p.ID)
}

var _ = password.Hash
