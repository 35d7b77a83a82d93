package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/school"
	"tartine/statements"
)

// TestStatementsRunCommand previews a period (--dry-run writes nothing and
// warns that the estimate was never sent), then issues and sends it.
func TestStatementsRunCommand(t *testing.T) {
	ctx := context.Background()
	getenv, pool, l := testLedger(t)
	june := func() time.Time { return time.Date(2026, time.June, 10, 10, 0, 0, 0, time.UTC) }
	st := school.New(pool, l, june)
	ten, err := st.EnsureTenant(ctx, "po-st", "PO des décomptes")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.EnsureSchool(ctx, ten.ID, school.SchoolInput{Code: "e", Name: "École", IBAN: "BE68539007547034"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreatePupil(ctx, ten.ID, school.PupilInput{SchoolID: sc.ID, FirstName: "Zoé", LastName: "Noël", Level: "P4"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.CreateGuardian(ctx, ten.ID, school.GuardianInput{FirstName: "Anne", LastName: "Noël", Email: "anne@example.be"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.LinkGuardian(ctx, ten.ID, g.ID, p.ID, "mère", "test"); err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	svc := statements.New(st, cat, june)
	if _, err := svc.SetPeriods(ctx, ten.ID, "2026-27", []statements.PeriodInput{{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}}, "test"); err != nil {
		t.Fatal(err)
	}
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fees.New(pool, l, st, fees.NewRules(shipped, june), june).Create(ctx, ten.ID, fees.CreateInput{SchoolID: sc.ID, Object: "Piscine", Category: "piscine",
		Kind: fees.Obligatoire, Dates: []time.Time{time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)}, Amount: decimal.RequireFromString("64.00"), PupilIDs: []int64{p.ID}}, "test"); err != nil {
		t.Fatal(err)
	}
	e := env{getenv: getenv, stdout: &bytes.Buffer{}, stderr: io.Discard, now: func() time.Time { return time.Date(2027, time.January, 4, 9, 0, 0, 0, time.UTC) }}
	out := e.stdout.(*bytes.Buffer)
	if err := runEnv(ctx, []string{"statements", "run", "--period", "2026-27/1", "--dry-run"}, e); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"décomptes à émettre : 1, total 64,00\u00a0€ ; 1 avec l'offre de facilités", "n'a jamais été envoyée", "rien n'a été écrit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if runs, _ := svc.Runs(ctx, ten.ID, 0); len(runs) != 0 {
		t.Errorf("dry run wrote %d run(s)", len(runs))
	}
	out.Reset()
	if err := runEnv(ctx, []string{"statements", "run", "--period", "2026-27/1"}, e); err == nil || !strings.Contains(err.Error(), "estimate_sent") {
		t.Errorf("issue without estimate: %v, want the estimate rule", err)
	}
	if err := svc.OverrideEstimate(ctx, ten.ID, "2026-27", "estimation remise en juin", "test"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	dir := t.TempDir()
	if err := runEnv(ctx, []string{"statements", "run", "--period", "2026-27/1", "--pdf-dir", dir, "--send", "--portal-url", "https://ecole.example/portal"}, e); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if pdf, err := os.ReadFile(filepath.Join(dir, "ST-2026-000001-v1.pdf")); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("--pdf-dir: %v", err)
	}
	for _, want := range []string{"émis : 1 décompte(s), total 64,00\u00a0€", "PDF : 1 fichier(s)", "envoyés : 1 courriel(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
}
