package portal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/booking"
	"tartine/internal/browsertest"
)

// TestBrowserMonthForTwoChildren drives headless Chromium on a 375-px
// phone: Anne books every Monday and Thursday of December for Emma and
// Lucas in one action and reads the summary; Lucas's month grid shows the
// bookings and fits the screen; booking a day from the grid comes back to
// that day, not to the top of the page; reporting Lucas sick on a day
// before its cut-off releases its booking (the school's policy) and the
// day shows the absence.
func TestBrowserMonthForTwoChildren(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	bctx := browsertest.New(t, 375, 812)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
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
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return n
	}
	fits := func(page string) {
		t.Helper()
		if w := eval("document.documentElement.scrollWidth"); w > 375 {
			t.Errorf("%s is %d px wide on a 375-px phone (horizontal scrolling)", page, w)
		}
	}
	step("login",
		chromedp.Navigate(f.url+"/portal/login"),
		chromedp.Click(`button[name="lang"][value="fr"]`),
		chromedp.WaitVisible(`html[lang="fr"] #login-submit`),
		chromedp.SendKeys("#email", "anne@example.be"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible(".child"),
	)
	// Every Monday and Thursday of December, both children (checked by
	// default), from the family form reached from Lucas's calendar.
	lucas := f.url + childPath(f.tenant, f.lucas)
	step("family form",
		chromedp.Navigate(lucas+"/bookings?month=2026-12"),
		chromedp.Click("#family-link"),
		chromedp.WaitVisible("#family-submit"),
		chromedp.Click(`#family-form input[name="weekday"][value="1"]`),
		chromedp.Click(`#family-form input[name="weekday"][value="4"]`),
		chromedp.Click("#family-submit"),
		chromedp.WaitVisible("#results"),
	)
	fits("the family summary")
	browsertest.Screenshot(t, bctx, "portal-bookings-family-375.png")
	if got := text(fmt.Sprintf("#result-%d", f.lucas.ID)); !strings.Contains(got, "5 jour(s) réservé(s)") || !strings.Contains(got, "4 refusé(s)") {
		t.Errorf("Lucas's summary: %q", got)
	}
	if got := text(fmt.Sprintf("#result-%d", f.emma.ID)); !strings.Contains(got, "4 jour(s) réservé(s)") || !strings.Contains(got, "solde du compte est insuffisant") {
		t.Errorf("Emma's summary: %q", got)
	}
	// Lucas's month: the grid marks the booked days and fits the phone.
	step("calendar",
		chromedp.Navigate(lucas+"/bookings?month=2026-12"),
		chromedp.WaitVisible("#calendar table.cal"),
	)
	fits("the bookings page")
	if n := eval(`document.querySelectorAll('#calendar .mark.st-booked[data-mark="repas"]').length`); n != 5 {
		t.Errorf("%d booked marks in the grid, want 5", n)
	}
	if shown := eval("document.getElementById('day-2026-12-15').offsetParent === null ? 0 : 1"); shown != 0 {
		t.Errorf("with no day chosen, the page lists every day's detail under the grid")
	}
	if h := eval("document.documentElement.scrollHeight"); h > 2500 {
		t.Errorf("the month page is %d px high on a phone", h)
	}
	browsertest.Screenshot(t, bctx, "portal-bookings-month-375.png")
	// Open Tuesday 15 from the grid and book it: the page comes back to
	// that day (its fragment), scrolled, not at the top.
	step("book from the grid",
		chromedp.Click("#cell-2026-12-15"),
		chromedp.WaitVisible(`[data-action="book-2026-12-15-repas"]`),
		chromedp.Click(`[data-action="book-2026-12-15-repas"]`),
		chromedp.WaitVisible(`[data-action="cancel-2026-12-15-repas"]`),
	)
	if got := text(".flash"); !strings.Contains(got, "Réservation enregistrée") {
		t.Errorf("flash after booking = %q", got)
	}
	if hash, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.hash")); hash != "#day-2026-12-15" {
		t.Errorf("after booking the address is at %q, want #day-2026-12-15", hash)
	}
	// The browser scrolls to the fragment as the page loads: give a slow
	// machine a moment before judging (a failure bound, not a timing goal).
	for deadline := time.Now().Add(5 * time.Second); eval("Math.round(window.scrollY)") < 200 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if y := eval("Math.round(window.scrollY)"); y < 200 {
		t.Errorf("after booking the page is scrolled to %d px: it jumped back to the top", y)
	}
	if top := eval("Math.round(document.getElementById('day-2026-12-15').getBoundingClientRect().top)"); top < 0 || top > 400 {
		t.Errorf("the booked day is at %d px from the top of the screen, want it in view", top)
	}
	if shown := eval("document.getElementById('day-2026-12-14').offsetParent === null ? 0 : 1"); shown != 0 {
		t.Errorf("the other days' details are shown under the chosen day")
	}
	// Report Lucas sick on Thursday 3 December (its cut-off, Wednesday
	// 09:00, is ahead): the booking is released.
	step("sick",
		chromedp.Click("#cell-2026-12-03"),
		chromedp.WaitVisible(`[data-action="sick-2026-12-03"]`),
		chromedp.Click(`[data-action="sick-2026-12-03"]`),
		chromedp.WaitVisible(`#day-2026-12-03 .sick-note`),
	)
	if got := text(".flash"); !strings.Contains(got, "1 réservation(s) libérée(s), le montant est de nouveau disponible") {
		t.Errorf("flash after the sick report = %q", got)
	}
	if hash, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.hash")); hash != "#day-2026-12-03" {
		t.Errorf("after the report the address is at %q", hash)
	}
	if n := eval(`document.querySelectorAll('#cell-2026-12-03 .mark.st-sick').length`); n != 1 {
		t.Errorf("the grid does not mark 3 December as a sick day")
	}
	if n := eval(`document.querySelectorAll('[data-action="book-2026-12-03-repas"]').length`); n != 1 {
		t.Errorf("the released meal of 3 December cannot be booked again")
	}
	if _, err := f.bk.BookingFor(context.Background(), f.tenant, f.lucas.ID, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), "repas"); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Lucas's meal of 3 December still stands: %v", err)
	}
	browsertest.Screenshot(t, bctx, "portal-bookings-sick-375.png")
}
