package backoffice

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"tartine/booking"
	"tartine/internal/browsertest"
)

// TestKitchenListInBrowser: in a real browser the admin opens the kitchen
// list of a day: the meals, the allergy rows (Léa's kiwi note included)
// and the daycare lists show; printed, the page drops the menu and the
// form and fits an A4 PDF.
func TestKitchenListInBrowser(t *testing.T) {
	f := newKitchenFixture(t)
	for _, n := range []string{"Emma", "Léa", "Victor", "Lina"} {
		f.bookFor(n, "repas")
	}
	f.bookFor("Léa", booking.DaycareEvening)
	ctx := browsertest.New(t, 1024, 768)
	step, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	err := chromedp.Do(step,
		chromedp.Navigate(f.srv.URL+"/staff/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "admin"),
		chromedp.SendKeys("#password", "demo-admin-kitchen"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible(`a[href="/staff/stations/daycare-1"]`), // logged in: the staff home
		chromedp.Navigate(f.srv.URL+"/admin/kitchen?day=2026-12-03"),
		chromedp.WaitVisible("#meal-repas"),
	)
	if err != nil {
		browsertest.Screenshot(t, ctx, "backoffice-kitchen-failed.png")
		t.Fatalf("open the kitchen list: %v", err)
	}
	total, err := chromedp.Run(step, chromedp.Text("#meal-repas h3 .total"))
	if err != nil || total != "4" {
		t.Errorf("meals = %q (%v), want 4", total, err)
	}
	notes, err := chromedp.Run(step, chromedp.Text(`#meal-repas tr[data-flag="notes"]`))
	if err != nil || !strings.Contains(notes, "kiwi — épipen dans le cartable") || !strings.Contains(notes, "Léa Kiwi") {
		t.Errorf("allergy note row = %q (%v)", notes, err)
	}
	peanuts, err := chromedp.Run(step, chromedp.Text(`#meal-repas tr[data-flag="peanuts"] td.num`))
	if err != nil || peanuts != "2" {
		t.Errorf("peanut count = %q (%v), want 2", peanuts, err)
	}
	evening, err := chromedp.Run(step, chromedp.Text("#daycare"))
	if err != nil || !strings.Contains(evening, "Léa Kiwi") {
		t.Errorf("daycare list = %q (%v)", evening, err)
	}
	browsertest.Screenshot(t, ctx, "backoffice-kitchen.png")

	// Printed: no menu, no form; one A4 PDF.
	media := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return chromedp.Void{}, err
	}
	if err := chromedp.Do(step, media); err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]string{"header.top": "none", "form.noprint": "none", "#meal-repas": "block"} {
		got, err := chromedp.Run(step, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("`+sel+`")).display`))
		if err != nil || got != want {
			t.Errorf("printed %s display = %q (%v), want %q", sel, got, err, want)
		}
	}
	pdf, err := chromedp.Call(step, cdppage.PrintToPDF, cdppage.PrintToPDFParams{PaperWidth: 8.27, PaperHeight: 11.69, PreferCSSPageSize: ptrTrue()})
	if err != nil {
		t.Fatalf("print to PDF: %v", err)
	}
	if !bytes.HasPrefix(pdf.Data, []byte("%PDF")) {
		t.Fatalf("not a PDF")
	}
	// A4 in points: 595 × 842.
	if !bytes.Contains(pdf.Data, []byte("/MediaBox [0 0 595")) && !bytes.Contains(pdf.Data, []byte("/MediaBox [0 0 594")) {
		t.Errorf("the printed page is not A4")
	}
	dir := os.Getenv("TARTINE_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "backoffice-kitchen.pdf"), pdf.Data, 0o644)
	}
}

func ptrTrue() *bool { b := true; return &b }
