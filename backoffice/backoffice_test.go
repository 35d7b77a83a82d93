package backoffice

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/testclock"
	"tartine/ledger"
	"tartine/school"
	"tartine/terminal"
)

func TestRoles(t *testing.T) {
	f := newFixture(t)
	anon := f.anonymous()
	if st, _ := anon.get("/admin"); st != http.StatusSeeOther {
		t.Errorf("anonymous GET /admin: %d, want 303 to the login", st)
	}
	pupil := fmt.Sprint("/admin/pupils/", f.demo.Pupils["Emma"])
	tests := []struct {
		login, password string
		allowed, denied []string
	}{
		{"canteen", "demo-canteen", nil, []string{"/admin", "/admin/pupils", pupil, "/admin/devices", "/admin/calendar", "/admin/books", "/admin/books/verify", "/admin/books/journal.csv?from=2026-01-01&to=2026-01-31"}},
		{"accountant", "demo-accountant", []string{"/admin", "/admin/books", "/admin/books/verify"}, []string{"/admin/pupils", pupil, "/admin/devices", "/admin/stations", "/admin/calendar", "/admin/menus", "/admin/audit"}},
		{"admin", "demo-admin", []string{"/admin", "/admin/pupils", pupil, "/admin/devices", "/admin/stations", "/admin/calendar", "/admin/menus", "/admin/audit", "/admin/books", "/admin/books/verify"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.login, func(t *testing.T) {
			c := f.login(tt.login, tt.password)
			for _, p := range tt.allowed {
				st, body := c.get(p)
				if st != http.StatusOK {
					t.Errorf("GET %s: %d, want 200 (%.200s)", p, st, body)
				}
				if i := strings.Index(body, "⟦"); i >= 0 {
					t.Errorf("GET %s: missing message %.60s", p, body[i:])
				}
			}
			for _, p := range tt.denied {
				if st, _ := c.get(p); st != http.StatusForbidden {
					t.Errorf("GET %s: %d, want 403", p, st)
				}
			}
		})
	}
	t.Run("accountant cannot enrol", func(t *testing.T) {
		c := f.login("accountant", "demo-accountant")
		if st, _, _ := c.post("/admin/devices", url.Values{"name": {"x"}}); st != http.StatusForbidden {
			t.Errorf("POST /admin/devices as accountant: %d, want 403", st)
		}
		devs, err := f.store.Devices(f.ctx, f.demo.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 {
			t.Errorf("%d devices after a refused enrolment, want the demo's 1", len(devs))
		}
	})
	t.Run("home links follow roles", func(t *testing.T) {
		_, body := f.login("accountant", "demo-accountant").get("/admin")
		if strings.Contains(body, `href="/admin/devices"`) || !strings.Contains(body, `href="/admin/books"`) {
			t.Errorf("accountant's home shows the wrong links")
		}
	})
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	for _, tc := range []struct {
		name   string
		token  string
		origin string
	}{
		{"no token", "-", ""},
		{"wrong token", "forged", ""},
		{"cross origin", "", "https://evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"name": {"pont"}}
			switch tc.token {
			case "-":
			case "":
				form.Set("csrf_token", c.csrf)
			default:
				form.Set("csrf_token", tc.token)
			}
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/admin/devices", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.token == "-" {
				req.Header.Set("Origin", f.srv.URL)
			}
			resp, _ := c.do(req)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
		})
	}
}

var secretRE = regexp.MustCompile(`id="device-secret">([0-9a-f]{64})<`)
var deviceIDRE = regexp.MustCompile(`id="device-id">(dev-[0-9a-f]{16})<`)

