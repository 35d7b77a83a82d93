package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/internal/browsertest"
)

// TestBrowserJourney drives headless Chromium on a 375-px phone viewport:
// register from an invitation, log out and in, book a meal, cancel it, start
// a top-up (to the payments stub's checkout page), read the history, and save
// a screenshot of the home page.
func TestBrowserJourney(t *testing.T) {
	f := newFixture(t)
	inv, err := f.app.IssueInvitation(context.Background(), f.tenant, f.anne.ID)
	if err != nil {
		t.Fatal(err)
	}
	bctx := browsertest.New(t, 375, 812)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML("main"))
			t.Fatalf("%s: %v\n%s", name, err, html)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text %s: %v", sel, err)
		}
		return s
	}
	// The browser asks for English: switch to French with the header button
	// (a cookie), then register from the letter's link (the QR code's URL).
	step("language",
		chromedp.Navigate(f.url+"/portal/login"),
		chromedp.Click(`button[name="lang"][value="fr"]`),
		// The new page, not the English one still shown while it loads.
		chromedp.WaitVisible(`html[lang="fr"] #login-submit`),
	)
	if got := text("h1"); got != "Connexion" {
		t.Fatalf("after switching to French, h1 = %q", got)
	}
	step("register",
		chromedp.Navigate(f.url+"/portal/register?code="+inv.Code),
		chromedp.SendKeys("#email", "anne@example.be"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.SendKeys("#password2", "correct horse battery"),
		chromedp.Click("#register-submit"),
		chromedp.WaitVisible(".child"),
	)
	if got := text("main"); !strings.Contains(got, "Emma") || !strings.Contains(got, "Lucas") {
		t.Fatalf("home after register:\n%s", got)
	}
	// Log out, log in.
	step("logout", chromedp.Click(`form[action="/portal/logout"] button`), chromedp.WaitVisible("#login-submit"))
	step("login",
		chromedp.SendKeys("#email", "anne@example.be"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible(".child"),
	)
	emma := f.url + childPath(f.tenant, f.emma)
	// Book Monday 30 November, then cancel it.
	step("book",
		chromedp.Navigate(emma+"/bookings?month=2026-11#day-2026-11-30"), // the day's detail under the grid
		chromedp.Click(`[data-action="book-2026-11-30-repas"]`),
		chromedp.WaitVisible(`[data-action="cancel-2026-11-30-repas"]`),
	)
	if got := text(".flash"); !strings.Contains(got, "Réservation enregistrée") {
		t.Errorf("flash after booking = %q", got)
	}
	if got := text("#day-2026-11-30"); !strings.Contains(got, "3,70") {
		t.Errorf("booked day shows %q", got)
	}
	step("cancel",
		chromedp.Click(`[data-action="cancel-2026-11-30-repas"]`),
		chromedp.WaitVisible(`[data-action="book-2026-11-30-repas"]`),
	)
	if got := text(".flash"); !strings.Contains(got, "annulée") {
		t.Errorf("flash after cancel = %q", got)
	}
	// Start a top-up: the browser lands on the checkout page payments returned.
	step("topup",
		chromedp.Navigate(emma+"/topup"),
		chromedp.SendKeys("#amount", "20,50"),
		chromedp.Click("#topup-submit"),
		chromedp.WaitVisible("#checkout"),
	)
	if len(f.topups.reqs) != 1 || f.topups.reqs[0].Amount.String() != "20.5" || f.topups.reqs[0].PupilID != f.emma.ID ||
		f.topups.reqs[0].WalletAccountID != f.emma.WalletAccountID || f.topups.reqs[0].GuardianID != f.anne.ID {
		t.Errorf("top-up requests = %+v", f.topups.reqs)
	}
	// History.
	step("history", chromedp.Navigate(emma+"/history?month=2026-11"), chromedp.WaitVisible("table"))
	if got := text("table"); !strings.Contains(got, "8,00") {
		t.Errorf("history table:\n%s", got)
	}
	// Home page on the phone, as an artefact.
	step("home", chromedp.Navigate(f.url+"/portal/"), chromedp.WaitVisible(".child"))
	browsertest.Screenshot(t, bctx, "portal-home-375.png")
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err == nil && w > 375 {
		t.Errorf("home page is %d px wide on a 375-px phone (horizontal scrolling)", w)
	}
}
