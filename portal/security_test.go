package portal_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCrossFamilyAccess tries every per-pupil route of the portal, logged in
// as family A, with family B's pupil (and with A's pupil in a wrong tenant):
// each must answer 404 and show nothing of the other family.
func TestCrossFamilyAccess(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	zoe := childPath(f.tenant, f.zoe)
	emma := childPath(f.tenant, f.emma)
	wrongTenant := fmt.Sprintf("/portal/c/%d/%d", f.tenant+1000, f.emma.ID)
	type req struct {
		method, path string
		form         url.Values
	}
	perPupil := func(base string) []req {
		return []req{
			{"GET", base + "/history", nil},
			{"GET", base + "/history?month=2026-11&kind=meal", nil},
			{"GET", base + "/history/chart.svg", nil},
			{"GET", base + "/bookings", nil},
			{"GET", base + "/topup", nil},
			{"GET", base + "/epc.png", nil},
			{"GET", base + "/transfer", nil},
			{"POST", base + "/bookings/book", url.Values{"day": {"2026-12-03"}, "service": {"repas"}}},
			{"POST", base + "/bookings/cancel", url.Values{"booking": {fmt.Sprint(f.zoeBooking.ID)}}},
			{"POST", base + "/bookings/pattern", url.Values{"weekday": {"1"}, "from": {"2026-11-30"}, "until": {"2026-12-18"}, "service": {"repas"}}},
			{"POST", base + "/topup", url.Values{"amount": {"20"}}},
			{"POST", base + "/transfer", url.Values{"to": {fmt.Sprint(f.emma.ID)}, "amount": {"5"}, "nonce": {"ABCD-EFGH-JKMN"}}},
		}
	}
	var cases []req
	cases = append(cases, perPupil(zoe)...)
	cases = append(cases, perPupil(wrongTenant)...)
	cases = append(cases, perPupil("/portal/c/abc/-1")...)
	// Own pupil, other family's objects.
	cases = append(cases,
		req{"POST", emma + "/bookings/cancel", url.Values{"booking": {fmt.Sprint(f.zoeBooking.ID)}}},
		req{"POST", emma + "/transfer", url.Values{"to": {fmt.Sprint(f.zoe.ID)}, "amount": {"1"}, "nonce": {"ABCD-EFGH-JKMP"}}},
	)
	anne.get("/portal/")
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var code int
			var body string
			if tc.method == "GET" {
				code, body = anne.get(tc.path)
				anne.get("/portal/") // fresh token for the next POST
			} else {
				code, body = anne.post(tc.path, tc.form)
			}
			if code != http.StatusNotFound {
				t.Errorf("status %d, want 404", code)
			}
			for _, leak := range []string{"Zoé", "Martin", "50,00", "Bruno"} {
				if strings.Contains(body, leak) {
					t.Errorf("response shows %q", leak)
				}
			}
		})
	}
	// Nothing happened to Zoé: her booking stands, no money moved, no top-up started.
	b, err := f.bk.Get(t.Context(), f.tenant, f.zoeBooking.ID)
	if err != nil || b.Status != "booked" {
		t.Errorf("Zoé's booking = %v, %v", b.Status, err)
	}
	bal, _ := f.led.Balance(t.Context(), f.tenant, f.zoe.WalletAccountID)
	if !bal.Posted.Equal(bal.Posted.Round(2)) || bal.Posted.String() != "50" {
		t.Errorf("Zoé's balance = %s", bal.Posted)
	}
	if len(f.topups.reqs) != 0 {
		t.Errorf("top-ups started: %+v", f.topups.reqs)
	}
	// Logged out: per-pupil pages send to the login, never show data.
	anon := f.client()
	code, body := anon.get(emma + "/history")
	if code != 200 || !strings.Contains(body, `action="/portal/login"`) || strings.Contains(body, "Emma") {
		t.Errorf("anonymous history: %d", code)
	}
}

func TestCSRFRefused(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	emma := childPath(f.tenant, f.emma)
	form := func() url.Values { return url.Values{"day": {"2026-11-30"}, "service": {"repas"}} }
	tests := []struct {
		name string
		vals url.Values
		hdr  map[string]string
		want int
	}{
		{"no token", url.Values{"day": {"2026-11-30"}, "service": {"repas"}, "csrf_token": {""}}, nil, 403},
		{"wrong token", url.Values{"day": {"2026-11-30"}, "service": {"repas"}, "csrf_token": {"x"}}, nil, 403},
		{"foreign origin", form(), map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site", form(), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same origin with token", form(), map[string]string{"Origin": f.url, "Sec-Fetch-Site": "same-origin"}, 200},
	}
	for _, tt := range tests {
		anne.get(emma + "/bookings")
		code, _ := anne.postWith(emma+"/bookings/book", tt.vals, tt.hdr)
		if code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
	}
	bs, _ := f.bk.Bookings(t.Context(), f.tenant, f.emma.ID, f.clk.Now().AddDate(0, 0, -30), f.clk.Now().AddDate(0, 0, 30))
	if len(bs) != 1 {
		t.Errorf("%d bookings after 4 forged requests and 1 good one, want 1", len(bs))
	}
	// Login form itself is protected too (login CSRF).
	anon := f.client()
	anon.get("/portal/login")
	if code, _ := anon.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}, "csrf_token": {""}}); code != 403 {
		t.Errorf("login without token: %d", code)
	}
}

func TestSessionFixation(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery").post("/portal/logout", nil)
	c := f.client()
	c.get("/portal/login")
	before := c.cookie("tartine_portal")
	if before == "" {
		t.Fatal("no session before login")
	}
	code, body := c.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}})
	if code != 200 || !strings.Contains(body, "Emma") {
		t.Fatalf("login: %d", code)
	}
	after := c.cookie("tartine_portal")
	if after == before || after == "" {
		t.Fatalf("session id unchanged at login")
	}
	// The planted pre-login id gives nothing.
	attacker := f.client()
	u, _ := url.Parse(f.url)
	attacker.http.Jar.SetCookies(u, []*http.Cookie{{Name: "tartine_portal", Value: before}})
	if _, body := attacker.get("/portal/"); strings.Contains(body, "Emma") {
		t.Error("pre-login session id grants access")
	}
	// Logout everywhere ends the other sessions.
	other := f.client()
	other.get("/portal/login")
	other.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}})
	c.get("/portal/settings")
	if code, _ := c.post("/portal/logout-everywhere", nil); code != 200 {
		t.Fatalf("logout everywhere: %d", code)
	}
	if _, body := other.get("/portal/"); strings.Contains(body, "Emma") {
		t.Error("other device still logged in after logout everywhere")
	}
}

func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery").post("/portal/logout", nil)
	c := f.client()
	c.get("/portal/login")
	for i := range 5 {
		code, _ := c.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"wrong password " + fmt.Sprint(i)}})
		if code != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, code)
		}
	}
	// Past the limit, a delay that doubles with each failure (from 1 s),
	// even for the right password; not a lock of the whole window.
	code, body := c.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Trop de tentatives") || !strings.Contains(body, "1 seconde") {
		t.Fatalf("throttled login: %d\n%s", code, body)
	}
	f.clk.Add(time.Second)
	code, body = c.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}})
	if code != 200 || !strings.Contains(body, "Emma") {
		t.Fatalf("login after the delay: %d", code)
	}
}
