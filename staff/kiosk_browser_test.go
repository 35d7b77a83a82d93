package staff

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/internal/browsertest"
	"tartine/school"
	"tartine/terminal"
)

// TestKioskTapSelectsPupilInBrowser: the cashier's screen is open; a badge
// tapped on the kiosk reader selects its pupil (server-sent event, then
// kiosk.js loads ?last=1); the cashier takes 20 € and gets the receipt.
func TestKioskTapSelectsPupilInBrowser(t *testing.T) {
	f := newFixture(t)
	_, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: "caisse", Name: "Paul (caisse)", Password: "tartine-caisse",
		Roles: []school.Role{school.RoleKiosk}}, "test")
	must(t, err)
	srv := f.webServer(t)
	ctx := browsertest.New(t, 1024, 768)
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = chromedp.Do(step,
		chromedp.Navigate(srv.URL+"/staff/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "caisse"),
		chromedp.SendKeys("#password", "tartine-caisse"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible(`a[href="/staff/stations/kiosk-1"]`),
		chromedp.Click(`a[href="/staff/stations/kiosk-1"]`),
		chromedp.WaitVisible("#live-status.on"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "terminal-kiosk-login-failed.png")
		t.Fatalf("log in and open the kiosk: %v", err)
	}
	if r := f.one(tapAt("kiosk-1", uidEmma, f.clk.Now())); r.Action != terminal.ActionLookup {
		t.Fatalf("kiosk tap: %+v", r)
	}
	if err := chromedp.Do(step, chromedp.WaitVisible("#topup-form #amount")); err != nil {
		browsertest.Screenshot(t, ctx, "terminal-kiosk-no-select.png")
		t.Fatalf("the tapped pupil was not selected: %v", err)
	}
	name, err := chromedp.Run(step, chromedp.Text("#pupil .name"))
	must(t, err)
	if name != "Emma D." {
		t.Errorf("selected %q, want Emma D.", name)
	}
	browsertest.Screenshot(t, ctx, "terminal-kiosk-selected.png")
	err = chromedp.Do(step,
		chromedp.SendKeys("#amount", "20,00"),
		chromedp.Click("#cash-in"),
		chromedp.WaitVisible("#confirm-cash-in"),
		chromedp.Click("#confirm-cash-in"),
		chromedp.WaitVisible("#receipt #r-ref"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "terminal-kiosk-no-receipt.png")
		t.Fatalf("top-up: %v", err)
	}
	ref, err := chromedp.Run(step, chromedp.Text("#r-ref"))
	must(t, err)
	if !strings.HasPrefix(ref, "K-kiosk-1-20261130-") {
		t.Errorf("receipt reference %q", ref)
	}
	browsertest.Screenshot(t, ctx, "terminal-kiosk-receipt.png")
	f.verify()
}
