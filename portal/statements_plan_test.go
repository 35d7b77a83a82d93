package portal_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/school"
	"tartine/statements"
)

// issueStatement issues, for the first period of 2026-27, a statement of
// Emma with one fee of amount; it returns the service and the statement.
func issueStatement(t *testing.T, f *fixture, amount string) (*statements.Service, statements.Statement) {
	t.Helper()
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
	if err := early.OverrideEstimate(ctx, f.tenant, "2026-27", "estimation remise sur papier", "test"); err != nil {
		t.Fatal(err)
	}
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	fs := fees.New(f.led.Pool(), f.led, st, fees.NewRules(shipped, june), june)
	if _, err := fs.Create(ctx, f.tenant, fees.CreateInput{SchoolID: f.school, Object: "Piscine — cycle", Category: "piscine", Kind: fees.Obligatoire,
		Dates: []time.Time{time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)}, Amount: decimal.RequireFromString(amount), PupilIDs: []int64{f.emma.ID}}, "test"); err != nil {
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
	return svc, sts[0]
}

// Payment facilities over 50 €: the statement page offers to ask for an
// instalment plan; the request is recorded once and its state shown.
func TestInstalmentPlanInPortal(t *testing.T) {
	f := newFixture(t)
	svc, st := issueStatement(t, f, "80.00")
	anne := f.accountFor(f.anne, "anne@example.be", "Tartine-Anne-2026!")
	page := childPath(f.tenant, f.emma) + fmt.Sprintf("/statements/%d", st.ID)
	if _, body := anne.get(page); !strings.Contains(body, "/plan\"") || !strings.Contains(body, "Demander un paiement échelonné") {
		t.Fatalf("statement of 80 € offers no instalment plan\n%.1500s", body)
	}
	if _, body := anne.post(page+"/plan", url.Values{"parts": {"4"}, "note": {"merci"}}); !strings.Contains(body, "transmise à l&#39;école") ||
		!strings.Contains(body, "payer en 4 fois") || strings.Contains(body, "Demander un paiement échelonné") {
		t.Errorf("after asking: want the thanks and the plan's state, no second form\n%.1500s", body)
	}
	plans, err := svc.Plans(context.Background(), f.tenant, st.ID)
	if err != nil || len(plans) != 1 || plans[0].Parts != 4 || plans[0].GuardianID != f.anne.ID || plans[0].Note != "merci" {
		t.Fatalf("plans = %+v %v", plans, err)
	}
	if _, err := svc.DecidePlan(context.Background(), f.tenant, plans[0].ID, true, "http://portal.test/portal", "staff:1"); err != nil {
		t.Fatal(err)
	}
	if _, body := anne.get(page); !strings.Contains(body, "accepté le paiement en 4 fois") || !strings.Contains(body, "20,00") {
		t.Errorf("accepted plan not shown\n%s", body[strings.Index(body, "</article>"):])
	}
}

// 50 € or less: no instalment plan is offered nor accepted.
func TestInstalmentPlanNotUnderFifty(t *testing.T) {
	f := newFixture(t)
	svc, st := issueStatement(t, f, "50.00")
	anne := f.accountFor(f.anne, "anne@example.be", "Tartine-Anne-2026!")
	page := childPath(f.tenant, f.emma) + fmt.Sprintf("/statements/%d", st.ID)
	if _, body := anne.get(page); strings.Contains(body, "Demander un paiement échelonné") {
		t.Errorf("statement of 50 € offers an instalment plan")
	}
	if _, body := anne.post(page+"/plan", url.Values{"parts": {"2"}}); !strings.Contains(body, "ne permet pas") {
		t.Errorf("asking for 50 €: want a refusal\n%.800s", body)
	}
	if plans, _ := svc.Plans(context.Background(), f.tenant, st.ID); len(plans) != 0 {
		t.Errorf("plans = %+v", plans)
	}
}
