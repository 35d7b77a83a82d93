package websession_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/db"
	"tartine/internal/dbtest"
	"tartine/internal/websession"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a settable test clock.
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

type fixture struct {
	srv   *httptest.Server
	m     *websession.Manager
	clk   *clock
	pool  *pgxpool.Pool
	guard *db.Guard // counts the statements
}

// newFixture serves a tiny app: GET /form shows the token, POST /do needs
// it, POST /login/:id logs in guardian :id, POST /logout, GET /who.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool, guard := dbtest.Guarded(t, 0)
	gin.SetMode(gin.TestMode)
	f := &fixture{clk: &clock{t: time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC)}, pool: pool, guard: guard}
	r := gin.New()
	f.srv = httptest.NewUnstartedServer(r)
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	m, err := websession.New(pool, websession.Config{BaseURL: f.srv.URL, Now: f.clk.Now, IdleTimeout: time.Hour, MaxAge: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	g := r.Group("/", m.Middleware())
	g.GET("/form", func(c *gin.Context) {
		tok, err := m.Token(c)
		if err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, tok)
	})
	g.POST("/do", func(c *gin.Context) { c.String(200, "done") })
	g.POST("/login/:id", func(c *gin.Context) {
		id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
		s, err := m.Login(c, websession.Principal{Kind: websession.KindGuardian, ID: id})
		if err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, s.CSRFToken)
	})
	g.POST("/logout", func(c *gin.Context) {
		if err := m.Logout(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, "bye")
	})
	g.GET("/who", func(c *gin.Context) {
		p := websession.CurrentPrincipal(c)
		if p == nil {
			c.String(200, "nobody")
			return
		}
		c.String(200, "%s:%d", p.Kind, p.ID)
	})
	g.GET("/private", websession.Require(websession.KindGuardian, func(c *gin.Context) { c.String(401, "login") }),
		func(c *gin.Context) { c.String(200, "secret") })
	return f
}

type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, url: f.srv.URL}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(path, token string, hdr map[string]string) (int, string) {
	b.t.Helper()
	form := url.Values{}
	if token != "" {
		form.Set(websession.FieldName, token)
	}
	req, _ := http.NewRequest(http.MethodPost, b.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.url)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	_, tok := b.get("/form")
	if len(tok) < 40 {
		t.Fatalf("token %q too short", tok)
	}
	tests := []struct {
		name  string
		token string
		hdr   map[string]string
		want  int
	}{
		{"token and same origin", tok, map[string]string{"Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin"}, 200},
		{"token, no browser headers", tok, nil, 200},
		{"token in header", "", map[string]string{websession.HeaderName: tok}, 200},
		{"no token", "", nil, 403},
		{"wrong token", tok[:len(tok)-1] + "x", nil, 403},
		{"foreign origin", tok, map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site fetch", tok, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site other host", tok, map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body := b.post("/do", tt.token, tt.hdr)
			if got != tt.want {
				t.Errorf("status = %d (%s), want %d", got, body, tt.want)
			}
		})
	}
	// Another browser's token is worthless here.
	other := f.browser(t)
	_, otherTok := other.get("/form")
	if got, _ := b.post("/do", otherTok, nil); got != 403 {
		t.Errorf("foreign token: status %d, want 403", got)
	}
	// No session at all: refused.
	fresh := f.browser(t)
	if got, _ := fresh.post("/do", tok, nil); got != 403 {
		t.Errorf("no session: status %d, want 403", got)
	}
}

func TestLoginRotatesSession(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	_, tok := b.get("/form")
	before := b.cookie(f.m.CookieName())
	if before == "" {
		t.Fatal("no anonymous session cookie")
	}
	code, newTok := b.post("/login/42", tok, nil)
	if code != 200 {
		t.Fatalf("login: %d %s", code, newTok)
	}
	after := b.cookie(f.m.CookieName())
	if after == "" || after == before {
		t.Fatalf("session id not rotated at login: before %q after %q", before, after)
	}
	if newTok == tok {
		t.Error("CSRF token not rotated at login")
	}
	if _, who := b.get("/who"); who != "guardian:42" {
		t.Errorf("who = %q", who)
	}
	// An attacker who planted (or kept) the pre-login id gets nothing.
	attacker := f.browser(t)
	u, _ := url.Parse(f.srv.URL)
	attacker.c.Jar.SetCookies(u, []*http.Cookie{{Name: f.m.CookieName(), Value: before}})
	if _, who := attacker.get("/who"); who != "nobody" {
		t.Errorf("old id still valid: %q", who)
	}
	if code, _ := attacker.get("/private"); code != 401 {
		t.Errorf("private with old id: %d", code)
	}
	// Old token refused after login.
	if code, _ := b.post("/do", tok, nil); code != 403 {
		t.Errorf("pre-login token accepted after login: %d", code)
	}
	if code, _ := b.post("/do", newTok, nil); code != 200 {
		t.Errorf("new token refused: %d", code)
	}
}

