package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tartine/internal/websession"
	"tartine/portal"
	"tartine/terminal"
)

var regexpTapToken = regexp.MustCompile(`name="tap_token" value="([0-9a-f]+)"`)

func authHeader(deviceID, secret, method, uri, body string) string {
	return terminal.Authorization(deviceID, []byte(secret), method, uri, time.Now(), []byte(body))
}

// identity is one caller of the route policy test.
type identity struct {
	name    string
	kind    string // "", "staff", "guardian"
	role    string // staff role
	foreign bool   // from another school or organising body than the objects in the paths
	b       *browser
}

// allowed reports whether the policy lets id call a route, before any
// object in its path is considered (false: the answer must be a refusal).
func allowed(policy string, id identity) bool {
	switch policy {
	case "public":
		return true
	case "guardian":
		return id.kind == "guardian"
	case "staff":
		return id.kind == "staff"
	case "school-admin":
		return id.kind == "staff" && id.role == "admin"
	case "books":
		return id.kind == "staff" && (id.role == "accountant" || id.role == "admin")
	case "back-office":
		return id.kind == "staff" && (id.role == "accountant" || id.role == "admin")
	}
	return false // device, webhook, operator: no browser session is enough
}

// refused reports whether an answer is a refusal: an error status, or a
// redirect to a login page.
func refused(status int, location string) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	case http.StatusSeeOther, http.StatusFound:
		return strings.Contains(location, "/login")
	}
	return false
}

// knownGaps are routes whose answer to a stranger is not yet a refusal,
// each with why it leaks nothing; reported to their owners. Keep it short.
var knownGaps = map[string]string{}

