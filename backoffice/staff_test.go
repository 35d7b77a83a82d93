package backoffice

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tartine/school"
)

var staffPasswordRE = regexp.MustCompile(`id="staff-password">([A-Za-z0-9]{16})<`)

// staffByLogin returns the demo tenant's staff user with this login.
func (f *fixture) staffByLogin(login string) school.StaffUser {
	f.t.Helper()
	u, err := f.store.StaffByLogin(f.ctx, login)
	if err != nil {
		f.t.Fatalf("staff %s: %v", login, err)
	}
	return u
}

// issuedPassword posts a form whose answer shows a password once, checks
// that the answer may not be stored, and returns the password and page.
func (c *client) issuedPassword(path string, form url.Values) (string, string) {
	c.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", c.csrf)
	req, _ := http.NewRequest(http.MethodPost, c.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.f.srv.URL)
	resp, body := c.do(req)
	if resp.StatusCode != http.StatusOK {
		c.f.t.Fatalf("POST %s: %d, want 200 (%.300s)", path, resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		c.f.t.Errorf("POST %s: Cache-Control %q, want no-store", path, cc)
	}
	m := staffPasswordRE.FindStringSubmatch(body)
	if m == nil {
		c.f.t.Fatalf("POST %s shows no password:\n%s", path, body)
	}
	if !strings.Contains(body, "ne sera plus jamais affiché") {
		c.f.t.Errorf("POST %s: no warning that the password is shown once", path)
	}
	return m[1], body
}

func TestStaffList(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	st, body := c.get("/admin/staff")
	if st != http.StatusOK {
		t.Fatalf("GET /admin/staff: %d", st)
	}
	for _, want := range []string{"<code>admin</code>", "<code>canteen</code>", "<code>daycare</code>", "<code>kiosk</code>", "<code>accountant</code>",
		"Administratrice démo", "Toutes les écoles", "Comptabilité", `name="csrf_token"`, `<label for="login">`, `type="checkbox" name="roles" value="kiosk"`} {
		if !strings.Contains(body, want) {
			t.Errorf("staff page lacks %q", want)
		}
	}
	if _, home := c.get("/admin"); !strings.Contains(home, `href="/admin/staff"`) {
		t.Errorf("the home page has no link to the staff page")
	}
	// English second.
	if _, _, loc := c.post("/admin/lang", url.Values{"lang": {"en"}, "back": {"/admin/staff"}}); loc != "/admin/staff" {
		t.Fatalf("language switch went to %q", loc)
	}
	if _, body := c.get("/admin/staff"); !strings.Contains(body, "Staff accounts") || !strings.Contains(body, "All schools") {
		t.Errorf("English staff page is not in English")
	}
}

func TestStaffCreateShowsPasswordOnce(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	pw, body := c.issuedPassword("/admin/staff", url.Values{"login": {" Julie.M "}, "name": {"Julie Martin"},
		"roles": {"canteen", "daycare"}, "school": {fmt.Sprint(f.demo.SchoolID)}})
	if !strings.Contains(body, "Compte julie.m créé") {
		t.Errorf("the answer does not say the account was created")
	}
	u, err := f.store.AuthenticateStaff(f.ctx, "julie.m", pw)
	if err != nil {
		t.Fatalf("the shown password does not authenticate: %v", err)
	}
	if u.Name != "Julie Martin" || !slices.Equal(u.Roles, []school.Role{school.RoleCanteen, school.RoleDaycare}) || u.SchoolID != f.demo.SchoolID || !u.Active {
		t.Errorf("created %+v", u)
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "staff.create", fmt.Sprint("staff:", u.ID)) {
		t.Errorf("no audit entry staff.create")
	}
	st, list := c.get("/admin/staff")
	if st != http.StatusOK || !strings.Contains(list, "<code>julie.m</code>") {
		t.Fatalf("the list does not show the new member (%d)", st)
	}
	if strings.Contains(list, pw) {
		t.Errorf("the list shows the password again")
	}
	if _, page := c.get(fmt.Sprint("/admin/staff/", u.ID)); strings.Contains(page, pw) || !strings.Contains(page, "Julie Martin") {
		t.Errorf("the member page shows the password again, or not the member")
	}

	// The new member logs in on the real login page with it.
	if _, home := f.login("julie.m", pw).get("/staff/"); !strings.Contains(home, "Julie Martin") {
		t.Errorf("the new member's staff home does not greet her")
	}

	// A new password replaces the old one, shown once.
	pw2, body := c.issuedPassword(fmt.Sprint("/admin/staff/", u.ID, "/password"), nil)
	if pw2 == pw || !strings.Contains(body, "Nouveau mot de passe pour julie.m") {
		t.Errorf("new password %q (old %q)", pw2, pw)
	}
	if _, err := f.store.AuthenticateStaff(f.ctx, "julie.m", pw); !errors.Is(err, school.ErrBadCredentials) {
		t.Errorf("the old password still works: %v", err)
	}
	if _, err := f.store.AuthenticateStaff(f.ctx, "julie.m", pw2); err != nil {
		t.Errorf("the new password does not authenticate: %v", err)
	}
}

func TestStaffCreateRefusals(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	before, err := f.store.ListStaff(f.ctx, f.demo.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		form  url.Values
		want  string
		field string
	}{
		{"taken login", url.Values{"login": {"ADMIN"}, "name": {"Deuxième Admin"}, "roles": {"kiosk"}}, "Identifiant « admin » déjà pris", `id="login"`},
		{"bad login", url.Values{"login": {"jean dupont"}, "name": {"Jean Dupont"}, "roles": {"kiosk"}}, "Identifiant « jean dupont » refusé", `id="login"`},
		{"no login", url.Values{"login": {""}, "name": {"Jean Dupont"}, "roles": {"kiosk"}}, "indiquez un identifiant", `id="login"`},
		{"no role", url.Values{"login": {"jean"}, "name": {"Jean Dupont"}}, "cochez au moins un rôle", ""},
		{"unknown role", url.Values{"login": {"jean"}, "name": {"Jean Dupont"}, "roles": {"kiosk", "root"}}, "Rôle inconnu : « root »", ""},
		{"unknown school", url.Values{"login": {"jean"}, "name": {"Jean Dupont"}, "roles": {"kiosk"}, "school": {"999999"}}, "choisissez une école", `id="school"`},
		{"long name", url.Values{"login": {"jean"}, "name": {strings.Repeat("x", 101)}, "roles": {"kiosk"}}, "100 caractères au plus", `id="name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body, _ := c.post("/admin/staff", tt.form)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", st)
			}
			text := html.UnescapeString(body)
			if !strings.Contains(text, tt.want) {
				t.Errorf("no message %q in:\n%s", tt.want, regexp.MustCompile(`(?s)<p class="error".*?</p>`).FindString(body))
			}
			// Nothing typed is lost.
			if n := tt.form.Get("name"); !strings.Contains(text, `value="`+n+`"`) {
				t.Errorf("the name %q is not kept", n)
			}
			for _, r := range tt.form["roles"] {
				if r != "root" && !strings.Contains(body, `value="`+r+`" checked`) {
					t.Errorf("role %s is not kept ticked", r)
				}
			}
			if tt.field != "" && !regexp.MustCompile(regexp.QuoteMeta(tt.field)+`[^>]*aria-invalid="true"`).MatchString(body) {
				t.Errorf("field %s is not marked invalid", tt.field)
			}
		})
	}
	after, err := f.store.ListStaff(f.ctx, f.demo.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d staff after refusals, want %d", len(after), len(before))
	}
}

func TestStaffRolesAndAccess(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	kiosk := f.staffByLogin("kiosk")
	page := fmt.Sprint("/admin/staff/", kiosk.ID)

	st, body := c.follow(page+"/roles", url.Values{"roles": {"kiosk", "canteen"}})
	if st != http.StatusOK || !strings.Contains(body, "Rôles de kiosk enregistrés") {
		t.Fatalf("roles: %d, no confirmation", st)
	}
	if got := f.staffByLogin("kiosk").Roles; !slices.Equal(got, []school.Role{school.RoleKiosk, school.RoleCanteen}) {
		t.Errorf("roles %v, want [kiosk canteen]", got)
	}
	if !strings.Contains(body, `value="canteen" checked`) || strings.Contains(body, `value="admin" checked`) {
		t.Errorf("the member page does not tick the new roles")
	}
	if st, body, _ := c.post(page+"/roles", nil); st != http.StatusUnprocessableEntity || !strings.Contains(body, "cochez au moins un rôle") {
		t.Errorf("no roles: %d", st)
	}
	if got := f.staffByLogin("kiosk").Roles; len(got) != 2 {
		t.Errorf("roles changed by a refused form: %v", got)
	}

	// Disable, then enable again.
	st, body = c.follow(page+"/active", url.Values{"active": {"0"}})
	if st != http.StatusOK || !strings.Contains(body, "Le compte kiosk est désactivé") {
		t.Fatalf("disable: %d", st)
	}
	if _, err := f.store.AuthenticateStaff(f.ctx, "kiosk", "demo-kiosk"); !errors.Is(err, school.ErrBadCredentials) {
		t.Errorf("a disabled member authenticates: %v", err)
	}
	if _, list := c.get("/admin/staff"); !strings.Contains(list, "Désactivé") {
		t.Errorf("the list does not show the disabled account")
	}
	if st, body = c.follow(page+"/active", url.Values{"active": {"1"}}); st != http.StatusOK || !strings.Contains(body, "est réactivé") {
		t.Fatalf("enable: %d", st)
	}
	if _, err := f.store.AuthenticateStaff(f.ctx, "kiosk", "demo-kiosk"); err != nil {
		t.Errorf("an enabled member does not authenticate: %v", err)
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"staff.roles", "staff.active"} {
		if !hasAudit(entries, a, fmt.Sprint("staff:", kiosk.ID)) {
			t.Errorf("no audit entry %s", a)
		}
	}
	if st, _, _ := c.post("/admin/staff/999999/active", url.Values{"active": {"0"}}); st != http.StatusNotFound {
		t.Errorf("unknown member: %d, want 404", st)
	}
	if st, _ := c.get("/admin/staff/x"); st != http.StatusNotFound {
		t.Errorf("bad member id: %d, want 404", st)
	}
}

func TestStaffKeepsAnAdmin(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	admin := f.staffByLogin("admin")
	page := fmt.Sprint("/admin/staff/", admin.ID)

	// The only admin can neither disable the account nor drop the role.
	st, body, _ := c.post(page+"/active", url.Values{"active": {"0"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "Vous ne pouvez pas désactiver votre propre compte") {
		t.Errorf("disabling the last admin: %d", st)
	}
	st, body, _ = c.post(page+"/roles", url.Values{"roles": {"accountant"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "retirer votre propre rôle Administration") {
		t.Errorf("dropping the last admin's role: %d", st)
	}
	if !strings.Contains(body, `value="accountant" checked`) {
		t.Errorf("the refused roles are not kept ticked")
	}
	if u := f.staffByLogin("admin"); !u.Active || !u.Has(school.RoleAdmin) {
		t.Errorf("the last admin was changed: %+v", u)
	}

	// A second admin may disable the first; then the second is the last
	// one and is refused in turn.
	pw, _ := c.issuedPassword("/admin/staff", url.Values{"login": {"chef"}, "name": {"Chef"}, "roles": {"admin"}})
	chef := f.login("chef", pw)
	if st, _ := chef.follow(page+"/active", url.Values{"active": {"0"}}); st != http.StatusOK {
		t.Fatalf("a second admin disables the first: %d", st)
	}
	if st, _ := c.get("/admin/staff"); st != http.StatusSeeOther {
		t.Errorf("a disabled admin still reaches the page: %d", st)
	}
	chefPage := fmt.Sprint("/admin/staff/", f.staffByLogin("chef").ID)
	if st, _, _ := chef.post(chefPage+"/active", url.Values{"active": {"0"}}); st != http.StatusUnprocessableEntity {
		t.Errorf("disabling the last admin: %d, want 422", st)
	}
	if u := f.staffByLogin("chef"); !u.Active {
		t.Errorf("the last admin was disabled")
	}
}

func TestStaffForbidden(t *testing.T) {
	f := newFixture(t)
	kiosk := fmt.Sprint("/admin/staff/", f.staffByLogin("kiosk").ID)
	for _, who := range [][2]string{{"canteen", "demo-canteen"}, {"accountant", "demo-accountant"}} {
		t.Run(who[0], func(t *testing.T) {
			c := f.login(who[0], who[1])
			for _, p := range []string{"/admin/staff", kiosk} {
				if st, _ := c.get(p); st != http.StatusForbidden {
					t.Errorf("GET %s: %d, want 403", p, st)
				}
			}
			if st, _, _ := c.post("/admin/staff", url.Values{"login": {"intrus"}, "roles": {"admin"}}); st != http.StatusForbidden {
				t.Errorf("POST /admin/staff: %d, want 403", st)
			}
			if st, _, _ := c.post(kiosk+"/roles", url.Values{"roles": {"admin"}}); st != http.StatusForbidden {
				t.Errorf("POST roles: %d, want 403", st)
			}
			if st, _, _ := c.post(kiosk+"/password", nil); st != http.StatusForbidden {
				t.Errorf("POST password: %d, want 403", st)
			}
		})
	}
	if _, err := f.store.StaffByLogin(f.ctx, "intrus"); !errors.Is(err, school.ErrNotFound) {
		t.Errorf("a refused user created a member: %v", err)
	}
	if got := f.staffByLogin("kiosk").Roles; !slices.Equal(got, []school.Role{school.RoleKiosk}) {
		t.Errorf("a refused user changed roles: %v", got)
	}
	// The form needs the session's CSRF token.
	c := f.login("admin", "demo-admin")
	if st, _, _ := c.post("/admin/staff", url.Values{"csrf_token": {"forged"}, "login": {"intrus"}, "roles": {"kiosk"}}); st != http.StatusForbidden {
		t.Errorf("POST with a forged token: %d, want 403", st)
	}
}

func TestStaffSchoolBoundAdmin(t *testing.T) {
	f := newFixture(t)
	if _, err := f.store.CreateStaff(f.ctx, f.demo.TenantID, school.StaffInput{Login: "direction", Name: "Direction", Password: "demo-direction",
		Roles: []school.Role{school.RoleAdmin}, SchoolID: f.demo.SchoolID}, "system"); err != nil {
		t.Fatal(err)
	}
	c := f.login("direction", "demo-direction")
	_, body := c.get("/admin/staff")
	if strings.Contains(body, "<code>admin</code>") || !strings.Contains(body, "<code>direction</code>") {
		t.Errorf("a school's admin sees staff of every school")
	}
	if strings.Contains(body, `<option value="0"`) {
		t.Errorf("a school's admin is offered every school")
	}
	if st, _ := c.get(fmt.Sprint("/admin/staff/", f.staffByLogin("admin").ID)); st != http.StatusNotFound {
		t.Errorf("a school's admin opens an organising-body admin: %d, want 404", st)
	}
	if st, _, _ := c.post("/admin/staff", url.Values{"login": {"partout"}, "roles": {"admin"}, "school": {"0"}}); st != http.StatusUnprocessableEntity {
		t.Errorf("a school's admin adds a member for every school: %d, want 422", st)
	}
	pw, _ := c.issuedPassword("/admin/staff", url.Values{"login": {"cuisine"}, "roles": {"canteen"}, "school": {fmt.Sprint(f.demo.SchoolID)}})
	if u, err := f.store.AuthenticateStaff(f.ctx, "cuisine", pw); err != nil || u.SchoolID != f.demo.SchoolID {
		t.Errorf("member added by a school's admin: %+v, %v", u, err)
	}
}

func TestStaffProfile(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	other, err := f.store.EnsureSchool(f.ctx, f.demo.TenantID, school.SchoolInput{Code: "chenes", Name: "Les Chênes"})
	if err != nil {
		t.Fatal(err)
	}
	kiosk := f.staffByLogin("kiosk")
	page := fmt.Sprint("/admin/staff/", kiosk.ID)
	_, body := c.get(page)
	for _, want := range []string{`action="` + page + `/profile"`, `id="profile-name"`, `value="` + kiosk.Name + `"`, `<option value="0"`, "Les Chênes"} {
		if !strings.Contains(body, want) {
			t.Errorf("member page lacks %q", want)
		}
	}

	st, body := c.follow(page+"/profile", url.Values{"name": {"  Accueil du matin "}, "school": {fmt.Sprint(other.ID)}})
	if st != http.StatusOK || !strings.Contains(body, "Nom et école de kiosk enregistrés.") {
		t.Fatalf("profile: %d, no confirmation", st)
	}
	if u := f.staffByLogin("kiosk"); u.Name != "Accueil du matin" || u.SchoolID != other.ID {
		t.Errorf("after the change: %+v", u)
	}
	if !strings.Contains(body, `<dd>Les Chênes</dd>`) {
		t.Errorf("the member page does not show the new school")
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "staff.profile", fmt.Sprint("staff:", kiosk.ID)) {
		t.Errorf("no audit entry staff.profile")
	}
	// Back to every school.
	if st, _ := c.follow(page+"/profile", url.Values{"name": {"Accueil"}, "school": {"0"}}); st != http.StatusOK || f.staffByLogin("kiosk").SchoolID != 0 {
		t.Errorf("unbinding to every school: %d, %+v", st, f.staffByLogin("kiosk"))
	}

	admin := f.staffByLogin("admin")
	for _, tc := range []struct {
		name string
		path string
		form url.Values
		want string
		fld  string
	}{
		{"empty name", page, url.Values{"name": {"   "}, "school": {"0"}}, "Nom : indiquez un nom.", `id="profile-name"`},
		{"long name", page, url.Values{"name": {strings.Repeat("é", 101)}, "school": {"0"}}, "Nom : 100 caractères au plus.", `id="profile-name"`},
		{"unknown school", page, url.Values{"name": {"Accueil"}, "school": {"999999"}}, "École : choisissez une école de la liste.", `id="profile-school"`},
		{"bad school", page, url.Values{"name": {"Accueil"}, "school": {"x"}}, "École : choisissez une école de la liste.", `id="profile-school"`},
		{"last admin of every school", fmt.Sprint("/admin/staff/", admin.ID), url.Values{"name": {"Admin"}, "school": {fmt.Sprint(f.demo.SchoolID)}},
			"École : admin est le dernier administrateur actif de toutes les écoles", `id="profile-school"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post(tc.path+"/profile", tc.form)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", st)
			}
			text := html.UnescapeString(body)
			if !strings.Contains(text, tc.want) {
				t.Errorf("no message %q in:\n%s", tc.want, regexp.MustCompile(`(?s)<p class="error".*?</p>`).FindString(body))
			}
			if !regexp.MustCompile(regexp.QuoteMeta(tc.fld) + `[^>]*aria-invalid="true"`).MatchString(body) {
				t.Errorf("field %s is not marked invalid", tc.fld)
			}
			if n := strings.TrimSpace(tc.form.Get("name")); !strings.Contains(text, `value="`+n+`"`) {
				t.Errorf("the typed name %q is not kept", n)
			}
		})
	}
	if u := f.staffByLogin("kiosk"); u.Name != "Accueil" || u.SchoolID != 0 {
		t.Errorf("a refusal changed the member: %+v", u)
	}
	if u := f.staffByLogin("admin"); u.SchoolID != 0 || u.Name != admin.Name {
		t.Errorf("the last admin of every school was bound to one school: %+v", u)
	}
	if st, _, _ := c.post("/admin/staff/999999/profile", url.Values{"name": {"X"}}); st != http.StatusNotFound {
		t.Errorf("unknown member: %d, want 404", st)
	}
	if st, _, _ := c.post(page+"/profile", url.Values{"name": {"Intrus"}, "school": {"0"}, "csrf_token": {"forged"}}); st != http.StatusForbidden {
		t.Errorf("forged token: %d, want 403", st)
	}
	if st, _, _ := f.login("canteen", "demo-canteen").post(page+"/profile", url.Values{"name": {"Intrus"}, "school": {"0"}}); st != http.StatusForbidden {
		t.Errorf("canteen member: %d, want 403", st)
	}
	if u := f.staffByLogin("kiosk"); u.Name != "Accueil" {
		t.Errorf("a refused user renamed the member: %+v", u)
	}

	// With a second admin of every school, the first may bind itself to
	// one school; the second is then the last one and is refused.
	pw, _ := c.issuedPassword("/admin/staff", url.Values{"login": {"chef"}, "name": {"Chef"}, "roles": {"admin"}, "school": {"0"}})
	if st, _ := c.follow(fmt.Sprint("/admin/staff/", admin.ID, "/profile"), url.Values{"name": {"Direction Tilleuls"}, "school": {fmt.Sprint(f.demo.SchoolID)}}); st != http.StatusOK {
		t.Fatalf("binding one of two admins of every school: %d", st)
	}
	if u := f.staffByLogin("admin"); u.SchoolID != f.demo.SchoolID || u.Name != "Direction Tilleuls" {
		t.Errorf("after binding: %+v", u)
	}
	chef := f.login("chef", pw)
	chefPage := fmt.Sprint("/admin/staff/", f.staffByLogin("chef").ID)
	st, body, _ = chef.post(chefPage+"/profile", url.Values{"name": {"Chef"}, "school": {fmt.Sprint(other.ID)}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "chef est le dernier administrateur actif de toutes les écoles") {
		t.Errorf("binding the last admin of every school: %d", st)
	}
	if u := f.staffByLogin("chef"); u.SchoolID != 0 {
		t.Errorf("the last admin of every school was bound: %+v", u)
	}
}

