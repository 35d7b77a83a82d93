package staff

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"tartine/internal/browsertest"
	"tartine/internal/i18n"
	"tartine/internal/websession"
	"tartine/school"
	"tartine/terminal"
)

// webServer starts the staff screens and the device API on one server.
func (f *fixture) webServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	sessions, err := websession.New(f.pool, websession.Config{BaseURL: srv.URL})
	must(t, err)
	cat, err := i18n.New()
	must(t, err)
	web, err := New(Deps{Taps: f.svc, Kiosk: f.kiosk, School: f.store, Ledger: f.led, Sessions: sessions, Catalog: cat, Now: f.clk.Now})
	must(t, err)
	web.TopUps = &f.notices
	r := gin.New()
	f.svc.MountDeviceAPI(r)
	web.Mount(r)
	srv.Config.Handler = r
	f.srv = srv // taps are posted to the same server
	return srv
}

func TestLiveCanteenScreenInBrowser(t *testing.T) {
	f := newFixture(t)
	_, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: "cantine", Name: "Marie (cantine)", Password: "tartine-cantine",
		Roles: []school.Role{school.RoleCanteen}}, "test")
	must(t, err)
	srv := f.webServer(t)
	// The terminal runs on the test clock (a school day); the browser's
	// session runs in real time.
	now := f.clk.Now()
	ctx := browsertest.New(t, 375, 812)
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = chromedp.Do(step,
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
		browsertest.Screenshot(t, ctx, "terminal-live-login-failed.png")
		t.Fatalf("log in and open the canteen screen: %v", err)
	}
	// A tap arrives through the device API.
	tap := terminal.Tap{ID: newTapID(), Station: "canteen-1", UID: uidEmma, Tech: "em4100", ReadAt: now}
	if r := f.one(tap); r.Verdict != terminal.VerdictAccepted {
		t.Fatalf("tap: %+v", r)
	}
	if err := chromedp.Do(step, chromedp.WaitVisible("#taps .tap .name")); err != nil {
		browsertest.Screenshot(t, ctx, "terminal-live-no-tap.png")
		t.Fatalf("the tap did not appear: %v", err)
	}
	name, err := chromedp.Run(step, chromedp.Text("#taps .tap .name"))
	must(t, err)
	class, err := chromedp.Run(step, chromedp.Text("#taps .tap .class"))
	must(t, err)
	allergy, err := chromedp.Run(step, chromedp.Text("#taps .tap .allergy"))
	must(t, err)
	if name != "Emma D." || class != "P3A" {
		t.Errorf("screen shows %q %q, want Emma D. P3A", name, class)
	}
	// Headless Chromium asks for English; French browsers get "ALLERGIE : Arachides".
	if !strings.Contains(allergy, "ALLERGY") || !strings.Contains(allergy, "Peanuts") {
		t.Errorf("allergy banner = %q, want ALLERGY: Peanuts", allergy)
	}
	page, err := chromedp.Run(step, chromedp.Text("main"))
	must(t, err)
	if strings.Contains(page, "€") {
		t.Errorf("the shared screen shows an amount: %q", page)
	}
	browsertest.Screenshot(t, ctx, "terminal-live-canteen.png")
}
