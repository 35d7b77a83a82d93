package portal_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"tartine/internal/browsertest"
	"tartine/portal"
	"tartine/sepa"
)

// epcFor is the QR code the portal must serve for a transfer of amount to
// Emma's wallet.
func (f *fixture) epcFor(t *testing.T, amount string) []byte {
	t.Helper()
	payload, err := sepa.EPCPayload{Name: "PO du Parc", IBAN: "BE68539007547034", Amount: decimal.RequireFromString(amount),
		Reference: f.emma.WalletOGM, Note: "Tartine Emma"}.Payload()
	if err != nil {
		t.Fatal(err)
	}
	png, err := sepa.EPCQRPNG(payload, 320)
	if err != nil {
		t.Fatal(err)
	}
	return png
}

// getBytes reads a path with the client's cookies.
func (c *client) getBytes(path string) (int, []byte) {
	c.t.Helper()
	resp, err := c.http.Get(c.f.url + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestTransferQRAmount: the bank transfer's QR code holds the amount the
// parent typed (validated, 20 € by default), and the IBAN and the
// communication are selectable text whose copy buttons wait for JavaScript.
func TestTransferQRAmount(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	emma := childPath(f.tenant, f.emma)
	_, body := anne.get(emma + "/topup")
	for _, want := range []string{`id="qr_amount" name="qr_amount" value="20,00"`, `epc.png?amount=20.00"`,
		`<code class="ogm" data-testid="iban" id="iban">BE68 5390 0754 7034</code>`, `data-copy="iban" data-done="Copié." hidden>`, `data-copy="ogm" data-done="Copié." hidden>`} {
		if !strings.Contains(body, want) {
			t.Errorf("top-up page lacks %s", want)
		}
	}
	code, body := anne.get(emma + "/topup?qr_amount=12,5")
	if code != http.StatusOK || !strings.Contains(body, `epc.png?amount=12.50"`) || !strings.Contains(body, "montant 12,50\u00a0€") {
		t.Errorf("12,5: %d, page without the QR code of 12,50 €", code)
	}
	for _, bad := range []string{"abc", "0", "12,345", "-5", "100000"} {
		code, body := anne.get(emma + "/topup?qr_amount=" + bad)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="qr-error"`) || strings.Contains(body, "epc.png") ||
			!strings.Contains(body, `value="`+bad+`"`) {
			t.Errorf("%q: %d, want 422 with the message, the typed value and no QR code", bad, code)
		}
	}
	if code, png := anne.getBytes(emma + "/epc.png?amount=12.50"); code != http.StatusOK || !bytes.Equal(png, f.epcFor(t, "12.50")) {
		t.Errorf("epc.png?amount=12.50: %d, not the EPC QR code of 12,50 €", code)
	}
	for _, bad := range []string{"0", "abc", "100000"} {
		if code, _ := anne.getBytes(emma + "/epc.png?amount=" + bad); code != http.StatusBadRequest {
			t.Errorf("epc.png?amount=%s: %d, want 400", bad, code)
		}
	}
	// A wallet below zero after its booked meals: the default covers it.
	if got := portal.QRDefault(decimal.RequireFromString("-7.40"), decimal.NewFromInt(5), decimal.NewFromInt(500)); !got.Equal(decimal.NewFromInt(28)) {
		t.Errorf("QRDefault(-7,40) = %s, want 28", got)
	}
}

// TestBrowserTransferQR: in Chromium on a phone, the parent types an amount,
// the QR code follows it, and the copy buttons copy the IBAN and the
// communication.
func TestBrowserTransferQR(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
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
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	step("login",
		chromedp.Navigate(f.url+"/portal/login"),
		chromedp.SendKeys("#email", "anne@example.be"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible(".child"),
	)
	emma := f.url + childPath(f.tenant, f.emma)
	step("top-up page", chromedp.Navigate(emma+"/topup"), chromedp.WaitVisible("img.qr"))
	if got := eval(`document.querySelector("img.qr").getAttribute("src")`); !strings.HasSuffix(got, "epc.png?amount=20.00") {
		t.Errorf("default QR code %q", got)
	}
	clear := func() { eval(`document.querySelector("#qr_amount").value = ""`) }
	clear()
	step("amount",
		chromedp.SendKeys("#qr_amount", "35,50"),
		chromedp.Click("#qr-submit"),
		chromedp.WaitVisible(`img.qr[src$="amount=35.50"]`),
	)
	// The image is the EPC code of 35,50 €, loaded.
	// The image is loaded (or fails) after the page: wait for it.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(r => { const i = document.querySelector("img.qr");
		if (i.complete) { r(i.naturalWidth ? String(i.naturalWidth) : "error"); return; }
		i.addEventListener("load", () => r(String(i.naturalWidth))); i.addEventListener("error", () => r("error")); })`, chromedp.EvalAwaitPromise))
	if err != nil || got != "320" {
		t.Errorf("QR image natural width %s, want 320 (loaded)", got)
	}
	clear()
	step("bad amount",
		chromedp.SendKeys("#qr_amount", "3,999"),
		chromedp.Click("#qr-submit"),
		chromedp.WaitVisible("#qr-error"),
	)
	if got := eval(`document.querySelector("#qr_amount").value`); got != "3,999" {
		t.Errorf("typed amount not kept: %q", got)
	}
	for _, which := range []string{"iban", "ogm"} {
		want := eval(`document.getElementById("` + which + `").textContent.trim()`)
		step("copy "+which,
			chromedp.WaitVisible(`button[data-copy="`+which+`"]`),
			chromedp.Click(`button[data-copy="`+which+`"]`),
			chromedp.WaitVisible(`button[data-copy="`+which+`"][data-copied]`),
		)
		if got := eval(`document.querySelector('button[data-copy="` + which + `"]').getAttribute("data-copied")`); got != want {
			t.Errorf("copied %q, want %q", got, want)
		}
		// Reading the clipboard may be refused to a headless page: check it
		// when allowed.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText().catch(() => "")`, chromedp.EvalAwaitPromise))
		if err != nil || (got != "" && got != want) {
			t.Errorf("clipboard %q (%v), want %q", got, err, want)
		}
		t.Logf("clipboard after copying the %s: %q", which, got)
	}
	if got := eval(`document.querySelector(".copied").textContent`); got != "Copié." {
		t.Errorf("status after copying %q", got)
	}
}
