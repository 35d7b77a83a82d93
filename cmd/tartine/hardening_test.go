package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tartine/internal/mail"
)

// Request bodies are bounded before anything parses them; /metrics is for
// the operator; static folders list nothing; every staff page carries the
// security headers; HSTS when the public URL is https; a NUL byte in a
// login is a 400.
func TestServerHardening(t *testing.T) {
	f := newSecFixture(t, nil)
	anon := f.anonymous("anonymous")

	// A form body over the limit is refused before it is read.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/portal/login", strings.NewReader(strings.Repeat("a", 1<<20)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := anon.do(req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB login form: %d, want 413", resp.StatusCode)
	}
	// Without a length (chunked), reading stops at the limit.
	req, _ = http.NewRequest(http.MethodPost, f.srv.URL+"/staff/login", io.MultiReader(strings.NewReader("login=x&password="), strings.NewReader(strings.Repeat("a", 1<<20))))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := anon.do(req); resp.StatusCode/100 == 2 || resp.StatusCode/100 == 3 || resp.StatusCode == http.StatusInternalServerError {
		t.Errorf("chunked 1 MiB login form: %d, want a refusal", resp.StatusCode)
	}

	// /metrics: the bearer token of TARTINE_METRICS_TOKEN.
	if st, _ := anon.get("/metrics"); st != http.StatusNotFound {
		t.Errorf("/metrics without token: %d, want 404", st)
	}
	req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-token")
	if resp, body := anon.do(req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "tartine_http_request_duration_seconds") {
		t.Errorf("/metrics with token: %d", resp.StatusCode)
	}

	// Static folders: files yes, listings no.
	for path, want := range map[string]int{
		"/admin/static/admin.css": 200, "/admin/static/": 404, "/staff/static/": 404, "/portal/static/": 404, "/portal/static/portal.css": 200,
	} {
		if st, _ := anon.get(path); st != want {
			t.Errorf("GET %s: %d, want %d", path, st, want)
		}
	}

	// Staff pages carry the same headers as the back office and the portal.
	req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/staff/login", nil)
	resp, _ := anon.do(req)
	h := resp.Header
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("/staff/login headers: %v", h)
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http")
	}

	// NUL byte in a staff login: 400, not 500.
	anon.token("/staff/login")
	if st, _, _ := anon.post("/staff/login", url.Values{"login": {"admin\x00"}, "password": {"x"}}); st != http.StatusBadRequest {
		t.Errorf("NUL in the staff login: %d, want 400", st)
	}

	// HSTS when the public URL is https.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := env2(nil)
	eng, _, err := newEngine(ctx, e, newLogger(e), &database{Pool: f.pool}, serveConfig{Addr: "127.0.0.1:0", BaseURL: "https://tartine.example"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	eng.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if got := rec.Header().Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
		t.Errorf("HSTS with an https base URL: %q", got)
	}
}

// Client addresses come from X-Forwarded-For only behind a trusted proxy
// (TARTINE_TRUSTED_PROXIES): the throttle and the audit see each visitor.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		trusted, want string
	}{
		{"", "127.0.0.1"},
		{"127.0.0.1/8", "203.0.113.7"},
	} {
		f := newSecFixture(t, map[string]string{"TARTINE_TRUSTED_PROXIES": tc.trusted})
		b := f.anonymous("proxied")
		b.token("/staff/login")
		form := url.Values{"login": {"admin1"}, "password": {secPassword}, "csrf_token": {b.csrf}}
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/staff/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.srv.URL)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		if resp, _ := b.do(req); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		var ip string
		if err := f.pool.QueryRow(f.ctx, `SELECT detail->>'ip' FROM audit_log WHERE action = 'staff.login' ORDER BY id DESC LIMIT 1`).Scan(&ip); err != nil {
			t.Fatal(err)
		}
		if ip != tc.want {
			t.Errorf("trusted %q: client address %s, want %s", tc.trusted, ip, tc.want)
		}
	}
}

// A new password ends the member's staff sessions.
func TestNewStaffPasswordEndsSessions(t *testing.T) {
	f := newSecFixture(t, nil)
	admin1 := f.staff("admin1", secPassword)
	if st, _ := admin1.get("/admin/pupils"); st != http.StatusOK {
		t.Fatalf("admin1 before: %d", st)
	}
	var id int64
	_ = f.pool.QueryRow(f.ctx, `SELECT id FROM staff_users WHERE login = 'admin1'`).Scan(&id)
	boss := f.staff("admin", "demo-admin")
	boss.token(fmt.Sprintf("/admin/staff/%d", id))
	if st, _, _ := boss.post(fmt.Sprintf("/admin/staff/%d/password", id), nil); st != http.StatusOK {
		t.Fatalf("new password: %d", st)
	}
	if st, _ := admin1.get("/admin/pupils"); st != http.StatusSeeOther {
		t.Errorf("admin1 after a new password: %d, want 303 to the login", st)
	}
}

// stream reads a station's event stream in the background.
type stream struct {
	lines chan string
	done  chan struct{}
}

func (b *browser) stream(path string) *stream {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	hc := *b.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.f.t.Fatalf("stream %s: %v %v", path, resp, err)
	}
	s := &stream{lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	b.f.t.Cleanup(func() { resp.Body.Close() })
	return s
}

// until collects lines until one contains want (true) or the stream ends
// or the time is up (false).
func (s *stream) until(want string, d time.Duration) (string, bool) {
	var all strings.Builder
	deadline := time.After(d)
	for {
		select {
		case l := <-s.lines:
			all.WriteString(l + "\n")
			if want != "" && strings.Contains(l, want) {
				return all.String(), true
			}
		case <-s.done:
			for {
				select {
				case l := <-s.lines:
					all.WriteString(l + "\n")
				default:
					return all.String(), false
				}
			}
		case <-deadline:
			return all.String(), false
		}
	}
}

