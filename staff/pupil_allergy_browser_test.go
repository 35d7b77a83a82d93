package staff

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"tartine/backoffice"
	"tartine/internal/browsertest"
	"tartine/internal/i18n"
	"tartine/internal/websession"
	"tartine/school"
	"tartine/terminal"
)

// TestAllergyFromBackOfficeToCanteenInBrowser (issue 14, "Done means"): in
// a real browser an admin creates a pupil with a peanut allergy and a free
// note in the back office and gives them a badge; at the canteen, in
// another browser, a canteen worker's screen shows the pupil's allergy and
// note as soon as the badge is tapped.
func TestAllergyFromBackOfficeToCanteenInBrowser(t *testing.T) {
	f := newFixture(t)
	for _, in := range []school.StaffInput{
		{Login: "direction", Name: "Anne (direction)", Password: "tartine-direction", Roles: []school.Role{school.RoleAdmin}},
		{Login: "cantine", Name: "Marie (cantine)", Password: "tartine-cantine", Roles: []school.Role{school.RoleCanteen}},
	} {
		_, err := f.store.CreateStaff(f.ctx, f.tenant, in, "test")
		must(t, err)
	}
	// One server: the device API, the staff screens and the back office,
	// on one staff session (as `tartine serve` mounts them).
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	sessions, err := websession.New(f.pool, websession.Config{BaseURL: srv.URL, CookieName: backoffice.StaffCookie})
	must(t, err)
	cat, err := i18n.New()
	must(t, err)
	web, err := New(Deps{Taps: f.svc, Kiosk: f.kiosk, School: f.store, Ledger: f.led, Sessions: sessions, Catalog: cat, Now: f.clk.Now})
	must(t, err)
	admin, err := backoffice.New(backoffice.Deps{Pool: f.pool, School: f.store, Booking: f.book, Ledger: f.led, Sessions: sessions,
		Catalog: cat, BaseURL: srv.URL, Now: f.clk.Now})
	must(t, err)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.svc.MountDeviceAPI(r)
	web.Mount(r)
	admin.Mount(r)
	srv.Config.Handler = r
	f.srv = srv

	// The admin, in the school's office.
	office := browsertest.New(t, 1024, 768)
	step, cancel := context.WithTimeout(office, 60*time.Second)
	defer cancel()
	err = chromedp.Do(step,
		chromedp.Navigate(srv.URL+"/admin/pupils/new"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "direction"),
		chromedp.SendKeys("#password", "tartine-direction"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#pupil-form"),
		chromedp.SendKeys("#pf-first", "Léon"),
		chromedp.SendKeys("#pf-last", "Kiwi"),
		chromedp.SendKeys("#pf-level", "P3"),
		chromedp.Click(`input[name="allergen"][value="peanuts"]`),
		chromedp.SendKeys("#pf-notes", "épipen dans le cartable"),
		chromedp.Click("#pupil-save"),
		chromedp.WaitVisible("#pupil-edit"),
		chromedp.SendKeys("#uid", "0A0B0C0D0E"),
		chromedp.Click(`form[action$="/badges"] button[type="submit"]`),
		chromedp.WaitVisible(`td code`),
	)
	if err != nil {
		browsertest.Screenshot(t, office, "allergy-office-failed.png")
		t.Fatalf("create the pupil and give a badge in the back office: %v", err)
	}
	info, err := f.store.BadgeByUID(f.ctx, f.tenant, "0A0B0C0D0E")
	if err != nil || info.PupilID == 0 {
		t.Fatalf("the badge is not Léon's: %+v %v", info, err)
	}

	// The canteen worker, at the line, in another browser.
	line := browsertest.New(t, 375, 812)
	step2, cancel2 := context.WithTimeout(line, 60*time.Second)
	defer cancel2()
	err = chromedp.Do(step2,
		chromedp.Navigate(srv.URL+"/staff/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "cantine"),
		chromedp.SendKeys("#password", "tartine-cantine"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible(`a[href="/staff/stations/canteen-1"]`),
		chromedp.Navigate(srv.URL+"/staff/stations/canteen-1"),
		chromedp.WaitVisible("#live-status.on"),
	)
	if err != nil {
		browsertest.Screenshot(t, line, "allergy-canteen-login-failed.png")
		t.Fatalf("open the canteen screen: %v", err)
	}
	f.one(terminal.Tap{ID: newTapID(), Station: "canteen-1", UID: "0A0B0C0D0E", Tech: "em4100", ReadAt: f.clk.Now()})
	if err := chromedp.Do(step2, chromedp.WaitVisible("#taps .tap .allergy")); err != nil {
		browsertest.Screenshot(t, line, "allergy-canteen-no-banner.png")
		t.Fatalf("no allergy banner after the tap: %v", err)
	}
	name, err := chromedp.Run(step2, chromedp.Text("#taps .tap .name"))
	must(t, err)
	allergy, err := chromedp.Run(step2, chromedp.Text("#taps .tap .allergy"))
	must(t, err)
	if name != "Léon K." {
		t.Errorf("screen names %q, want Léon K.", name)
	}
	// Headless Chromium asks for English.
	if !strings.Contains(allergy, "Peanuts") || !strings.Contains(allergy, "épipen dans le cartable") {
		t.Errorf("allergy banner = %q, want the peanuts and the note", allergy)
	}
	browsertest.Screenshot(t, line, "allergy-canteen-seen.png")
}
