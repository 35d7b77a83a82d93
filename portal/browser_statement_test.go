package portal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/browsertest"
	"tartine/ledger"
	"tartine/payments"
)

// TestBrowserStatementEmailToPaid drives headless Chromium on a phone: the
// statement email's link before any login, the login that lands on the
// statement, payment by card (to the payments stub's checkout page), the
// payment booked as the webhook books it (stripe-clearing → fees
// receivable; payments' tests prove the webhook), and the statement shown
// paid on the way back from Checkout.
func TestBrowserStatementEmailToPaid(t *testing.T) {
	f := newFixture(t)
	_, st := issueStatement(t, f, "80.00")
	f.accountFor(f.anne, "anne@example.be", "Tartine-Anne-2026!")
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
	page := childPath(f.tenant, f.emma) + fmt.Sprintf("/statements/%d", st.ID)
	step("email link, then login",
		chromedp.Navigate(f.url+fmt.Sprintf("/portal/statements/%d", st.ID)),
		chromedp.WaitVisible("#login-submit"),
		chromedp.SendKeys("#email", "anne@example.be"),
		chromedp.SendKeys("#password", "Tartine-Anne-2026!"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible(`form[action$="/pay-card"] button`),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, page) {
		t.Fatalf("after the login from the email link: at %s (%v), want %s", loc, err, page)
	}
	step("pay by card", chromedp.Click(`form[action$="/pay-card"] button`), chromedp.WaitVisible("#checkout"))
	if len(f.topups.stmts) != 1 || !f.topups.stmts[0].Amount.Equal(decimal.RequireFromString("80")) || f.topups.stmts[0].Statement != st.Number {
		t.Fatalf("statement payments = %+v", f.topups.stmts)
	}
	// Stripe confirms: what payments' webhook books for a statement.
	bctx2 := context.Background()
	recv, err := f.led.AccountByCode(bctx2, f.tenant, fees.ReceivableAccountCode(f.emma.ID))
	if err != nil {
		t.Fatal(err)
	}
	clearing, err := f.led.EnsureAccount(bctx2, f.tenant, ledger.AccountSpec{Code: payments.CodeStripeClearing, Name: "Stripe", Type: ledger.Asset})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.led.Transfer(bctx2, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "stripe-topup:test", Kind: payments.KindStatementStripe,
		Actor: "stripe", Memo: st.Number, Postings: []ledger.Posting{{AccountID: clearing.ID, Amount: decimal.RequireFromString("80")},
			{AccountID: recv.ID, Amount: decimal.RequireFromString("-80")}}}); err != nil {
		t.Fatal(err)
	}
	step("back from Checkout", chromedp.Navigate(f.topups.stmts[0].SuccessURL), chromedp.WaitVisible(".flash"))
	main, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(main, "Reste à payer") || strings.Contains(main, "Remaining") {
		t.Errorf("paid statement still asks for money:\n%s", main)
	}
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML("main")); strings.Contains(html, "/pay-card") {
		t.Errorf("paid statement still offers payment by card")
	}
	browsertest.Screenshot(t, bctx, "portal-statement-paid-375.png")
}
