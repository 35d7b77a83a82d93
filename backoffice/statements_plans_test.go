package backoffice

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/internal/testclock"
	"tartine/statements"
)

// A guardian's instalment plan (asked in the portal) shows on the
// statement's page; the school admin accepts it (its parts are listed) and
// cannot decide it twice.
func TestStatementInstalmentPlanDecision(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	june := func() time.Time { return time.Date(2026, time.June, 10, 10, 0, 0, 0, time.UTC) }
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	early := statements.New(f.store, cat, june)
	ps, err := early.SetPeriods(ctx, f.demo.TenantID, "2026-27", []statements.PeriodInput{{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := early.OverrideEstimate(ctx, f.demo.TenantID, "2026-27", "estimation remise sur papier", "test"); err != nil {
		t.Fatal(err)
	}
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	noah := f.pupil("Noah")
	fs := fees.New(f.pool, f.led, f.store, fees.NewRules(shipped, june), june)
	if _, err := fs.Create(ctx, f.demo.TenantID, fees.CreateInput{SchoolID: f.demo.SchoolID, Object: "Classe de dépaysement", Category: "sejours",
		Kind: fees.Obligatoire, Dates: []time.Time{time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)}, Amount: decimal.RequireFromString("85.00"), PupilIDs: []int64{noah.ID}}, "test"); err != nil {
		t.Fatal(err)
	}
	svc := statements.New(f.store, cat, testclock.Now)
	run, err := svc.Issue(ctx, f.demo.TenantID, ps[0].ID, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := svc.OfRun(ctx, f.demo.TenantID, run.ID)
	if err != nil || len(sts) != 1 {
		t.Fatalf("run: %v %v", sts, err)
	}
	st := sts[0]
	plan, err := svc.RequestPlan(ctx, f.demo.TenantID, st.ID, st.Content.Addressees[0].GuardianID, 2, "deux fois, merci")
	if err != nil {
		t.Fatal(err)
	}
	c := f.login("admin", "demo-admin")
	page := "/admin/statements/" + itoa(st.ID)
	if _, body := c.get("/admin/statements"); !strings.Contains(body, `href="`+page+`"`) || !strings.Contains(body, "Paiements échelonnés demandés") {
		t.Errorf("statements home does not list the plan asked\n%.1500s", body)
	}
	code, body := c.get(page)
	if code != http.StatusOK || !strings.Contains(body, "deux fois, merci") || !regexp.MustCompile(`action="/admin/statements/\d+/plans/\d+"`).MatchString(body) {
		t.Fatalf("statement page: %d, want the plan asked and its decision form\n%.800s", code, body)
	}
	if _, body := c.follow(page+"/plans/"+itoa(plan.ID), url.Values{"decision": {"accept"}}); !strings.Contains(body, "42,50") || strings.Contains(body, `/plans/`+itoa(plan.ID)+`"`) {
		t.Errorf("after accepting: want the parts and no form\n%.800s", body)
	}
	if _, body := c.get("/admin/statements"); strings.Contains(body, "Paiements échelonnés demandés") {
		t.Errorf("statements home still lists the decided plan")
	}
	got, err := svc.Plan(ctx, f.demo.TenantID, plan.ID)
	if err != nil || got.Status != statements.PlanAccepted || len(got.Schedule) != 2 || !strings.HasPrefix(got.DecidedBy, "staff") {
		t.Errorf("plan after accepting: %+v %v", got, err)
	}
	c.follow(page+"/plans/"+itoa(plan.ID), url.Values{"decision": {"refuse"}})
	if got, _ := svc.Plan(ctx, f.demo.TenantID, plan.ID); got.Status != statements.PlanAccepted {
		t.Errorf("deciding twice changed the plan to %s", got.Status)
	}
	if code, _ := f.login("canteen", "demo-canteen").get(page); code != http.StatusForbidden {
		t.Errorf("canteen staff on the statement page: %d, want 403", code)
	}
}