func TestEnrolShowsSecretOnceAndDeviceAuthenticates(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/admin/devices", strings.NewReader(url.Values{"name": {"Pont cantine"}, "csrf_token": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	resp, body := c.do(req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	sm, im := secretRE.FindStringSubmatch(body), deviceIDRE.FindStringSubmatch(body)
	if sm == nil || im == nil {
		t.Fatalf("enrolment page shows no device id and secret:\n%s", body)
	}
	secret, id := sm[1], im[1]
	if !strings.Contains(html.UnescapeString(body), fmt.Sprintf("secret     = %q", secret)) || !strings.Contains(html.UnescapeString(body), fmt.Sprintf("device_id  = %q", id)) {
		t.Errorf("no bridge.toml snippet with the device id and secret")
	}
	if !strings.Contains(body, "ne sera plus jamais affiché") {
		t.Errorf("no warning that the secret is shown once")
	}
	st, list := c.get("/admin/devices")
	if st != http.StatusOK || !strings.Contains(list, id) {
		t.Fatalf("device list: %d, has id %v", st, strings.Contains(list, id))
	}
	if strings.Contains(list, secret) {
		t.Errorf("the device list shows the secret again")
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "device.enrol", "device:"+id) {
		t.Errorf("no audit entry device.enrol for %s", id)
	}

	// The new device signs requests to the device API with its secret.
	badges := func() int {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v1/badges", nil)
		req.Header.Set("Authorization", terminal.Authorization(id, []byte(secret), http.MethodGet, "/api/v1/badges", testclock.Now(), nil))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := badges(); st != http.StatusOK {
		t.Fatalf("GET /api/v1/badges with the new device: %d, want 200", st)
	}
	st, page := c.follow("/admin/devices/"+id+"/revoke", nil)
	if st != http.StatusOK || !strings.Contains(page, "est révoqué") {
		t.Fatalf("revoke: %d", st)
	}
	time.Sleep(time.Millisecond) // the device cache TTL is 1 ns
	if st := badges(); st != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/badges after revocation: %d, want 401", st)
	}
	if st, _, _ := c.post("/admin/devices/no-such-device/revoke", nil); st != http.StatusNotFound {
		t.Errorf("revoke unknown device: %d, want 404", st)
	}
	if st, body, _ := c.post("/admin/devices", url.Values{"name": {"  "}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "nom de 1 à 80") {
		t.Errorf("enrol without a name: %d", st)
	}
}

func hasAudit(entries []school.AuditEntry, action, subject string) bool {
	for _, e := range entries {
		if e.Action == action && (subject == "" || e.Subject == subject) {
			return true
		}
	}
	return false
}

func TestBadges(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	emma := f.pupil("Emma")
	page := fmt.Sprint("/admin/pupils/", emma.ID)
	tenant := f.demo.TenantID

	st, body := c.get(page)
	if st != http.StatusOK || !strings.Contains(body, "Emma") || !strings.Contains(body, f.demo.Badges["Emma"]) {
		t.Fatalf("pupil page: %d, shows Emma's badge: %v", st, strings.Contains(body, f.demo.Badges["Emma"]))
	}
	bal, err := f.led.Balance(f.ctx, tenant, emma.WalletAccountID)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(html.EscapeString(i18nEUR(bal.Available)), "&#39;", "'"); !strings.Contains(body, want) {
		t.Errorf("pupil page lacks the wallet balance %q", want)
	}

	// A new EM4100 badge by uid (lower case, with separators).
	st, body = c.follow(page+"/badges", url.Values{"uid": {"01:00:aa:bb:cc"}, "tech": {"em4100"}, "printed": {"0011189196"}})
	if st != http.StatusOK || !strings.Contains(body, "0100AABBCC attribué") {
		t.Fatalf("assign by uid: %d\n%.400s", st, body)
	}
	info, err := f.store.BadgeByUID(f.ctx, tenant, "0100AABBCC")
	if err != nil || info.PupilID != emma.ID {
		t.Fatalf("badge 0100AABBCC: %+v, %v", info, err)
	}
	// Given to Lucas by its printed number: Emma holds it, so the page
	// first asks to confirm naming her; confirmed, it moves.
	lucas := f.pupil("Lucas")
	if st, body = c.follow(fmt.Sprint("/admin/pupils/", lucas.ID, "/badges"), url.Values{"printed": {"0011189196"}}); st != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "appartient à "+emma.DisplayName()) || !strings.Contains(body, fmt.Sprintf(`name="holder" value="%d"`, emma.ID)) {
		t.Fatalf("assign Emma's badge by number, unconfirmed: %d\n%.600s", st, body)
	}
	if b, _ := f.store.Badge(f.ctx, tenant, info.ID); b.PupilID != emma.ID {
		t.Fatalf("unconfirmed: badge went to pupil %d, want it kept by Emma %d", b.PupilID, emma.ID)
	}
	if st, body = c.follow(fmt.Sprint("/admin/pupils/", lucas.ID, "/badges"), url.Values{"printed": {"0011189196"}, "holder": {fmt.Sprint(emma.ID)}}); st != http.StatusOK {
		t.Fatalf("assign by number: %d", st)
	}
	if b, _ := f.store.Badge(f.ctx, tenant, info.ID); b.PupilID != lucas.ID {
		t.Errorf("badge by number went to pupil %d, want Lucas %d", b.PupilID, lucas.ID)
	}
	// Refusals keep what was typed and say why.
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"uid": {"XYZ"}, "tech": {"em4100"}}, "ne convient pas"},
		{url.Values{"printed": {"999"}}, "Aucun badge en stock"},
		{url.Values{}, "Indiquez l"},
	} {
		st, body, _ := c.post(page+"/badges", tc.form)
		if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), tc.want) {
			t.Errorf("assign %v: %d, want 422 with %q", tc.form, st, tc.want)
		}
	}

	// Mark Emma's demo badge lost, then returned.
	own, err := f.store.BadgeByUID(f.ctx, tenant, f.demo.Badges["Emma"])
	if err != nil {
		t.Fatal(err)
	}
	statusURL := fmt.Sprint(page, "/badges/", own.ID, "/status")
	if st, body = c.follow(statusURL, url.Values{"status": {"lost"}}); st != http.StatusOK || !strings.Contains(body, "Perdu") {
		t.Fatalf("mark lost: %d", st)
	}
	if b, _ := f.store.Badge(f.ctx, tenant, own.ID); b.Status != school.BadgeLost || b.PupilID != emma.ID {
		t.Errorf("after lost: %+v", b)
	}
	if st, _ = c.follow(statusURL, url.Values{"status": {"stolen"}}); st != http.StatusOK {
		t.Errorf("unknown status: %d", st)
	}
	if st, body = c.follow(statusURL, url.Values{"status": {"returned"}}); st != http.StatusOK {
		t.Fatalf("mark returned: %d", st)
	}
	if !strings.Contains(body, "Plus attribué à cet élève") {
		t.Errorf("a returned badge should stay listed with its history")
	}
	h, err := f.store.BadgeHistory(f.ctx, tenant, own.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h); n < 3 || h[n-2].Status != school.BadgeLost || h[n-1].Status != school.BadgeReturned {
		t.Errorf("history %+v, want … lost, returned", h)
	}
	// A badge no longer the pupil's cannot be changed from this page.
	if st, body = c.follow(statusURL, url.Values{"status": {"active"}}); !strings.Contains(body, "n&#39;est plus attribué") {
		t.Errorf("changing a returned badge: %d, no refusal shown", st)
	}
	// Another pupil's badge id in this pupil's URL.
	if st, _, _ := c.post(fmt.Sprint(page, "/badges/", info.ID, "/status"), url.Values{"status": {"blocked"}}); st != http.StatusSeeOther {
		t.Errorf("other pupil's badge: %d", st)
	}
	if b, _ := f.store.Badge(f.ctx, tenant, info.ID); b.Status != school.BadgeActive {
		t.Errorf("another pupil's badge was changed through Emma's page: %s", b.Status)
	}

	// QR badge and the sheet.
	if st, body = c.follow(page+"/badges/qr", nil); st != http.StatusOK || !strings.Contains(body, "Badge QR") {
		t.Fatalf("QR badge: %d", st)
	}
	resp, pdf := c.getResp(fmt.Sprint("/admin/schools/", f.demo.SchoolID, "/badges.pdf"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF") {
		t.Errorf("badge sheet: %d %s %.8q", resp.StatusCode, resp.Header.Get("Content-Type"), pdf)
	}
	if st, _ := c.get("/admin/schools/999999/badges.pdf"); st != http.StatusNotFound {
		t.Errorf("sheet of an unknown school: %d, want 404", st)
	}
	entries, err := f.store.AuditLog(f.ctx, tenant, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"badge.create", "badge.assign", "badge.status", "badge.sheet"} {
		if !hasAudit(entries, a, "") {
			t.Errorf("no audit entry %s", a)
		}
	}

	// Search.
	if st, body = c.get("/admin/pupils?q=emm"); st != http.StatusOK || !strings.Contains(body, page) {
		t.Errorf("search emm: %d, lists Emma: %v", st, strings.Contains(body, page))
	}
	if st, _ = c.get("/admin/pupils/999999"); st != http.StatusNotFound {
		t.Errorf("unknown pupil: %d, want 404", st)
	}
}

