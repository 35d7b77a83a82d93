package portal_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"tartine/internal/websession"
	"tartine/school"
)

var inviteLinkRe = regexp.MustCompile(`/portal/register\?code=[A-Z0-9-]+`)

// TestInvitationsByEmail: a staff admin sends the invitations by email;
// guardians with an address get a working registration link by email, and
// no letter is printed for them.
func TestInvitationsByEmail(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	staff, err := f.app.School.CreateStaff(ctx, f.tenant, school.StaffInput{Login: "direction", Name: "Direction", Password: "secret-direction",
		Roles: []school.Role{school.RoleAdmin}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(f.app.Sessions.Middleware())
	r.GET("/as-staff", func(c *gin.Context) {
		s, err := f.app.Sessions.Login(c, websession.Principal{Kind: websession.KindStaff, ID: staff.ID, TenantID: f.tenant})
		if err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, s.CSRFToken)
	})
	r.GET("/letters", f.app.Letters)
	r.POST("/letters", f.app.Letters)
	srv := httptest.NewServer(r)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(srv.URL + "/as-staff")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	form := url.Values{"csrf_token": {string(tok)}, "school": {strconv.FormatInt(f.school, 10)}, "send": {"email"}}
	req, _ := http.NewRequest("POST", srv.URL+"/letters", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	if resp.StatusCode != 200 || !strings.Contains(body, "2 invitation(s) envoyée(s) par e-mail") || strings.Contains(body, `class="letter"`) {
		t.Fatalf("letters by email: status %d\n%s", resp.StatusCode, body)
	}
	msgs := f.smtp.Wait(t, 2)
	got := map[string]string{}
	for _, m := range msgs {
		got[strings.Join(m.To, ",")] = inviteLinkRe.FindString(m.Text)
	}
	link := got["anne@example.be"]
	if link == "" || got["bruno@example.be"] == "" {
		t.Fatalf("invitation emails: %v", got)
	}
	// The emailed link opens the registration form with the code.
	code, _ := f.client().get(link)
	if code != 200 {
		t.Fatalf("GET %s = %d", link, code)
	}
}

// TestLettersLanguageSwitchIsStaffs: the letters page, served to staff
// under /admin, switches language through the staff screens (/admin/lang,
// whose session holds the page's CSRF token) and comes back to it; the
// portal's own pages keep /portal/lang.
func TestLettersLanguageSwitchIsStaffs(t *testing.T) {
	f := newFixture(t)
	staff, err := f.app.School.CreateStaff(t.Context(), f.tenant, school.StaffInput{Login: "direction", Password: "secret-direction",
		Roles: []school.Role{school.RoleAdmin}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(f.app.Sessions.Middleware())
	r.GET("/as-staff", func(c *gin.Context) {
		if _, err := f.app.Sessions.Login(c, websession.Principal{Kind: websession.KindStaff, ID: staff.ID, TenantID: f.tenant}); err != nil {
			c.String(500, err.Error())
		}
	})
	r.GET("/admin/letters", f.app.Letters)
	srv := httptest.NewServer(r)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	get := func(path string) string {
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	get("/as-staff")
	page := get("/admin/letters")
	if !strings.Contains(page, `action="/admin/lang"`) || !strings.Contains(page, `name="back" value="/admin/letters"`) {
		t.Errorf("letters page's language switch does not go through the staff screens:\n%s", page)
	}
	resp, err := http.Get(f.url + "/portal/login")
	if err != nil {
		t.Fatal(err)
	}
	login, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(login), `action="/portal/lang"`) || !strings.Contains(string(login), `name="back" value="/portal/"`) {
		t.Errorf("portal page lost its language switch:\n%s", login)
	}
}
