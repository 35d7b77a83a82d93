package portal_test

import (
	"archive/zip"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/internal/mail"
	"tartine/portal"
)

// Registering with an email that already has an account and with a bad
// code give the same answer: the form tells nothing about who has an
// account.
func TestRegisterSameAnswerForTakenEmail(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery").post("/portal/logout", nil)
	inv, err := f.app.IssueInvitation(t.Context(), f.tenant, f.bruno.ID)
	if err != nil {
		t.Fatal(err)
	}
	answer := func(code, email string) (int, string) {
		c := f.client()
		c.get("/portal/register")
		st, body := c.post("/portal/register", url.Values{"code": {code}, "email": {email}, "password": {"another good phrase"}, "password2": {"another good phrase"}})
		return st, body[strings.Index(body, "<main"):]
	}
	takenStatus, taken := answer(inv.Code, "anne@example.be")
	badStatus, bad := answer("ABCD-EFGH-JKMN", "nobody@example.be")
	if takenStatus != http.StatusUnprocessableEntity || takenStatus != badStatus {
		t.Errorf("taken email: %d, bad code: %d; want both 422", takenStatus, badStatus)
	}
	norm := func(s string) string { // the typed email and code are echoed back; tokens differ
		s = csrfRe.ReplaceAllString(s, "")
		return strings.NewReplacer("anne@example.be", "X", "nobody@example.be", "X", inv.Code, "C", "ABCD-EFGH-JKMN", "C").Replace(s)
	}
	if norm(taken) != norm(bad) {
		t.Errorf("different answers:\n%s\n---\n%s", taken, bad)
	}
}

// blockingSender holds every email until released.
type blockingSender struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []mail.Message
}

func (b *blockingSender) Send(ctx context.Context, msg mail.Message) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.sent = append(b.sent, msg)
	b.mu.Unlock()
	return nil
}

// A password reset request answers the same, at once, for a known and an
// unknown email: the email is sent after the answer, so a slow mail
// server (or the work of a known account) shows in no answer time.
func TestForgotAnswersBeforeTheEmail(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery").post("/portal/logout", nil)
	bs := &blockingSender{release: make(chan struct{})}
	d := f.app.Deps
	d.Mail = bs
	app, err := portal.New(d)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	app.Routes(r)
	srv := &http.Server{Handler: r}
	f2 := *f
	ln := newLocalListener(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f2.url = "http://" + ln.Addr().String()
	answers := map[string]string{}
	for _, email := range []string{"anne@example.be", "nobody@example.be"} {
		c := f2.client()
		c.get("/portal/forgot")
		done := make(chan struct{})
		var st int
		var body string
		go func() { st, body = c.post("/portal/forgot", url.Values{"email": {email}}); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("forgot %s: no answer while the email is held", email)
		}
		if st != http.StatusOK {
			t.Fatalf("forgot %s: %d", email, st)
		}
		answers[email] = csrfRe.ReplaceAllString(body[strings.Index(body, "<main"):], "")
	}
	if answers["anne@example.be"] != answers["nobody@example.be"] {
		t.Errorf("different answers:\n%s\n---\n%s", answers["anne@example.be"], answers["nobody@example.be"])
	}
	close(bs.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs.mu.Lock()
		n := len(bs.sent)
		bs.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reset emails sent, want 1 (Anne's)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if to := bs.sent[0].To; to != "anne@example.be" {
		t.Errorf("reset email to %s", to)
	}
}

// Common passwords are refused at registration and reset; a NUL byte in
// the login form is a 400, not a 500.
func TestPasswordRules(t *testing.T) {
	f := newFixture(t)
	inv, err := f.app.IssueInvitation(t.Context(), f.tenant, f.anne.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.get("/portal/register")
	for _, pw := range []string{"12345678", "Password1", "azertyuiop", "aaaaaaaaaa", "abcdefghij"} {
		st, body := c.post("/portal/register", url.Values{"code": {inv.Code}, "email": {"anne@example.be"}, "password": {pw}, "password2": {pw}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, "trop courant") {
			t.Errorf("register with %q: %d", pw, st)
		}
	}
	c.get("/portal/login")
	for _, form := range []url.Values{
		{"email": {"anne@example.be\x00"}, "password": {"x"}},
		{"email": {"anne@example.be"}, "password": {"pass\x00word"}},
	} {
		if st, _ := c.post("/portal/login", form); st != http.StatusBadRequest {
			t.Errorf("login with a NUL byte: %d, want 400", st)
		}
	}
}

// The language switch returns only to a portal page.
func TestLangBackStaysOnThePortal(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.get("/portal/login")
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for back, want := range map[string]string{
		"/portal/settings":            "/portal/settings",
		"/portal/c/1/2/bookings?w=1":  "/portal/c/1/2/bookings?w=1",
		`/\evil.example`:              "/portal/",
		`/portal/..\evil.example`:     "/portal/",
		"/portal/../\\evil.example":   "/portal/",
		"/portal/..//evil.example":    "/portal/",
		"//evil.example/portal":       "/portal/",
		"https://evil.example/portal": "/portal/",
		"/portal/%2f%2fevil.example":  "/portal/",
		"/portal/%5Cevil.example":     "/portal/",
		"/portal\t/evil":              "/portal/",
		"/admin":                      "/portal/",
	} {
		c.post("/portal/lang", url.Values{"lang": {"en"}, "back": {back}})
		if got := c.last.Header.Get("Location"); got != want {
			t.Errorf("back=%q: redirect to %q, want %q", back, got, want)
		}
	}
}

func newLocalListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// The family export carries the children who left too, and its CSV files
// defuse what a spreadsheet would run as a formula.
func TestExportDefusesFormulasAndKeepsInactiveChildren(t *testing.T) {
	f := newFixture(t)
	c := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	if _, err := f.app.Pool.Exec(t.Context(), `UPDATE pupils SET last_name = '=HYPERLINK("http://evil.example","x")' WHERE id = $1`, f.emma.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Pool.Exec(t.Context(), `UPDATE pupils SET active = false WHERE id = $1`, f.lucas.ID); err != nil {
		t.Fatal(err)
	}
	st, body := c.get("/portal/export.zip")
	if st != http.StatusOK {
		t.Fatalf("export: %d", st)
	}
	zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var pupils string
	for _, zf := range zr.File {
		if zf.Name == "pupils.csv" {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			pupils = string(b)
		}
	}
	if !strings.Contains(pupils, `'=HYPERLINK`) || strings.Contains(pupils, `,=HYPERLINK`) || strings.Contains(pupils, `,"=HYPERLINK`) {
		t.Errorf("pupils.csv does not defuse the formula:\n%s", pupils)
	}
	if !strings.Contains(pupils, "Lucas") {
		t.Errorf("pupils.csv leaves out Lucas, who left:\n%s", pupils)
	}
}