func TestStaffProfileSchoolBoundAdmin(t *testing.T) {
	f := newFixture(t)
	other, err := f.store.EnsureSchool(f.ctx, f.demo.TenantID, school.SchoolInput{Code: "chenes", Name: "Les Chênes"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(login string, roles []school.Role, sid int64) school.StaffUser {
		t.Helper()
		u, err := f.store.CreateStaff(f.ctx, f.demo.TenantID, school.StaffInput{Login: login, Name: login, Password: "demo-" + login, Roles: roles, SchoolID: sid}, "system")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	mk("direction", []school.Role{school.RoleAdmin}, f.demo.SchoolID)
	cuisine := mk("cuisine", []school.Role{school.RoleCanteen}, f.demo.SchoolID)
	ailleurs := mk("ailleurs", []school.Role{school.RoleCanteen}, other.ID)
	c := f.login("direction", "demo-direction")
	page := fmt.Sprint("/admin/staff/", cuisine.ID)
	sc, err := f.store.School(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		t.Fatal(err)
	}

	_, body := c.get(page)
	if strings.Contains(body, `<option value="0"`) || strings.Contains(body, "Les Chênes") || !strings.Contains(body, `id="profile-school"`) {
		t.Errorf("a school's admin is offered every school or another school")
	}
	for _, sid := range []int64{other.ID, 0} {
		st, body, _ := c.post(page+"/profile", url.Values{"name": {"Cuisine"}, "school": {fmt.Sprint(sid)}})
		want := "École : vous gérez seulement " + sc.Name
		if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("school %d: %d, want 422 with %q", sid, st, want)
		}
	}
	if u := f.staffByLogin("cuisine"); u.SchoolID != f.demo.SchoolID || u.Name != "cuisine" {
		t.Errorf("a refusal changed the member: %+v", u)
	}
	if st, _ := c.follow(page+"/profile", url.Values{"name": {"Cuisine centrale"}, "school": {fmt.Sprint(f.demo.SchoolID)}}); st != http.StatusOK {
		t.Errorf("renaming within the school: %d", st)
	}
	if u := f.staffByLogin("cuisine"); u.Name != "Cuisine centrale" {
		t.Errorf("rename: %+v", u)
	}
	// A member of another school is not there for this admin.
	if st, _, _ := c.post(fmt.Sprint("/admin/staff/", ailleurs.ID, "/profile"), url.Values{"name": {"X"}, "school": {fmt.Sprint(f.demo.SchoolID)}}); st != http.StatusNotFound {
		t.Errorf("another school's member: %d, want 404", st)
	}
	if u := f.staffByLogin("ailleurs"); u.SchoolID != other.ID || u.Name != "ailleurs" {
		t.Errorf("another school's member changed: %+v", u)
	}
}
