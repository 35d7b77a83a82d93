package statements

import (
	"context"
	"strings"
	"testing"
	"time"

	"tartine/internal/jobs"
	"tartine/internal/mail"
	"tartine/internal/mail/mailtest"
	"tartine/school"
)

// The guardian who asked for an instalment plan is emailed the school's
// decision through the job queue (enqueued in the decision's transaction),
// over a real SMTP listener: in French by default, with the plan's
// schedule when it is accepted; in English for a guardian who chose it,
// without a schedule and with no sanction when it is refused. A decision
// that fails (decided before) sends nothing.
func TestInstalmentPlanDecisionEmail(t *testing.T) {
	f := newFixture(t)
	srv := mailtest.Start(t, "", "")
	smtp, err := mail.NewSMTP(mail.Config{Addr: srv.Addr, From: "Tartine <noreply@ecole.be>"}, f.clock.now)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(jobs.Config{Pool: f.school.Pool(), Mail: smtp, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = q.Stop(stop)
		cancel()
	})
	f.svc.Mail = q

	ps := f.periods()
	zoe := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	tom := f.pupil("Tom", "Smith")
	john, err := f.school.CreateGuardian(f.ctx, f.tenant.ID, school.GuardianInput{FirstName: "John", LastName: "Smith",
		Email: "john@example.be", Language: "en"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.school.LinkGuardian(f.ctx, f.tenant.ID, john.ID, tom.ID, "parent", "test"); err != nil {
		t.Fatal(err)
	}
	f.fee("Piscine — cycle", "piscine", "90.00", day(2026, 9, 15), zoe.ID, tom.ID)
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
	ask := func(p school.Pupil) Plan {
		t.Helper()
		st := byPupil[p.ID]
		plan, err := f.svc.RequestPlan(f.ctx, f.tenant.ID, st.ID, st.Content.Addressees[0].GuardianID, 3, "")
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	pz, pt := ask(zoe), ask(tom)
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d emails on request, want none before a decision", n)
	}

	if _, err := f.svc.DecidePlan(f.ctx, f.tenant.ID, pz.ID, true, "https://ecole.example/portal", "staff:1"); err != nil {
		t.Fatal(err)
	}
	m := srv.Wait(t, 1)[0]
	m.Text = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(m.Text) // the spaces before € and :
	st := byPupil[zoe.ID]
	for _, want := range []string{"Paiement échelonné accepté", st.Number, "Zoé"} {
		if !strings.Contains(m.Subject, want) {
			t.Errorf("accepted: subject %q lacks %q", m.Subject, want)
		}
	}
	// Due 30 days after 3 November: 3 December, 3 January, 3 February.
	for _, want := range []string{"en 3 fois", "1/3 — le jeudi 3 décembre 2026 : 30,00 €", "2/3 — le dimanche 3 janvier 2027 : 30,00 €",
		"3/3 — le mercredi 3 février 2027 : 30,00 €", StatementLink("https://ecole.example/portal", st.ID), "École Saint-Aubain"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("accepted: body lacks %q\n%s", want, m.Text)
		}
	}
	if len(m.To) != 1 || m.To[0] != "anne@example.be" {
		t.Errorf("accepted: sent to %v, want the guardian who asked", m.To)
	}

	if _, err := f.svc.DecidePlan(f.ctx, f.tenant.ID, pt.ID, false, "https://ecole.example/portal", "staff:1"); err != nil {
		t.Fatal(err)
	}
	m = srv.Wait(t, 2)[1]
	if !strings.Contains(m.Subject, "Instalment plan request") || !strings.Contains(m.Text, "could not accept") ||
		!strings.Contains(m.Text, "no consequence") || strings.Contains(m.Text, "1/3") || m.To[0] != "john@example.be" {
		t.Errorf("refused, in English: %q to %v\n%s", m.Subject, m.To, m.Text)
	}

	if _, err := f.svc.DecidePlan(f.ctx, f.tenant.ID, pt.ID, true, "https://ecole.example/portal", "staff:1"); err == nil {
		t.Fatal("deciding twice accepted")
	}
	time.Sleep(500 * time.Millisecond) // a wrongly enqueued email would have arrived by now
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d emails after a failed decision, want 2", n)
	}
}
