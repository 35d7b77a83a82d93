package main

import (
	"context"
	"fmt"
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

	"tartine/internal/db"
	"tartine/internal/dbtest"
	"tartine/internal/password"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/school"
)

// secFixture is the server built as `tartine serve` builds it (newEngine),
// on the demo organising body (PO 1, school 1 "tilleuls": the demo data,
// logins and parent) with a second school in it (school 2: a pupil, its
// stations, staff bound to it, a device bound to it) and a second
// organising body (PO 2: a school, a pupil, staff, a parent).
type secFixture struct {
	t      *testing.T
	ctx    context.Context
	srv    *httptest.Server
	engine *gin.Engine
	guard  *websession.PolicyGuard
	pool   *pgxpool.Pool
	store  *school.Store
	demo   school.DemoInfo

	po1, school1, school2, po2, school3 int64
	emma, zoe, omar                     school.Pupil // school 1 (demo), school 2, PO 2
	zoeBadge                            string       // uid of Zoé's badge (school 2)
	dev2                                string       // device bound to school 2 (secret devSecret)
}

const devSecret = "school-two-device-secret-0123456789abcdef0123"

// secPassword is the password of every login the fixture creates.
const secPassword = "Correct-Horse-42"

func newSecFixture(t *testing.T, extraEnv map[string]string) *secFixture {
	t.Helper()
	ctx := context.Background()
	pool, err := db.Open(ctx, dbtest.NewDSN(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &secFixture{t: t, ctx: ctx, pool: pool}
	now := func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	led := ledger.New(pool, now)
	f.store = school.New(pool, led, now)
	d := &database{Pool: pool}
	if _, err := seedDemo(ctx, d, now); err != nil {
		t.Fatal(err)
	}
	if f.demo, err = school.SeedDemo(ctx, f.store); err != nil {
		t.Fatal(err)
	}
	f.po1, f.school1 = f.demo.TenantID, f.demo.SchoolID
	if f.emma, err = f.store.Pupil(ctx, f.po1, f.demo.Pupils["Emma"]); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// School 2 of PO 1.
	s2, err := f.store.EnsureSchool(ctx, f.po1, school.SchoolInput{Code: "peupliers", Name: "École des Peupliers", IBAN: "BE68539007547034", Beneficiary: "Peupliers"})
	must(err)
	f.school2 = s2.ID
	c2, err := f.store.EnsureClass(ctx, f.po1, s2.ID, "P2B", "P2")
	must(err)
	f.zoe, err = f.store.CreatePupil(ctx, f.po1, school.PupilInput{SchoolID: s2.ID, ClassID: c2.ID, FirstName: "Zoé", LastName: "Lambert",
		Allergens: []school.Allergen{"peanuts"}}, "test")
	must(err)
	b, err := f.store.CreateBadge(ctx, f.po1, school.BadgeInput{UID: "0200AA0001", Tech: school.TechEM4100, PupilID: f.zoe.ID}, "test")
	must(err)
	f.zoeBadge = b.UID
	for _, st := range []school.StationInput{
		{SchoolID: s2.ID, Code: "s2-canteen", Name: "Cantine 2", Kind: school.Canteen},
		{SchoolID: s2.ID, Code: "s2-kiosk", Name: "Caisse 2", Kind: school.Kiosk},
		{SchoolID: s2.ID, Code: "s2-enrol", Name: "Secrétariat 2", Kind: school.EnrolmentDesk},
	} {
		_, err := f.store.EnsureStation(ctx, f.po1, st, "test")
		must(err)
	}
	e2, err := f.store.EnrolDeviceAt(ctx, f.po1, s2.ID, "bridge école 2", "test")
	must(err)
	f.dev2 = e2.DeviceID
	_, err = pool.Exec(ctx, `UPDATE devices SET secret = $2 WHERE device_id = $1`, f.dev2, []byte(devSecret))
	must(err)
	// PO 2.
	ten2, err := f.store.EnsureTenant(ctx, "po-deux", "PO deux")
	must(err)
	f.po2 = ten2.ID
	s3, err := f.store.EnsureSchool(ctx, f.po2, school.SchoolInput{Code: "chenes", Name: "École des Chênes", IBAN: "BE68539007547034", Beneficiary: "Chênes"})
	must(err)
	f.school3 = s3.ID
	f.omar, err = f.store.CreatePupil(ctx, f.po2, school.PupilInput{SchoolID: s3.ID, Level: "P1", FirstName: "Omar", LastName: "Benali"}, "test")
	must(err)
	_, err = f.store.EnsureStation(ctx, f.po2, school.StationInput{SchoolID: s3.ID, Code: "c3-canteen", Name: "Cantine 3", Kind: school.Canteen}, "test")
	must(err)
	// Staff: bound to school 2, to school 1, and PO 2's.
	for _, u := range []struct {
		login  string
		tenant int64
		school int64
		role   school.Role
	}{
		{"admin1", f.po1, f.school1, school.RoleAdmin},
		{"admin2", f.po1, s2.ID, school.RoleAdmin},
		{"canteen2", f.po1, s2.ID, school.RoleCanteen},
		{"daycare2", f.po1, s2.ID, school.RoleDaycare},
		{"kiosk2", f.po1, s2.ID, school.RoleKiosk},
		{"accountant2", f.po1, s2.ID, school.RoleAccountant},
		{"po2admin", f.po2, 0, school.RoleAdmin},
		{"po2canteen", f.po2, 0, school.RoleCanteen},
		{"po2accountant", f.po2, 0, school.RoleAccountant},
	} {
		_, err := f.store.CreateStaff(ctx, u.tenant, school.StaffInput{Login: u.login, Name: u.login, Password: secPassword, Roles: []school.Role{u.role}, SchoolID: u.school}, "test")
		must(err)
	}
	// PO 2's parent.
	g, err := f.store.CreateGuardian(ctx, f.po2, school.GuardianInput{FirstName: "Karim", LastName: "Benali", Email: "karim@example.be"}, "test")
	must(err)
	must(f.store.LinkGuardian(ctx, f.po2, g.ID, f.omar.ID, "père", "test"))
	hash, err := password.Hash(secPassword)
	must(err)
	var acct int64
	must(pool.QueryRow(ctx, `INSERT INTO portal_accounts (email, password_hash) VALUES ('karim@example.be', $1) RETURNING id`, hash).Scan(&acct))
	_, err = pool.Exec(ctx, `INSERT INTO portal_account_guardians (tenant_id, guardian_id, account_id) VALUES ($1, $2, $3)`, f.po2, g.ID, acct)
	must(err)

	f.srv = httptest.NewUnstartedServer(nil)
	env := map[string]string{"TARTINE_METRICS_TOKEN": "metrics-token"}
	for k, v := range extraEnv {
		env[k] = v
	}
	e := env2(env)
	f.engine, f.guard, err = newEngine(ctx, e, newLogger(e), d, serveConfig{Addr: "127.0.0.1:0", BaseURL: "http://" + f.srv.Listener.Addr().String()})
	must(err)
	f.srv.Config.Handler = f.engine
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func env2(m map[string]string) env {
	return env{getenv: getenvFrom(m), stdout: io.Discard, stderr: io.Discard}
}

// browser is one client with its cookies and the CSRF token of its
// session; kind is "", "staff" or "guardian".
type browser struct {
	f    *secFixture
	name string
	kind string
	hc   *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (f *secFixture) anonymous(name string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, name: name, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// staff logs in at /staff/login.
func (f *secFixture) staff(login, pw string) *browser {
	f.t.Helper()
	b := f.anonymous(login)
	b.kind = "staff"
	b.token("/staff/login")
	st, body, loc := b.post("/staff/login", url.Values{"login": {login}, "password": {pw}})
	if st != http.StatusSeeOther {
		f.t.Fatalf("staff login %s: %d %q %.300s", login, st, loc, body)
	}
	b.token("/staff/")
	return b
}

// guardian logs in at /portal/login.
func (f *secFixture) guardian(email, pw string) *browser {
	f.t.Helper()
	b := f.anonymous(email)
	b.kind = "guardian"
	b.token("/portal/login")
	st, body, loc := b.post("/portal/login", url.Values{"email": {email}, "password": {pw}})
	if st != http.StatusSeeOther {
		f.t.Fatalf("portal login %s: %d %q %.300s", email, st, loc, body)
	}
	b.token("/portal/")
	return b
}

// token reads the CSRF token of the session from a page.
func (b *browser) token(path string) {
	b.f.t.Helper()
	st, body := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.f.t.Fatalf("%s: no CSRF token on %s (%d)", b.name, path, st)
	}
	b.csrf = m[1]
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.f.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.f.t.Fatalf("%s %s %s: %v", b.name, req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(raw)
}

func (b *browser) get(path string) (int, string) {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	resp, body := b.do(req)
	return resp.StatusCode, body
}

// post sends a same-origin form with the session's CSRF token.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if b.csrf != "" && form.Get("csrf_token") == "" {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.f.srv.URL)
	resp, body := b.do(req)
	return resp.StatusCode, body, resp.Header.Get("Location")
}

// deviceTaps posts taps signed as a device and returns the results.
func (f *secFixture) deviceTaps(deviceID, secret, body string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/taps", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authHeader(deviceID, secret, "POST", "/api/v1/taps", body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func tapJSON(id, station, uid, tech string) string {
	return fmt.Sprintf(`{"taps":[{"id":%q,"station":%q,"uid":%q,"tech":%q,"read_at":"2026-11-30T11:52:03+01:00"}]}`, id, station, uid, tech)
}
