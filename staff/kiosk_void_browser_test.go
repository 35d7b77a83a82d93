package staff

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/internal/browsertest"
	"tartine/school"
)

// TestKioskVoidInBrowser: in a real browser the cashier takes 20 € for
// Emma (through the confirmation step), then voids the receipt with a
// reason: the receipt is marked void and the wallet is back where it was.
func TestKioskVoidInBrowser(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 16, 40, 0, 0, brussels))
	_, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: "caisse", Name: "Paul (caisse)", Password: "tartine-caisse",
		Roles: []school.Role{school.RoleKiosk}}, "test")
	must(t, err)
	before := f.balance(uidEmma)
	srv := f.webServer(t)
	ctx := browsertest.New(t, 1024, 768)
	step, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	err = chromedp.Do(step,
		chromedp.Navigate(srv.URL+"/staff/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "caisse"),
		chromedp.SendKeys("#password", "tartine-caisse"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible(`a[href="/staff/stations/kiosk-1"]`),
		chromedp.Navigate(srv.URL+"/staff/kiosk/kiosk-1?pupil="+itoa(f.emma.ID)),
		chromedp.WaitVisible("#topup-form #amount"),
		chromedp.SendKeys("#amount", "20,00"),
		chromedp.Click("#cash-in"),
		chromedp.WaitVisible("#confirm-cash-in"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "terminal-void-no-confirm.png")
		t.Fatalf("top-up up to the confirmation: %v", err)
	}
	who, err := chromedp.Run(step, chromedp.Text("#confirm-pupil"))
	must(t, err)
	if who != "Emma Dubois" {
		t.Errorf("confirmation names %q, want Emma Dubois", who)
	}
	if !f.balance(uidEmma).Equal(before) {
		t.Fatalf("the wallet moved before the confirmation")
	}
	browsertest.Screenshot(t, ctx, "terminal-void-confirm.png")
	err = chromedp.Do(step,
		chromedp.Click("#confirm-cash-in"),
		chromedp.WaitVisible("#receipt #r-ref"),
		chromedp.Click("#void summary"),
		chromedp.WaitVisible("#reason"),
		chromedp.SendKeys("#reason", "wrong pupil"),
		chromedp.Click("#void-button"),
		chromedp.WaitVisible("#r-voided"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "terminal-void-failed.png")
		t.Fatalf("void: %v", err)
	}
	stamp, err := chromedp.Run(step, chromedp.Text("#r-voided"))
	must(t, err)
	// Headless Chromium asks for English.
	if !strings.Contains(stamp, "VOIDED") || !strings.Contains(stamp, "wrong pupil") || !strings.Contains(stamp, "Paul (caisse)") {
		t.Errorf("void stamp = %q", stamp)
	}
	if got := f.balance(uidEmma); !got.Equal(before) {
		t.Errorf("wallet after the void = %s, want %s", got, before)
	}
	browsertest.Screenshot(t, ctx, "terminal-void-done.png")
	f.verify()
}
