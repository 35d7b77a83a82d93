package backoffice

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/internal/browsertest"
)

// TestBadgeReassignInBrowser (issue 14, a badge moves silently): in a real
// browser an admin types Emma's badge number on Louise's page; the page
// asks to confirm, naming Emma as the badge's holder. Cancelled, the badge
// stays Emma's; confirmed, Louise holds it and Emma's page says it was
// given to Louise.
func TestBadgeReassignInBrowser(t *testing.T) {
	f := newFixture(t)
	tenant := f.demo.TenantID
	emma, louise := f.pupil("Emma"), f.pupil("Louise")
	info, err := f.store.BadgeByUID(f.ctx, tenant, f.demo.Badges["Emma"])
	if err != nil {
		t.Fatal(err)
	}
	badge, err := f.store.Badge(f.ctx, tenant, info.ID)
	if err != nil || badge.PrintedNumber == "" || badge.PupilID != emma.ID {
		t.Fatalf("Emma's badge = %+v, %v", badge, err)
	}
	holder := func() int64 {
		t.Helper()
		b, err := f.store.Badge(f.ctx, tenant, badge.ID)
		if err != nil {
			t.Fatal(err)
		}
		return b.PupilID
	}
	louisePage := fmt.Sprint(f.srv.URL, "/admin/pupils/", louise.ID)
	emmaPage := fmt.Sprint(f.srv.URL, "/admin/pupils/", emma.ID)

	ctx := browsertest.New(t, 1024, 768)
	step, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	fail := func(shot, what string, err error) {
		t.Helper()
		browsertest.Screenshot(t, ctx, shot)
		t.Fatalf("%s: %v", what, err)
	}
	text := func() string {
		t.Helper()
		body, err := chromedp.Run(step, chromedp.Text("main"))
		if err != nil {
			fail("backoffice-badge-text-failed.png", "read the page", err)
		}
		return body
	}
	// Types Emma's number on Louise's page and waits for the question.
	ask := func() {
		t.Helper()
		err := chromedp.Do(step,
			chromedp.WaitVisible("#badge-assign"),
			chromedp.SendKeys("#printed", badge.PrintedNumber),
			chromedp.Click("#badge-assign-button"),
			chromedp.WaitVisible("#badge-confirm-holder"),
		)
		if err != nil {
			fail("backoffice-badge-ask-failed.png", "type Emma's badge number on Louise's page", err)
		}
		// The question and the box to tick name Emma (in the browser's
		// language: only the names are checked).
		emmaName := emma.DisplayName() + " (" + emma.ClassCode + ")"
		for _, sel := range []string{"#form-error", `label:has(#badge-confirm-holder)`} {
			if got, err := chromedp.Run(step, chromedp.Text(sel)); err != nil || !strings.Contains(got, emmaName) {
				t.Errorf("confirmation %s = %q (%v), want it to name %q", sel, got, err, emmaName)
			}
		}
		if got := holder(); got != emma.ID {
			t.Fatalf("before confirmation the badge went to pupil %d, want Emma %d", got, emma.ID)
		}
	}

	err = chromedp.Do(step,
		chromedp.Navigate(louisePage),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "admin"),
		chromedp.SendKeys("#password", "demo-admin"),
		chromedp.Click("#sign-in"),
	)
	if err != nil {
		fail("backoffice-badge-login-failed.png", "log in to Louise's page", err)
	}

	// Cancelled: back on Louise's page, the badge is still Emma's.
	ask()
	browsertest.Screenshot(t, ctx, "backoffice-badge-confirm.png")
	err = chromedp.Do(step,
		chromedp.Click("#badge-assign-cancel"),
		chromedp.WaitNotPresent("#form-error"),
		chromedp.WaitVisible("#badge-assign"),
	)
	if err != nil {
		fail("backoffice-badge-cancel-failed.png", "cancel the reassignment", err)
	}
	if loc, err := chromedp.Run(step, chromedp.Location()); err != nil || loc != louisePage {
		t.Errorf("after cancel: at %q (%v), want Louise's page", loc, err)
	}
	if got := holder(); got != emma.ID {
		t.Fatalf("cancelled: the badge went to pupil %d, want Emma %d", got, emma.ID)
	}
	if n, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll("#badge-confirm-holder").length`)); err != nil || n != 0 {
		t.Errorf("after cancel the confirmation is still asked (%d, %v)", n, err)
	}

	// Confirmed: Louise holds the badge.
	ask()
	err = chromedp.Do(step,
		chromedp.Click("#badge-confirm-holder"),
		chromedp.Click("#badge-assign-button"),
		chromedp.WaitVisible(".flash"),
	)
	if err != nil {
		fail("backoffice-badge-reassign-failed.png", "confirm the reassignment", err)
	}
	if got := holder(); got != louise.ID {
		t.Fatalf("confirmed: the badge is with pupil %d, want Louise %d", got, louise.ID)
	}
	if got, err := chromedp.Run(step, chromedp.Text(".flash")); err != nil || !strings.Contains(got, badge.UID) || !strings.Contains(got, louise.DisplayName()) {
		t.Errorf("Louise's page after the reassignment says %q (%v)", got, err)
	}

	// Emma's page says where her badge went.
	err = chromedp.Do(step,
		chromedp.Navigate(emmaPage),
		chromedp.WaitVisible("#badges"),
	)
	if err != nil {
		fail("backoffice-badge-old-holder-failed.png", "open Emma's page", err)
	}
	// Only the badge can name Louise on Emma's page.
	moved := louise.DisplayName() + " (" + louise.ClassCode + ")"
	if body := text(); !strings.Contains(body, badge.UID) || !strings.Contains(body, moved) {
		t.Errorf("Emma's page does not say the badge moved to Louise (%q): %q", moved, body)
	}
	browsertest.Screenshot(t, ctx, "backoffice-badge-old-holder.png")
}
