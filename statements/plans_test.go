package statements

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Payment facilities over 50 € (FEES.md): a guardian asks to pay a
// statement in parts, the school accepts, and each later statement lists
// the parts due in its period. 50 € or less: no plan. Another family's
// statement: not found.
func TestInstalmentPlan(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	small := f.pupil("Léon", "Dupont", [2]string{"Marc", "marc@example.be"})
	f.fee("Piscine — cycle", "piscine", "90.00", day(2026, 9, 15), p.ID)
	f.fee("Piscine", "piscine", "30.00", day(2026, 9, 15), small.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	byPupil := map[int64]Statement{}
	for _, st := range sts {
		byPupil[st.PupilID] = st
	}
	anne := byPupil[p.ID].Content.Addressees[0].GuardianID
	marc := byPupil[small.ID].Content.Addressees[0].GuardianID

	if _, err := f.svc.RequestPlan(f.ctx, f.tenant.ID, byPupil[small.ID].ID, marc, 3, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("plan for 30 € (not over 50 €): got %v, want ErrInvalid", err)
	}
	if _, err := f.svc.RequestPlan(f.ctx, f.tenant.ID, byPupil[p.ID].ID, marc, 3, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("plan for another family's statement: got %v, want ErrNotFound", err)
	}
	if _, err := f.svc.RequestPlan(f.ctx, f.tenant.ID, byPupil[p.ID].ID, anne, 1, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("plan of one part: got %v, want ErrInvalid", err)
	}
	plan, err := f.svc.RequestPlan(f.ctx, f.tenant.ID, byPupil[p.ID].ID, anne, 3, "fin de mois difficile")
	if err != nil || plan.Status != PlanRequested || !plan.Total.Equal(decimal.RequireFromString("90")) {
		t.Fatalf("request plan: %+v %v", plan, err)
	}
	if _, err := f.svc.RequestPlan(f.ctx, f.tenant.ID, byPupil[p.ID].ID, anne, 2, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("second request: got %v, want ErrInvalid", err)
	}
	if list, err := f.svc.Plans(f.ctx, f.tenant.ID, 0); err != nil || len(list) != 1 || list[0].ID != plan.ID {
		t.Errorf("plans: %+v %v", list, err)
	}
	plan, err = f.svc.DecidePlan(f.ctx, f.tenant.ID, plan.ID, true, "https://ecole.example/portal", "staff:1")
	if err != nil || plan.Status != PlanAccepted || len(plan.Schedule) != 3 {
		t.Fatalf("accept plan: %+v %v", plan, err)
	}
	if _, err := f.svc.DecidePlan(f.ctx, f.tenant.ID, plan.ID, false, "https://ecole.example/portal", "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("deciding twice: got %v, want ErrInvalid", err)
	}
	// Due 30 days after 3 November: 3 December, 3 January, 3 February.
	want := []string{"2026-12-03", "2027-01-03", "2027-02-03"}
	for i, in := range plan.Schedule {
		if in.DueOn.Format("2006-01-02") != want[i] || !in.Amount.Equal(decimal.RequireFromString("30")) {
			t.Errorf("part %d: %s %s, want %s 30", i+1, in.DueOn.Format("2006-01-02"), in.Amount, want[i])
		}
	}

	f.clock.set(at(2027, time.January, 4, 9))
	run2, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[1].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts2, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run2.ID)
	var next *Statement
	for i := range sts2 {
		if sts2[i].PupilID == p.ID {
			next = &sts2[i]
		}
	}
	if next == nil {
		t.Fatal("no statement for the second period")
	}
	if in := next.Content.Instalments; len(in) != 1 || in[0].Seq != 1 || in[0].Of != 3 || in[0].Number != byPupil[p.ID].Number {
		t.Errorf("second period's instalments = %+v, want part 1 of 3", in)
	}
	html, err := f.svc.HTML(next.Content, "fr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "1/3") || !strings.Contains(string(html), "30,00") {
		t.Errorf("statement HTML does not show the part due\n%s", html)
	}
	pdf, err := f.svc.PDF(next.Content, "fr")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "st.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	if text := string(out); !strings.Contains(text, "Échéance 1/3") || !strings.Contains(text, "03/12/2026") {
		t.Errorf("statement PDF does not show the part due (with its accents)\n%s", text)
	}
}