func TestLogoutAndEverywhere(t *testing.T) {
	f := newFixture(t)
	phone, laptop := f.browser(t), f.browser(t)
	login := func(b *browser) string {
		_, tok := b.get("/form")
		_, tok = b.post("/login/7", tok, nil)
		return tok
	}
	tokPhone := login(phone)
	login(laptop)
	if code, _ := phone.post("/logout", tokPhone, nil); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if _, who := phone.get("/who"); who != "nobody" {
		t.Errorf("after logout: %q", who)
	}
	if _, who := laptop.get("/who"); who != "guardian:7" {
		t.Errorf("other device logged out too early: %q", who)
	}
	login(phone)
	n, err := f.m.LogoutEverywhere(t.Context(), websession.Principal{Kind: websession.KindGuardian, ID: 7})
	if err != nil || n != 2 {
		t.Fatalf("LogoutEverywhere = %d, %v; want 2", n, err)
	}
	for _, b := range []*browser{phone, laptop} {
		if _, who := b.get("/who"); who != "nobody" {
			t.Errorf("after logout everywhere: %q", who)
		}
	}
}

// TestSessionCache (issue 17): a logged-in request reads its session from
// memory, not the database; the last-seen time is still written once a
// minute; and a session ended anywhere — Logout, LogoutEverywhere through
// another manager of the process (the back office ending the staff
// screens' sessions), a row deleted by another process — is refused.
func TestSessionCache(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	_, tok := b.get("/form")
	b.post("/login/11", tok, nil)
	b.get("/who") // loads it
	before := f.guard.Queries()
	for range 3 {
		if _, who := b.get("/who"); who != "guardian:11" {
			t.Fatalf("who = %q", who)
		}
	}
	if n := f.guard.Queries() - before; n != 0 {
		t.Errorf("3 requests of a loaded session sent %d statements, want 0", n)
	}
	// Once a minute its last-seen time is written, and the idle limit
	// counts from there.
	f.clk.Add(59 * time.Minute)
	before = f.guard.Queries()
	b.get("/who")
	if n := f.guard.Queries() - before; n != 1 {
		t.Errorf("a request after 59 minutes sent %d statements, want 1 (last seen)", n)
	}
	f.clk.Add(59 * time.Minute)
	if _, who := b.get("/who"); who != "guardian:11" {
		t.Fatalf("session lost while active: %q", who)
	}
	// LogoutEverywhere through another manager (another cookie, the same
	// process) ends it at once.
	other, err := websession.New(f.pool, websession.Config{BaseURL: f.srv.URL, CookieName: "other", Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.LogoutEverywhere(t.Context(), websession.Principal{Kind: websession.KindGuardian, ID: 11}); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.get("/private"); code != 401 {
		t.Errorf("private after logout everywhere: %d", code)
	}
	// A row deleted by another process: refused at the next last-seen
	// write at the latest.
	_, tok = b.get("/form")
	b.post("/login/12", tok, nil)
	b.get("/who")
	if _, err := f.pool.Exec(t.Context(), `DELETE FROM web_sessions WHERE principal_id = 12`); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(2 * time.Minute)
	if _, who := b.get("/who"); who != "nobody" {
		t.Errorf("a session deleted in the database still valid after a minute: %q", who)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	_, tok := b.get("/form")
	b.post("/login/9", tok, nil)
	// Active use keeps it alive past the idle timeout…
	for range 5 {
		f.clk.Add(50 * time.Minute)
		if _, who := b.get("/who"); who != "guardian:9" {
			t.Fatalf("session lost while active: %q", who)
		}
	}
	// …until idle for more than an hour.
	f.clk.Add(61 * time.Minute)
	if _, who := b.get("/who"); who != "nobody" {
		t.Errorf("idle session still valid: %q", who)
	}
	// Absolute lifetime.
	_, tok = b.get("/form")
	b.post("/login/9", tok, nil)
	for range 30 {
		f.clk.Add(55 * time.Minute)
		b.get("/who")
	}
	if _, who := b.get("/who"); who != "nobody" {
		t.Errorf("session older than MaxAge still valid: %q", who)
	}
}

func TestSecureCookie(t *testing.T) {
	pool := dbtest.New(t)
	m, err := websession.New(pool, websession.Config{BaseURL: "https://portail.example.be"})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.GET("/", m.Middleware(), func(c *gin.Context) {
		if _, err := m.Token(c); err != nil {
			c.String(500, err.Error())
		}
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	ck := w.Result().Cookies()
	if len(ck) != 1 {
		t.Fatalf("cookies = %v", ck)
	}
	c := ck[0]
	if c.Name != "__Host-tartine_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie = %+v", c)
	}
	if _, err := websession.New(pool, websession.Config{BaseURL: "portail.example.be"}); err == nil {
		t.Error("relative base URL accepted")
	}
}

func TestThrottle(t *testing.T) {
	pool := dbtest.New(t)
	clk := &clock{t: time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC)}
	th := websession.NewThrottle(pool, websession.ThrottleConfig{Scope: "guardian", Window: 15 * time.Minute, PerAccount: 3, PerIP: 5, Now: clk.Now})
	ctx := t.Context()
	check := func(acct, ip string, want bool) time.Duration {
		t.Helper()
		ok, wait, err := th.Check(ctx, acct, ip)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Fatalf("Check(%s, %s) = %v (wait %v), want %v", acct, ip, ok, wait, want)
		}
		return wait
	}
	fail := func(acct, ip string) {
		t.Helper()
		check(acct, ip, true)
		if err := th.Failed(ctx, acct, ip); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		fail("Anne@Example.be", "10.0.0.1")
	}
	// Past the limit: a delay that doubles with each failure, from any
	// address, never a lock of the whole window.
	if wait := check("anne@example.be", "10.0.0.2", false); wait != time.Second {
		t.Errorf("after 3 failures: retry after %v, want 1s", wait)
	}
	check("bob@example.be", "10.0.0.1", true) // other account, same address: allowed
	clk.Add(time.Second)
	fail("anne@example.be", "10.0.0.2")
	if wait := check("anne@example.be", "10.0.0.2", false); wait != 2*time.Second {
		t.Errorf("after 4 failures: retry after %v, want 2s", wait)
	}
	for range 10 { // an attacker keeps failing at every allowed moment
		clk.Add(time.Minute)
		fail("anne@example.be", "10.0.0."+strconv.Itoa(3+clk.t.Minute()%200))
	}
	if wait := check("anne@example.be", "10.0.0.200", false); wait > time.Minute {
		t.Errorf("the owner waits %v, want at most a minute", wait)
	}
	clk.Add(time.Minute)
	check("anne@example.be", "10.0.0.200", true)
	// Per address: 5 failures on different accounts slow the address.
	for i := range 5 {
		fail("user"+strconv.Itoa(i), "10.9.9.9")
	}
	check("new@example.be", "10.9.9.9", false)
	check("new@example.be", "10.9.9.8", true)
	// Success clears the account's failures.
	clk.Add(time.Hour)
	fail("carl@example.be", "10.0.0.3")
	fail("carl@example.be", "10.0.0.3")
	check("carl@example.be", "10.0.0.3", true)
	th.Succeeded(ctx, "carl@example.be")
	fail("carl@example.be", "10.0.0.4")
	fail("carl@example.be", "10.0.0.4")
	check("carl@example.be", "10.0.0.4", true)
}

// Parallel attempts for one account are counted before any password is
// checked: of 60 at once, only the limit's worth proceed.
func TestThrottleCountsBeforeHashing(t *testing.T) {
	pool := dbtest.New(t)
	clk := &clock{t: time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC)}
	th := websession.NewThrottle(pool, websession.ThrottleConfig{Scope: "staff", PerAccount: 5, PerIP: 1000, Now: clk.Now})
	var wg sync.WaitGroup
	var passed atomic.Int32
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := th.Check(t.Context(), "direction", "10.1.0."+strconv.Itoa(i))
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				passed.Add(1)
				time.Sleep(20 * time.Millisecond) // hashing
				_ = th.Failed(t.Context(), "direction", "10.1.0."+strconv.Itoa(i))
			}
		}()
	}
	wg.Wait()
	if n := passed.Load(); n != 5 {
		t.Errorf("%d of 60 parallel attempts reached the password check, want 5", n)
	}
}