func TestClosedDays(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	tenant, sid := f.demo.TenantID, f.demo.SchoolID
	years, err := f.book.Years(f.ctx, tenant, sid)
	if err != nil || len(years) == 0 {
		t.Fatalf("years: %v %v", years, err)
	}
	y := years[len(years)-1]
	// The first open weekday of the last year.
	days, err := f.book.Calendar(f.ctx, tenant, sid, y.Start, y.End)
	if err != nil {
		t.Fatal(err)
	}
	var day time.Time
	for _, d := range days {
		if d.Open {
			day = d.Day
			break
		}
	}
	cal := fmt.Sprintf("/admin/calendar?school=%d&year=%s", sid, y.Label)
	st, body := c.get(cal)
	if st != http.StatusOK || !strings.Contains(body, "Congé") && !strings.Contains(body, "congé") {
		t.Fatalf("calendar: %d, lists the FWB breaks: false", st)
	}
	form := url.Values{"school": {fmt.Sprint(sid)}, "year": {y.Label}, "day": {day.Format(time.DateOnly)}, "kind": {"closure"}, "label": {"Journée pédagogique"}}
	if st, body = c.follow("/admin/calendar/closed", form); st != http.StatusOK || !strings.Contains(body, "Journée pédagogique") {
		t.Fatalf("close a day: %d", st)
	}
	if open, reason, _ := f.book.IsOpen(f.ctx, tenant, sid, day); open || reason != "Journée pédagogique" {
		t.Errorf("after closing: open %v, reason %q", open, reason)
	}
	// A Saturday and a bad date are refused with a message.
	sat := day
	for sat.Weekday() != time.Saturday {
		sat = sat.AddDate(0, 0, 1)
	}
	for _, tc := range []struct{ day, want string }{{sat.Format(time.DateOnly), "samedi ou un dimanche"}, {"31/02/2026", "Date incorrecte"}} {
		bad := url.Values{"school": {fmt.Sprint(sid)}, "day": {tc.day}, "kind": {"closure"}, "label": {"x"}}
		if st, body, _ := c.post("/admin/calendar/closed", bad); st != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("close %s: %d, want 422 with %q", tc.day, st, tc.want)
		}
	}
	open := url.Values{"school": {fmt.Sprint(sid)}, "year": {y.Label}, "day": {day.Format(time.DateOnly)}}
	if st, body = c.follow("/admin/calendar/open", open); st != http.StatusOK || !strings.Contains(body, "est rouvert") {
		t.Fatalf("reopen: %d", st)
	}
	if isOpen, _, _ := f.book.IsOpen(f.ctx, tenant, sid, day); !isOpen {
		t.Errorf("day still closed after reopening")
	}
	if _, body = c.follow("/admin/calendar/open", open); !strings.Contains(body, "n&#39;était pas fermé") {
		t.Errorf("reopening an open day: no message")
	}
	entries, err := f.store.AuditLog(f.ctx, tenant, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "calendar.close", "") || !hasAudit(entries, "calendar.open", "") {
		t.Errorf("calendar changes not audited")
	}
	// Another tenant's school id is not found.
	if st, _, _ := c.post("/admin/calendar/closed", url.Values{"school": {"999999"}, "day": {day.Format(time.DateOnly)}, "label": {"x"}}); st != http.StatusNotFound {
		t.Errorf("unknown school: %d, want 404", st)
	}
}

