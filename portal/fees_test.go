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

	"tartine/fees"
	"tartine/school"
)

// TestFacultatifOptInPage: a guardian sees the facultatif fee proposed for
// a child and answers yes in the portal; only that child is charged, the
// answer is kept with the guardian, the channel and the time, and another
// family cannot answer for the child.
func TestFacultatifOptInPage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pool := f.led.Pool()
	st := school.New(pool, f.led, f.clk.Now)
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	svc := fees.New(pool, f.led, st, fees.NewRules(shipped, f.clk.Now), f.clk.Now)
	fee, err := svc.Create(ctx, f.tenant, fees.CreateInput{SchoolID: f.school, Object: "Cahiers de lecture (achat groupé)", Category: "manuels-achat-groupe",
		Kind: fees.Facultatif, Dates: []time.Time{time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}, Amount: decimal.RequireFromString("12.40"),
		PupilIDs: []int64{f.emma.ID, f.lucas.ID, f.zoe.ID}}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	// The fee pages on an engine of their own, as cmd/tartine mounts them
	// beside Routes (the session cookie is the same host's).
	r := gin.New()
	f.app.FeeRoutes(r, svc)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
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
	emmaFees := childPath(f.tenant, f.emma) + "/fees"
	code, body := get(anne, emmaFees)
	if code != http.StatusOK || !strings.Contains(body, "Cahiers de lecture") || !strings.Contains(body, "Pas encore de réponse") {
		t.Fatalf("GET fees: %d\n%s", code, body)
	}
	code, body = post(anne, fmt.Sprintf("%s/%d", emmaFees, fee.ID), url.Values{"answer": {"yes"}})
	if code != http.StatusOK || !strings.Contains(body, "votre accord est enregistré") || !strings.Contains(body, "Vous avez répondu oui") {
		t.Fatalf("answer yes: %d\n%s", code, body)
	}
	lines, err := fees.LinesForPeriod(ctx, pool, f.tenant, []int64{f.emma.ID, f.lucas.ID, f.zoe.ID}, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil || len(lines) != 1 || lines[0].PupilID != f.emma.ID || lines[0].Kind != fees.Facultatif {
		t.Fatalf("charged lines = %+v, %v; want Emma's only", lines, err)
	}
	proof, err := svc.OptIns(ctx, f.tenant, fee.ID, f.emma.ID)
	if err != nil || len(proof) != 1 || proof[0].Channel != fees.ChannelPortal || proof[0].GuardianID != f.anne.ID ||
		proof[0].Actor != fmt.Sprint("guardian:", f.anne.ID) || !proof[0].At.Equal(f.clk.Now()) {
		t.Errorf("proof = %+v, %v", proof, err)
	}
	// Zoé's father may not answer for Emma.
	bruno := f.accountFor(f.bruno, "bruno@example.be", "another horse battery")
	get(bruno, childPath(f.tenant, f.zoe)+"/fees")
	if code, _ = post(bruno, fmt.Sprintf("%s/%d", emmaFees, fee.ID), url.Values{"answer": {"no"}}); code != http.StatusNotFound {
		t.Errorf("another family's answer: %d, want 404", code)
	}
	if code, _ = get(bruno, emmaFees); code != http.StatusNotFound {
		t.Errorf("another family's child's fees: %d, want 404", code)
	}
}
