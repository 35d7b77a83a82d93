package backoffice

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/internal/browsertest"
)

// TestPupilCreateInBrowser: in a real browser an admin asks for the new
// pupil form without a session, logs in, lands on that form (not on the
// stations), and creates a pupil with a peanut allergy and a free note
// that the pupil's page then shows.
func TestPupilCreateInBrowser(t *testing.T) {
	f := newFixture(t)
	ctx := browsertest.New(t, 1024, 768)
	step, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	err := chromedp.Do(step,
		chromedp.Navigate(f.srv.URL+"/admin/pupils/new"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "admin"),
		chromedp.SendKeys("#password", "demo-admin"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#pupil-form"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "backoffice-pupil-new-failed.png")
		t.Fatalf("log in to the new pupil form: %v", err)
	}
	err = chromedp.Do(step,
		chromedp.SendKeys("#pf-first", "Léon"),
		chromedp.SendKeys("#pf-last", "Kiwi"),
		chromedp.SendKeys("#pf-level", "P3"),
		chromedp.Click(`input[name="allergen"][value="peanuts"]`),
		chromedp.SendKeys("#pf-notes", "kiwi, épipen dans le cartable"),
		chromedp.Click("#pupil-save"),
		chromedp.WaitVisible("#pupil-edit"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "backoffice-pupil-save-failed.png")
		t.Fatalf("create the pupil: %v", err)
	}
	body, err := chromedp.Run(step, chromedp.Text("main"))
	if err != nil || !strings.Contains(body, "Léon Kiwi") || !strings.Contains(body, "épipen dans le cartable") {
		t.Errorf("pupil page = %q (%v)", body, err)
	}
	browsertest.Screenshot(t, ctx, "backoffice-pupil-created.png")
}
