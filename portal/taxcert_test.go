package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
	"tartine/taxcert"
)

// TestTaxCertificatePage: Anne downloads the 281.86 certificate of Léo's
// daycare she paid and gives the national numbers; Bruno, of another
// family, reaches neither her page nor her certificate.
func TestTaxCertificatePage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pool := f.led.Pool()
	st := school.New(pool, f.led, f.clk.Now)
	leo, err := st.CreatePupil(ctx, f.tenant, school.PupilInput{SchoolID: f.school, FirstName: "Léo", LastName: "Dupont", Level: "P1",
		BirthDate: time.Date(2019, 4, 2, 0, 0, 0, 0, time.UTC)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.LinkGuardian(ctx, f.tenant, f.anne.ID, leo.ID, "mère", "test"); err != nil {
		t.Fatal(err)
	}
	bank, _ := f.led.AccountByCode(ctx, f.tenant, "bank")
	daycare, err := f.led.EnsureAccount(ctx, f.tenant, ledger.AccountSpec{Code: "revenue:daycare", Name: "Garderie", Type: ledger.Income})
	if err != nil {
		t.Fatal(err)
	}
	move := func(key string, when time.Time, to, from int64, amount, kind string) {
		a := decimal.RequireFromString(amount)
		if _, err := f.led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: kind, OccurredAt: when, Actor: "test",
			Postings: []ledger.Posting{{AccountID: to, Amount: a}, {AccountID: from, Amount: a.Neg()}}}); err != nil {
			t.Fatal(err)
		}
	}
	move("fund-leo", time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC), bank.ID, leo.WalletAccountID, "20.00", "bank-transfer")
	move("care-1", time.Date(2025, 9, 8, 16, 0, 0, 0, time.UTC), leo.WalletAccountID, daycare.ID, "2.50", "daycare")
	move("care-2", time.Date(2025, 10, 6, 16, 0, 0, 0, time.UTC), leo.WalletAccountID, daycare.ID, "2.50", "daycare")
	key := make([]byte, 32)
	key[0] = 7
	sealer, err := taxcert.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	svc := taxcert.New(pool, f.led, st, sealer, taxcert.Settings{}, f.clk.Now)
	if err := svc.SetNISS(ctx, f.tenant, taxcert.SubjectGuardian, f.anne.ID, "85073003328", "staff:1"); err != nil {
		t.Fatal(err)
	}
	run, err := svc.Issue(ctx, f.tenant, 2025, "staff:1")
	if err != nil || len(run.Issued) != 1 {
		t.Fatalf("issue: %+v %v", run, err)
	}
	cert := run.Issued[0]

	r := gin.New()
	f.app.TaxCertRoutes(r, svc)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	get := func(c *client, path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		return c.do(req)
	}
	post := func(c *client, path string, vals url.Values) (int, string) {
		vals.Set("csrf_token", c.csrf)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return c.do(req)
	}
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	page := childPath(f.tenant, leo) + "/taxcert"
	code, body := get(anne, page)
	if code != http.StatusOK || !strings.Contains(body, "Revenus 2025") || !strings.Contains(body, "5,00") || !strings.Contains(body, "••.••.••-•••.28") {
		t.Fatalf("GET %s: %d\n%s", page, code, body)
	}
	if strings.Contains(body, "85073003328") || strings.Contains(body, "85.07.30") {
		t.Error("the page shows the national number in full")
	}
	pdf := fmt.Sprintf("%s/%d/pdf", page, cert.ID)
	if code, body := get(anne, pdf); code != http.StatusOK || !strings.HasPrefix(body, "%PDF") {
		t.Errorf("GET pdf: %d", code)
	}
	code, body = post(anne, page+"/niss", url.Values{"child_niss": {"19040200012"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "pas valide") {
		t.Errorf("invalid child NISS: %d", code)
	}
	code, body = post(anne, page+"/niss", url.Values{"child_niss": {"19.04.02-001.07"}})
	if code != http.StatusOK || !strings.Contains(body, "••.••.••-•••.07") {
		t.Errorf("valid child NISS: %d\n%s", code, body)
	}

	bruno := f.accountFor(f.bruno, "bruno@example.be", "another horse battery")
	if code, _ := get(bruno, page); code != http.StatusNotFound {
		t.Errorf("Bruno on Léo's page: %d, want 404", code)
	}
	if code, _ := get(bruno, fmt.Sprintf("%s/taxcert/%d/pdf", childPath(f.tenant, f.zoe), cert.ID)); code != http.StatusNotFound {
		t.Errorf("Bruno opens Anne's certificate through Zoé: %d, want 404", code)
	}
}