// TestRoutePolicies enumerates every route of the server as `tartine
// serve` builds it and fails when one declares no policy
// (websession.Public, SchoolAdmin …). Then it calls each route as every
// role — anonymous, parents, each staff role of another school, and staff
// and a parent of another organising body — with the objects of school 1
// of PO 1 in the path, and asserts that whoever the policy does not let in,
// and whoever it lets in but from another school or organising body (on a
// route that names an object), is refused.
func TestRoutePolicies(t *testing.T) {
	f := newSecFixture(t, nil)
	routes := f.engine.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	// Objects of school 1 (PO 1) for the paths.
	var mealTariff, staffID int64
	if err := f.pool.QueryRow(f.ctx, `SELECT id FROM meal_tariffs WHERE tenant_id = $1 ORDER BY id LIMIT 1`, f.po1).Scan(&mealTariff); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(f.ctx, `SELECT id FROM staff_users WHERE login = 'admin1'`).Scan(&staffID); err != nil {
		t.Fatal(err)
	}
	badges, err := f.store.BadgesOfPupil(f.ctx, f.po1, f.emma.ID)
	if err != nil || len(badges) == 0 {
		t.Fatalf("Emma's badges: %v %v", badges, err)
	}
	fill := func(path string) string {
		r := strings.NewReplacer(":tenant", fmt.Sprint(f.po1), ":pupil", fmt.Sprint(f.emma.ID), ":school", fmt.Sprint(f.school1),
			":badge", fmt.Sprint(badges[0].ID), ":device", f.demo.DeviceID, ":token", "nope", ":ref", "R-1", "*filepath", "style.css")
		path = r.Replace(path)
		switch {
		case strings.HasPrefix(path, "/staff/kiosk/"):
			path = strings.Replace(path, ":code", "kiosk-1", 1)
		case strings.HasPrefix(path, "/staff/"):
			path = strings.Replace(path, ":code", "canteen-1", 1)
		}
		switch {
		case strings.HasPrefix(path, "/admin/staff/"):
			path = strings.Replace(path, ":id", fmt.Sprint(staffID), 1)
		case strings.HasPrefix(path, "/admin/tariffs/"):
			path = strings.Replace(path, ":id", fmt.Sprint(mealTariff), 1)
		default:
			path = strings.Replace(path, ":id", fmt.Sprint(f.emma.ID), 1)
		}
		return path
	}

	// 1. Every route declares a policy.
	anon := f.anonymous("anonymous")
	for _, r := range routes {
		req := httptest.NewRequest(r.Method, fill(r.Path), nil)
		req.RemoteAddr = "192.0.2.1:1234"
		f.engine.ServeHTTP(httptest.NewRecorder(), req)
		if p, ok := f.guard.Policy(r.Method, r.Path); !ok || p == "" {
			t.Errorf("%s %s: no policy declared (add websession.Public, SchoolAdmin … to its registration)", r.Method, r.Path)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// 2. Every role, from elsewhere, is refused.
	ids := []identity{
		{name: "anonymous", b: anon},
		{name: "parent of PO 2", kind: "guardian", foreign: true, b: f.guardian("karim@example.be", secPassword)},
		{name: "admin of school 2", kind: "staff", role: "admin", foreign: true, b: f.staff("admin2", secPassword)},
		{name: "canteen of school 2", kind: "staff", role: "canteen", foreign: true, b: f.staff("canteen2", secPassword)},
		{name: "daycare of school 2", kind: "staff", role: "daycare", foreign: true, b: f.staff("daycare2", secPassword)},
		{name: "kiosk of school 2", kind: "staff", role: "kiosk", foreign: true, b: f.staff("kiosk2", secPassword)},
		{name: "accountant of school 2", kind: "staff", role: "accountant", b: f.staff("accountant2", secPassword)},
		{name: "admin of PO 2", kind: "staff", role: "admin", foreign: true, b: f.staff("po2admin", secPassword)},
		{name: "canteen of PO 2", kind: "staff", role: "canteen", foreign: true, b: f.staff("po2canteen", secPassword)},
		{name: "accountant of PO 2", kind: "staff", role: "accountant", foreign: true, b: f.staff("po2accountant", secPassword)},
	}
	// The parent of PO 1 is the owner of Emma: a stranger to no route here,
	// but a stranger to the staff and device routes.
	ids = append(ids, identity{name: "parent of PO 1", kind: "guardian", b: f.guardian(portal.DemoEmail, portal.DemoPassword)})
	checked := 0
	for _, r := range routes {
		if r.Method == http.MethodHead || strings.HasSuffix(r.Path, "/logout") || strings.HasSuffix(r.Path, "/logout-everywhere") {
			continue // logging out is everyone's right (and would end the test's sessions)
		}
		policy, _ := f.guard.Policy(r.Method, r.Path)
		if policy == "public" {
			continue
		}
		path := fill(r.Path)
		namesObject := strings.Contains(r.Path, ":")
		for _, id := range ids {
			ok := allowed(policy, id)
			if ok && !(id.foreign && namesObject) {
				continue // let in: what it sees is checked by the scoping tests
			}
			var st int
			var loc string
			if r.Method == http.MethodGet {
				req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
				resp, _ := id.b.do(req)
				st, loc = resp.StatusCode, resp.Header.Get("Location")
			} else {
				st, _, loc = id.b.post(path, url.Values{"pupil_id": {fmt.Sprint(f.emma.ID)}, "school": {fmt.Sprint(f.school1)}})
			}
			checked++
			if gap, ok := knownGaps[r.Method+" "+r.Path]; ok && !refused(st, loc) {
				t.Logf("known gap, not refused: %s %s as %s: %d %q (%s)", r.Method, path, id.name, st, loc, gap)
				continue
			}
			if !refused(st, loc) {
				t.Errorf("%s %s (%s) as %s: %d %q, want a refusal", r.Method, path, policy, id.name, st, loc)
			}
		}
	}
	if checked < 300 {
		t.Errorf("only %d refusals checked", checked)
	}
	_ = websession.FormLimit
}

// tapRow returns the verdict and reason recorded for a tap id ("" when
// none).
func (f *secFixture) tapRow(id string) (verdict, reason string) {
	f.t.Helper()
	_ = f.pool.QueryRow(f.ctx, `SELECT verdict, coalesce(reason, '') FROM taps WHERE tap_id = $1`, id).Scan(&verdict, &reason)
	return verdict, reason
}

// An admin bound to school 2 issues no invitation letter for school 1's
// pupils (and is not offered school 1).
func TestLettersStayInTheAdminsSchool(t *testing.T) {
	f := newSecFixture(t, nil)
	admin2 := f.staff("admin2", secPassword)
	if st, body := admin2.get("/admin/letters"); st != http.StatusOK || strings.Contains(body, "Tilleuls") || !strings.Contains(body, "Peupliers") {
		t.Errorf("letters form of school 2's admin: %d, offers school 1: %v", st, strings.Contains(body, "Tilleuls"))
	}
	var before, after int
	_ = f.pool.QueryRow(f.ctx, `SELECT count(*) FROM portal_invitations`).Scan(&before)
	st, body, _ := admin2.post("/admin/letters", url.Values{"school": {fmt.Sprint(f.school1)}})
	_ = f.pool.QueryRow(f.ctx, `SELECT count(*) FROM portal_invitations`).Scan(&after)
	if st != http.StatusNotFound || after != before || strings.Contains(body, "Dubois") {
		t.Errorf("letters for school 1 by school 2's admin: %d, invitations %d → %d", st, before, after)
	}
	// Their own school's letters still work.
	if st, _, _ := admin2.post("/admin/letters", url.Values{"school": {fmt.Sprint(f.school2)}}); st != http.StatusOK {
		t.Errorf("letters for school 2 by its admin: %d", st)
	}
}

// The tap pipeline refuses a pupil of another school: a manual entry by
// school 2's canteen, a device's manual tap and a badge tap at another
// school's station. A device bound to school 2 taps nowhere else.
func TestTapsRefuseAnotherSchoolsPupil(t *testing.T) {
	f := newSecFixture(t, nil)
	canteen2 := f.staff("canteen2", secPassword)
	st, body := canteen2.get("/staff/stations/s2-canteen?q=Zo")
	m := regexpTapToken.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("station page: %d", st)
	}
	canteen2.post("/staff/stations/s2-canteen/manual", url.Values{"pupil_id": {fmt.Sprint(f.emma.ID)}, "tap_token": {m[1]}})
	if v, r := f.tapRow("manual-" + m[1]); v != "refused" || r != terminal.ReasonOtherSchool {
		t.Errorf("manual tap of school 1's Emma at school 2: %s %s, want refused %s", v, r, terminal.ReasonOtherSchool)
	}
	for _, tc := range []struct {
		name, device, secret, body, want string
	}{
		{"device manual tap", f.demo.DeviceID, f.demo.DeviceSecret, tapJSON("t-manual", "s2-canteen", fmt.Sprintf("PUPIL:%d", f.emma.ID), "manual"), terminal.ReasonOtherSchool},
		{"badge at another school", f.demo.DeviceID, f.demo.DeviceSecret, tapJSON("t-badge", "s2-canteen", f.demo.Badges["Emma"], "em4100"), terminal.ReasonOtherSchool},
		{"bound device elsewhere", f.dev2, devSecret, tapJSON("t-bound", "canteen-1", f.demo.Badges["Emma"], "em4100"), terminal.ReasonUnknownStation},
	} {
		st, body := f.deviceTaps(tc.device, tc.secret, tc.body)
		if st != http.StatusOK || !strings.Contains(body, `"reason":"`+tc.want+`"`) || strings.Contains(body, "Emma") {
			t.Errorf("%s: %d %s, want reason %s and no name", tc.name, st, body, tc.want)
		}
	}
	var charged int
	// (the demo's history holds Emma's own meals: only this test's taps count)
	_ = f.pool.QueryRow(f.ctx, `SELECT count(*) FROM taps WHERE pupil_id = $1 AND verdict = 'accepted' AND tap_id = ANY($2)`,
		f.emma.ID, []string{"manual-" + m[1], "t-manual", "t-badge", "t-bound"}).Scan(&charged)
	if charged != 0 {
		t.Errorf("Emma has %d accepted taps from other schools, want none", charged)
	}
	// The bound device at its own school's station still works.
	if st, body := f.deviceTaps(f.dev2, devSecret, tapJSON("t-own", "s2-canteen", f.zoeBadge, "em4100")); st != http.StatusOK ||
		strings.Contains(body, terminal.ReasonUnknownStation) || strings.Contains(body, terminal.ReasonOtherSchool) {
		t.Errorf("bound device at its school: %d %s", st, body)
	}
}

// Searches, badges, photos, devices and the audit log stay within the
// staff member's school.
func TestStaffSeeOnlyTheirSchool(t *testing.T) {
	f := newSecFixture(t, nil)
	admin1 := f.staff("admin1", secPassword)
	admin2 := f.staff("admin2", secPassword)
	canteen2 := f.staff("canteen2", secPassword)

	// Searches.
	if _, body := canteen2.get("/staff/stations/s2-canteen?q=Emma"); strings.Contains(body, f.emma.DisplayName()) {
		t.Error("school 2's canteen search lists school 1's Emma")
	}
	if _, body := canteen2.get("/staff/stations/s2-canteen?q=Zo"); !strings.Contains(body, "Zoé") {
		t.Error("school 2's canteen search misses its own Zoé")
	}
	if _, body := admin2.get("/admin/pupils?q=Emma"); strings.Contains(body, "Dubois") {
		t.Error("school 2's admin search lists school 1's Emma")
	}

	// Badges: school 2's admin cannot take Emma's badge, at the back office
	// or at the enrolment desk; it stays Emma's.
	emmaUID := f.demo.Badges["Emma"]
	if st, body, _ := admin2.post(fmt.Sprintf("/admin/pupils/%d/badges", f.zoe.ID), url.Values{"uid": {emmaUID}, "tech": {"em4100"}}); st == http.StatusSeeOther ||
		!strings.Contains(body, "autre école") {
		t.Errorf("school 2's admin takes Emma's badge: %d", st)
	}
	admin2.token("/staff/stations/s2-enrol")
	if st, _, _ := admin2.post("/staff/stations/s2-enrol/assign", url.Values{"uid": {emmaUID}, "pupil_id": {fmt.Sprint(f.zoe.ID)}}); st != http.StatusForbidden {
		t.Errorf("enrolment desk of school 2 takes Emma's badge: %d, want 403", st)
	}
	if st, _, _ := admin2.post("/staff/stations/s2-enrol/assign", url.Values{"uid": {"0100FFEE01"}, "pupil_id": {fmt.Sprint(f.emma.ID)}}); st != http.StatusNotFound {
		t.Errorf("enrolment desk of school 2 gives a badge to Emma: %d, want 404", st)
	}
	// School 1's admin giving Emma's badge to Lucas must name Emma first.
	lucas := f.demo.Pupils["Lucas"]
	admin1.token(fmt.Sprintf("/admin/pupils/%d", lucas))
	if st, body, _ := admin1.post(fmt.Sprintf("/admin/pupils/%d/badges", lucas), url.Values{"uid": {emmaUID}, "tech": {"em4100"}}); st != http.StatusUnprocessableEntity ||
		!strings.Contains(body, f.emma.DisplayName()) {
		t.Errorf("unconfirmed reassignment: %d", st)
	}
	if info, err := f.store.BadgeByUID(f.ctx, f.po1, emmaUID); err != nil || info.PupilID != f.emma.ID {
		t.Errorf("Emma's badge now: %+v %v", info, err)
	}

	// Photos: only to the roles at a screen, of the pupil's school.
	png := []byte("\x89PNG\r\n\x1a\n0000")
	if err := f.store.SetPhoto(f.ctx, f.po1, f.emma.ID, png, true, "test"); err != nil {
		t.Fatal(err)
	}
	photo := fmt.Sprintf("/staff/pupils/%d/photo", f.emma.ID)
	for _, tc := range []struct {
		who  *browser
		want int
	}{
		{f.staff("canteen", "demo-canteen"), http.StatusOK},
		{canteen2, http.StatusNotFound},
		{f.staff("accountant", "demo-accountant"), http.StatusNotFound},
		{f.staff("po2canteen", secPassword), http.StatusNotFound},
	} {
		if st, _ := tc.who.get(photo); st != tc.want {
			t.Errorf("photo as %s: %d, want %d", tc.who.name, st, tc.want)
		}
	}

	// Devices: school 2's admin sees and revokes only school 2's.
	if _, body := admin2.get("/admin/devices"); strings.Contains(body, f.demo.DeviceID) || !strings.Contains(body, f.dev2) {
		t.Errorf("school 2's devices page: shows the demo bridge %v, its own %v", strings.Contains(body, f.demo.DeviceID), strings.Contains(body, f.dev2))
	}
	admin2.token("/admin/devices")
	if st, _, _ := admin2.post("/admin/devices/"+f.demo.DeviceID+"/revoke", nil); st != http.StatusNotFound {
		t.Errorf("school 2's admin revokes the demo bridge: %d, want 404", st)
	}
	admin1.token("/admin/devices")
	if st, _, _ := admin1.post("/admin/devices/"+f.dev2+"/revoke", nil); st != http.StatusNotFound {
		t.Errorf("school 1's admin revokes school 2's bridge: %d, want 404", st)
	}
	if d, err := f.store.DeviceByID(f.ctx, f.demo.DeviceID); err != nil || d.Revoked() {
		t.Errorf("demo bridge revoked: %v %v", d.Revoked(), err)
	}

	// Audit: school 2's admin reads school 2's entries only.
	var admin1ID int64
	_ = f.pool.QueryRow(f.ctx, `SELECT id FROM staff_users WHERE login = 'admin1'`).Scan(&admin1ID)
	if _, body := admin2.get("/admin/audit"); strings.Contains(body, fmt.Sprintf("staff:%d<", admin1ID)) || !strings.Contains(body, "staff.login") {
		t.Errorf("school 2's audit log shows school 1's admin: %v", strings.Contains(body, fmt.Sprintf("staff:%d<", admin1ID)))
	}
}

// A revoked device is refused at once, not when the cache expires.
func TestRevokeTakesEffectAtOnce(t *testing.T) {
	f := newSecFixture(t, nil)
	if st, body := f.deviceTaps(f.dev2, devSecret, tapJSON("r-1", "s2-canteen", f.zoeBadge, "em4100")); st != http.StatusOK {
		t.Fatalf("before revocation: %d %s", st, body)
	}
	admin2 := f.staff("admin2", secPassword)
	admin2.token("/admin/devices")
	if st, _, _ := admin2.post("/admin/devices/"+f.dev2+"/revoke", nil); st != http.StatusSeeOther {
		t.Fatalf("revoke: %d", st)
	}
	if st, body := f.deviceTaps(f.dev2, devSecret, tapJSON("r-2", "s2-canteen", f.zoeBadge, "em4100")); st != http.StatusUnauthorized {
		t.Errorf("right after revocation: %d %s, want 401", st, body)
	}
}

// A bridge bound to school 2 gets the badge list of school 2's pupils; the
// badges of school 1's pupils come as removed, without names.
func TestBoundDeviceBadgeList(t *testing.T) {
	f := newSecFixture(t, nil)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v1/badges", nil)
	req.Header.Set("Authorization", authHeader(f.dev2, devSecret, "GET", "/api/v1/badges", ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Badges []terminal.BadgeEntry `json:"badges"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("badges: %d %v", resp.StatusCode, err)
	}
	byUID := map[string]terminal.BadgeEntry{}
	for _, b := range got.Badges {
		byUID[b.UID] = b
	}
	if b := byUID[f.zoeBadge]; b.Status != "active" || !strings.HasPrefix(b.Name, "Zoé") {
		t.Errorf("Zoé's badge: %+v", b)
	}
	if b, ok := byUID[f.demo.Badges["Emma"]]; ok && (b.Status != "removed" || b.Name != "") {
		t.Errorf("Emma's badge on school 2's bridge: %+v", b)
	}
}