func TestMenus(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	form := url.Values{"school": {fmt.Sprint(f.demo.SchoolID)}, "day": {"2026-12-01"}, "meal_type": {"repas"}, "rows": {"3"},
		"course_0": {"plat"}, "dish_0": {"Vol-au-vent, frites"}, "allergen_0": {"gluten", "milk"},
		"course_1": {"dessert"}, "dish_1": {""}, "course_2": {"dessert"}, "dish_2": {"Pomme"}}
	st, body := c.follow("/admin/menus", form)
	if st != http.StatusOK || !strings.Contains(body, "Vol-au-vent") {
		t.Fatalf("save menu: %d", st)
	}
	items, err := f.book.Menus(f.ctx, f.demo.TenantID, f.demo.SchoolID, day, day)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		if it.MealType == "repas" {
			got = append(got, fmt.Sprint(it.Dish, it.Allergens))
		}
	}
	if want := "Vol-au-vent, frites[gluten milk]|Pomme[]"; strings.Join(got, "|") != want {
		t.Errorf("menu %q, want %q", strings.Join(got, "|"), want)
	}
	form.Set("allergen_0", "arsenic")
	if _, body = c.follow("/admin/menus", form); !strings.Contains(body, "Menu refusé") {
		t.Errorf("unknown allergen accepted")
	}
}

