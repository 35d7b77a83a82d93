package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/ledger"
	"tartine/school"
	"tartine/statements"
)

// TestStatementsInPortal: the statement email's link leads a guardian,
// after the login, to the child's statement (phone page with the EPC QR
// code, and the A4 PDF); the year's estimate is listed; a guardian the
// statement is not addressed to gets 404 on the page, the PDF and the link
// (statements go to the pupil's guardians only).
func TestStatementsInPortal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st := school.New(f.led.Pool(), f.led, f.clk.Now)
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	june := func() time.Time { return time.Date(2026, time.June, 10, 10, 0, 0, 0, time.UTC) }
	early := statements.New(st, cat, june)
	ps, err := early.SetPeriods(ctx, f.tenant, "2026-27", []statements.PeriodInput{{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e, err := early.SaveEstimate(ctx, f.tenant, statements.EstimateInput{SchoolYear: "2026-27", SchoolID: f.school, Scope: "P3",
		Headings: []statements.EstimateHeading{{Heading: "Piscine", Kind: "obligatoire", Amount: decimal.RequireFromString("37.50")}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := early.SendEstimate(ctx, f.tenant, e.ID, f.url+"/portal", "test"); err != nil || n != 2 {
		t.Fatalf("send estimate: %d %v", n, err)
	}
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	fs := fees.New(f.led.Pool(), f.led, st, fees.NewRules(shipped, june), june)
	if _, err := fs.Create(ctx, f.tenant, fees.CreateInput{SchoolID: f.school, Object: "Piscine — octobre", Category: "piscine", Kind: fees.Obligatoire,
		Dates: []time.Time{time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)}, Amount: decimal.RequireFromString("12.50"), PupilIDs: []int64{f.emma.ID}}, "test"); err != nil {
		t.Fatal(err)
	}
	svc := statements.New(st, cat, f.clk.Now)
	run, err := svc.Issue(ctx, f.tenant, ps[0].ID, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := svc.OfRun(ctx, f.tenant, run.ID)
	if err != nil || len(sts) != 1 {
		t.Fatalf("run: %v %v", sts, err)
	}
	id := sts[0].ID
	link := fmt.Sprintf("/portal/statements/%d", id)

	anne := f.accountFor(f.anne, "anne@example.be", "Tartine-Anne-2026!")
	code, body := anne.get(link)
	if code != http.StatusOK || !strings.Contains(body, "Décompte de frais scolaires") || !strings.Contains(body, "Piscine — octobre") ||
		!strings.Contains(body, "data:image/png;base64,") || !strings.Contains(body, "aucune conséquence") {
		t.Fatalf("statement from the email link: %d\n%.1200s", code, body)
	}
	if got := anne.last.Request.URL.Path; got != fmt.Sprintf("%s/statements/%d", childPath(f.tenant, f.emma), id) {
		t.Errorf("the link led to %s", got)
	}
	req, _ := http.NewRequest(http.MethodGet, f.url+childPath(f.tenant, f.emma)+fmt.Sprintf("/statements/%d/pdf", id), nil)
	if code, pdf := anne.do(req); code != http.StatusOK || !strings.HasPrefix(pdf, "%PDF-") || anne.last.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("statement PDF: %d %s", code, anne.last.Header.Get("Content-Type"))
	}
	code, body = anne.get(childPath(f.tenant, f.emma) + "/statements")
	if code != http.StatusOK || !strings.Contains(body, sts[0].Number) || !strings.Contains(body, "37,50") {
		t.Errorf("statements list: %d, want the statement and the estimate\n%.1200s", code, body)
	}
	if m := regexp.MustCompile(`href="([^"]+/estimates/\d+)"`).FindStringSubmatch(body); m == nil {
		t.Errorf("no estimate link")
	} else if code, body := anne.get(m[1]); code != http.StatusOK || !strings.Contains(body, "Estimation des frais scolaires 2026-27") {
		t.Errorf("estimate page: %d", code)
	}

	// Paying from the prepaid account, on explicit choice only.
	page := childPath(f.tenant, f.emma) + fmt.Sprintf("/statements/%d", id)
	// Paying by card or Bancontact: Stripe Checkout for what is owed, back
	// to the statement page.
	if _, body := anne.get(page); !strings.Contains(body, "pay-card") {
		t.Errorf("statement page offers no payment by card")
	}
	if _, body := anne.post(page+"/pay-card", url.Values{}); !strings.Contains(body, "Stripe Checkout (stub)") {
		t.Errorf("pay by card: want Checkout\n%.600s", body)
	}
	if got := f.topups.stmts; len(got) != 1 || !got[0].Amount.Equal(decimal.RequireFromString("12.50")) || got[0].PupilID != f.emma.ID ||
		got[0].GuardianID != f.anne.ID || got[0].Statement == "" || !strings.HasSuffix(got[0].SuccessURL, page+"?paid=card") {
		t.Errorf("statement payments started = %+v", got)
	}
	if _, body := anne.get(page + "?paid=card"); !strings.Contains(body, "en cours de confirmation") {
		t.Errorf("back from Checkout: want the thanks\n%.600s", body)
	}
	if _, body := anne.get(page); !strings.Contains(body, "pay-wallet") {
		t.Errorf("statement page offers no payment from the prepaid account")
	}
	if _, body := anne.post(page+"/pay-wallet", url.Values{}); !strings.Contains(body, "Cochez la case") {
		t.Errorf("payment without the confirmation box: want a refusal\n%.600s", body)
	}
	if _, body := anne.post(page+"/pay-wallet", url.Values{"confirm": {"yes"}}); !strings.Contains(body, "ne suffit pas") {
		t.Errorf("payment from a wallet holding 8,00 € for 12,50 €: want a refusal\n%.600s", body)
	}
	bank, err := f.led.AccountByCode(ctx, f.tenant, "bank")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "fund-more", Kind: "bank-transfer", Actor: "test",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.RequireFromString("10")}, {AccountID: f.emma.WalletAccountID, Amount: decimal.RequireFromString("-10")}}}); err != nil {
		t.Fatal(err)
	}
	if _, body := anne.post(page+"/pay-wallet", url.Values{"confirm": {"yes"}}); !strings.Contains(body, "12,50") || !strings.Contains(body, "payés avec le compte prépayé") {
		t.Errorf("payment from the prepaid account: want the thanks\n%.600s", body)
	}
	if b, _ := f.led.Balance(ctx, f.tenant, f.emma.WalletAccountID); !b.Posted.Equal(decimal.RequireFromString("5.5")) {
		t.Errorf("wallet after paying 12,50 €: %s, want 5.50", b.Posted)
	}

	// The email's link before the login: the login page keeps it and the
	// parent lands on the statement; a foreign or odd next= is dropped.
	later := f.client()
	code, body = later.get(link)
	m := regexp.MustCompile(`name="next" value="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusOK || m == nil || m[1] != link {
		t.Fatalf("email link before the login: %d, next %v\n%.600s", code, m, body)
	}
	later.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"Tartine-Anne-2026!"}, "next": {m[1]}})
	if got := later.last.Request.URL.Path; got != fmt.Sprintf("%s/statements/%d", childPath(f.tenant, f.emma), id) {
		t.Errorf("after the login from the email link, landed on %s", got)
	}
	for _, bad := range []string{"https://evil.example/portal/x", "//evil.example/portal/", "/admin/", "/portal/../admin/"} {
		odd := f.client()
		if _, body := odd.get("/portal/login?next=" + url.QueryEscape(bad)); strings.Contains(body, `name="next"`) {
			t.Errorf("login page keeps next=%s", bad)
		}
		odd.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"Tartine-Anne-2026!"}, "next": {bad}})
		if got := odd.last.Request.URL; got.Host != strings.TrimPrefix(f.url, "http://") || got.Path != "/portal/" {
			t.Errorf("login with next=%s landed on %s", bad, got)
		}
	}

	bruno := f.accountFor(f.bruno, "bruno@example.be", "Tartine-Bruno-2026!")
	for _, path := range []string{link, childPath(f.tenant, f.emma) + fmt.Sprintf("/statements/%d", id), childPath(f.tenant, f.zoe) + fmt.Sprintf("/statements/%d", id),
		childPath(f.tenant, f.zoe) + fmt.Sprintf("/statements/%d/pdf", id)} {
		if code, _ := bruno.get(path); code != http.StatusNotFound {
			t.Errorf("%s as another family: %d, want 404", path, code)
		}
	}
	before := len(f.topups.stmts)
	for _, path := range []string{childPath(f.tenant, f.zoe) + fmt.Sprintf("/statements/%d/pay-card", id), childPath(f.tenant, f.zoe) + fmt.Sprintf("/statements/%d/plan", id)} {
		if code, _ := bruno.post(path, url.Values{"parts": {"3"}}); code != http.StatusNotFound {
			t.Errorf("POST %s as another family: %d, want 404", path, code)
		}
	}
	if len(f.topups.stmts) != before {
		t.Errorf("another family started a card payment of the statement")
	}
}