// The cashier's live stream carries no health data; a station's stream
// ends with the session.
func TestStreams(t *testing.T) {
	f := newSecFixture(t, nil)
	if _, err := f.pool.Exec(f.ctx, `UPDATE pupils SET allergy_notes = 'EpiPen dans le cartable' WHERE id = $1`, f.emma.ID); err != nil {
		t.Fatal(err)
	}
	kiosk := f.staff("kiosk", "demo-kiosk")
	ks := kiosk.stream("/staff/stations/kiosk-1/events")
	if st, body := f.deviceTaps(f.demo.DeviceID, f.demo.DeviceSecret, tapJSON("k-1", "kiosk-1", f.demo.Badges["Emma"], "em4100")); st != http.StatusOK {
		t.Fatalf("kiosk tap: %d %s", st, body)
	}
	got, ok := ks.until("Emma", 10*time.Second)
	if !ok {
		t.Fatalf("kiosk stream: no tap\n%s", got)
	}
	rest, _ := ks.until("</li>", 2*time.Second)
	if all := got + rest; strings.Contains(all, "EpiPen") || strings.Contains(all, "allerg") {
		t.Errorf("kiosk stream carries health data:\n%s", all)
	}

	canteen := f.staff("canteen", "demo-canteen")
	cs := canteen.stream("/staff/stations/canteen-1/events")
	if _, ok := cs.until(": connected", 5*time.Second); !ok {
		t.Fatal("canteen stream did not start")
	}
	time.Sleep(3500 * time.Millisecond)
	canteen.token("/staff/")
	if st, _, _ := canteen.post("/staff/logout", nil); st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	f.deviceTaps(f.demo.DeviceID, f.demo.DeviceSecret, tapJSON("c-1", "canteen-1", f.demo.Badges["Lucas"], "em4100"))
	if got, ok := cs.until("Lucas", 5*time.Second); ok {
		t.Errorf("a logged-out canteen screen still receives taps:\n%s", got)
	}
	select {
	case <-cs.done:
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end with the session")
	}
}

// Without SMTP, a real server logs who an email is for and its subject,
// never its text (a reset link, an invitation code).
func TestBriefLogSenderHidesText(t *testing.T) {
	var buf strings.Builder
	s := briefLogSender{log: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := s.Send(context.Background(), mail.Message{To: "anne@example.be", Subject: "Mot de passe", Text: "https://x/portal/reset/SECRET"}); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Contains(out, "SECRET") || !strings.Contains(out, "anne@example.be") {
		t.Errorf("log: %s", out)
	}
}

// A station's stream ends when its member loses the role, and a disabled
// member's sessions end at once.
func TestStreamEndsWhenTheRoleGoes(t *testing.T) {
	f := newSecFixture(t, nil)
	canteen := f.staff("canteen", "demo-canteen")
	cs := canteen.stream("/staff/stations/canteen-1/events")
	if _, ok := cs.until(": connected", 5*time.Second); !ok {
		t.Fatal("canteen stream did not start")
	}
	var id int64
	_ = f.pool.QueryRow(f.ctx, `SELECT id FROM staff_users WHERE login = 'canteen'`).Scan(&id)
	boss := f.staff("admin", "demo-admin")
	boss.token(fmt.Sprintf("/admin/staff/%d", id))
	if st, _, _ := boss.post(fmt.Sprintf("/admin/staff/%d/roles", id), url.Values{"roles": {"daycare"}}); st != http.StatusSeeOther {
		t.Fatalf("roles: %d", st)
	}
	time.Sleep(3500 * time.Millisecond)
	f.deviceTaps(f.demo.DeviceID, f.demo.DeviceSecret, tapJSON("role-1", "canteen-1", f.demo.Badges["Lucas"], "em4100"))
	if got, ok := cs.until("Lucas", 5*time.Second); ok {
		t.Errorf("a screen whose member lost the canteen role still receives taps:\n%s", got)
	}
	// Disabled: the session ends at once.
	if st, _, _ := boss.post(fmt.Sprintf("/admin/staff/%d/active", id), url.Values{"active": {"0"}}); st != http.StatusSeeOther {
		t.Fatalf("disable: %d", st)
	}
	var n int
	_ = f.pool.QueryRow(f.ctx, `SELECT count(*) FROM web_sessions WHERE principal_kind = 'staff' AND principal_id = $1`, id).Scan(&n)
	if n != 0 {
		t.Errorf("%d sessions left after disabling", n)
	}
}

// The back office's language switch and the staff login return only to
// their own pages.
func TestStaffRedirectsStayLocal(t *testing.T) {
	f := newSecFixture(t, nil)
	admin := f.staff("admin1", secPassword)
	admin.token("/admin/pupils")
	for back, want := range map[string]string{
		"/admin/pupils":           "/admin/pupils",
		`/\evil.example`:          "/admin",
		`/admin/..\evil.example`:  "/admin",
		"/admin/..//evil.example": "/admin",
		"//evil.example/admin":    "/admin",
	} {
		if _, _, loc := admin.post("/admin/lang", url.Values{"lang": {"en"}, "back": {back}}); loc != want {
			t.Errorf("/admin/lang back=%q: to %q, want %q", back, loc, want)
		}
	}
	b := f.anonymous("login")
	b.token("/staff/login")
	if _, _, loc := b.post("/staff/login?next="+url.QueryEscape(`/staff/..\evil.example`), url.Values{"login": {"admin1"}, "password": {secPassword}}); loc != "/staff/" {
		t.Errorf("staff login next: to %q, want /staff/", loc)
	}
}