func TestTrialBalanceSumsToZero(t *testing.T) {
	f := newFixture(t)
	tb, err := ReadTrialBalance(f.ctx, f.led, f.demo.TenantID, testclock.Now().Add(time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	if !tb.Sum.IsZero() || !tb.Debit.Equal(tb.Credit) || !tb.Debit.IsPositive() {
		t.Fatalf("trial balance: debit %s credit %s sum %s", tb.Debit, tb.Credit, tb.Sum)
	}
	// Each line agrees with the ledger's own balance (normal orientation).
	for _, l := range tb.Lines {
		a, err := f.led.AccountByCode(f.ctx, f.demo.TenantID, l.Code)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.led.Balance(f.ctx, f.demo.TenantID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := b.Posted
		if a.Type == ledger.Liability || a.Type == ledger.Income {
			want = want.Neg()
		}
		if !l.Balance().Equal(want) {
			t.Errorf("%s: trial balance %s, ledger %s", l.Code, l.Balance(), want)
		}
	}
	grouped, err := ReadTrialBalance(f.ctx, f.led, f.demo.TenantID, testclock.Now().Add(time.Hour), true)
	if err != nil {
		t.Fatal(err)
	}
	if !grouped.Sum.IsZero() || len(grouped.Lines) >= len(tb.Lines) {
		t.Errorf("grouped: %d lines (detailed %d), sum %s", len(grouped.Lines), len(tb.Lines), grouped.Sum)
	}

	c := f.login("accountant", "demo-accountant")
	st, body := c.get("/admin/books")
	if st != http.StatusOK || !regexp.MustCompile(`id="tb-sum">0,00`).MatchString(body) || !strings.Contains(body, "wallet:*") {
		t.Errorf("books page: %d, shows a zero sum: %v", st, strings.Contains(body, `id="tb-sum">0,00`))
	}
	if st, body = c.get("/admin/books/verify"); st != http.StatusOK || !strings.Contains(body, "Aucune anomalie") {
		t.Errorf("verify page: %d", st)
	}
}

func TestJournalCSV(t *testing.T) {
	f := newFixture(t)
	c := f.login("accountant", "demo-accountant")
	var from, to time.Time
	if err := f.led.Pool().QueryRow(f.ctx, `SELECT min(occurred_at), max(occurred_at) FROM postings WHERE tenant_id = $1`, f.demo.TenantID).Scan(&from, &to); err != nil {
		t.Fatal(err)
	}
	from, to = from.In(brussels()), to.In(brussels())
	resp, body := c.getResp("/admin/books/journal.csv?from=" + from.Format(time.DateOnly) + "&to=" + to.Format("02/01/2006"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("journal: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	if !strings.HasPrefix(body, "\ufefftransfert;date;type;compte;débit;crédit;libellé\r\n") {
		t.Fatalf("journal starts %.80q", body)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff")))
	r.Comma = ';'
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 3 {
		t.Fatalf("journal has %d lines", len(recs))
	}
	amount := regexp.MustCompile(`^\d+,\d{2}$`)
	date := regexp.MustCompile(`^\d{2}/\d{2}/\d{4}$`)
	sums := map[string]decimal.Decimal{}
	for i, rec := range recs[1:] {
		if len(rec) != 7 {
			t.Fatalf("line %d: %d fields", i+2, len(rec))
		}
		if !date.MatchString(rec[1]) || !amount.MatchString(rec[4]) || !amount.MatchString(rec[5]) || rec[3] == "" {
			t.Errorf("line %d: %q", i+2, rec)
		}
		d := decimal.RequireFromString(strings.Replace(rec[4], ",", ".", 1))
		k := decimal.RequireFromString(strings.Replace(rec[5], ",", ".", 1))
		if d.IsZero() == k.IsZero() {
			t.Errorf("line %d: debit %s and credit %s: want exactly one", i+2, rec[4], rec[5])
		}
		sums[rec[0]] = sums[rec[0]].Add(d).Sub(k)
	}
	for id, s := range sums {
		if !s.IsZero() {
			t.Errorf("transfer %s: debits − credits = %s", id, s)
		}
	}
	var postings int
	if err := f.led.Pool().QueryRow(f.ctx, `SELECT count(*) FROM postings WHERE tenant_id = $1`, f.demo.TenantID).Scan(&postings); err != nil {
		t.Fatal(err)
	}
	if len(recs)-1 != postings {
		t.Errorf("journal has %d rows, the tenant has %d postings (all within the range)", len(recs)-1, postings)
	}
	for _, q := range []string{"from=x&to=2026-01-01", "from=2026-02-01&to=2026-01-01", "from=2020-01-01&to=2026-01-01"} {
		if st, _ := c.get("/admin/books/journal.csv?" + q); st != http.StatusSeeOther {
			t.Errorf("journal?%s: %d, want 303 back with a message", q, st)
		}
	}
}

func TestWriteJournalEscapes(t *testing.T) {
	tests := []struct{ in, want string }{{"=HYPERLINK(1)", "'=HYPERLINK(1)"}, {"-2+3", "'-2+3"}, {"-2", "-2"}, {"Repas; frites", "Repas; frites"}, {"", ""}}
	for _, tt := range tests {
		if got := safeCell(tt.in); got != tt.want {
			t.Errorf("safeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	_ = w.Write([]string{safeCell("Repas; frites")})
	w.Flush()
	if buf.String() != "\"Repas; frites\"\n" {
		t.Errorf("a memo with ';' is written %q", buf.String())
	}
	if got := beAmount(decimal.RequireFromString("1234.5")); got != "1234,50" {
		t.Errorf("beAmount = %q", got)
	}
}

func TestClosePeriod(t *testing.T) {
	f := newFixture(t)
	c := f.login("accountant", "demo-accountant")
	yesterday := testclock.Now().In(brussels()).AddDate(0, 0, -1)
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"day": {testclock.Now().In(brussels()).Format(time.DateOnly)}, "confirm": {"yes"}}, "jours passés"},
		{url.Values{"day": {yesterday.Format(time.DateOnly)}}, "Cochez la case"},
	} {
		if _, body := c.follow("/admin/books/close", tc.form); !strings.Contains(body, tc.want) {
			t.Errorf("close %v: no %q", tc.form, tc.want)
		}
	}
	if _, body := c.follow("/admin/books/close", url.Values{"day": {yesterday.Format(time.DateOnly)}, "confirm": {"yes"}}); !strings.Contains(body, "Période clôturée") {
		t.Fatalf("close: no confirmation")
	}
	bank, err := f.led.AccountByCode(f.ctx, f.demo.TenantID, school.AccountBank)
	if err != nil {
		t.Fatal(err)
	}
	susp, err := f.led.AccountByCode(f.ctx, f.demo.TenantID, school.AccountSuspense)
	if err != nil {
		t.Fatal(err)
	}
	one := decimal.NewFromInt(1)
	_, err = f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.demo.TenantID, IdempotencyKey: "late", Kind: "test", Actor: "test",
		OccurredAt: yesterday, Postings: []ledger.Posting{{AccountID: bank.ID, Amount: one}, {AccountID: susp.ID, Amount: one.Neg()}}})
	if err == nil {
		t.Errorf("a transfer on a closed day was accepted")
	}
	if _, body := c.follow("/admin/books/close", url.Values{"day": {yesterday.AddDate(0, 0, -3).Format(time.DateOnly)}, "confirm": {"yes"}}); !strings.Contains(body, "déjà clôturés") {
		t.Errorf("closing an earlier day: no refusal")
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "ledger.close_period", "") {
		t.Errorf("period close not audited")
	}
}
