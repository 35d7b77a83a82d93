package main

import (
	"context"
	"testing"
	"time"

	"tartine/internal/db"
	"tartine/internal/dbtest"
	"tartine/internal/i18n"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
	"tartine/statements"
)

// The demo shows an instalment plan: Emma's statement (her trip with
// nights takes it over 50 €) has a plan in three parts, asked by her
// mother and accepted, and the first part arrived by bank transfer with
// the statement's communication, booked to her fees receivable (not left
// in suspense). Seeding again adds nothing.
func TestDemoInstalmentPlan(t *testing.T) {
	ctx := context.Background()
	pool, err := db.Open(ctx, dbtest.NewDSN(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	now := func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	for range 2 {
		if _, err := seedDemo(ctx, &database{Pool: pool}, now); err != nil {
			t.Fatal(err)
		}
	}
	led := ledger.New(pool, now)
	store := school.New(pool, led, now)
	demo, err := school.SeedDemo(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	svc := statements.New(store, cat, now)
	plans, err := svc.Plans(ctx, demo.TenantID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || plans[0].Status != statements.PlanAccepted || plans[0].PupilID != demo.Pupils["Emma"] || len(plans[0].Schedule) != 3 {
		t.Fatalf("demo plans = %+v, want Emma's, accepted, in 3 parts", plans)
	}
	p := plans[0]
	st, err := svc.Get(ctx, demo.TenantID, p.StatementID)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Content.TotalDue.GreaterThan(statements.FacilitiesThreshold) {
		t.Errorf("statement %s total %s, want over 50 €", st.Number, st.Content.TotalDue)
	}
	var n int
	var amount string
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(amount), 0)::text FROM bank_movements WHERE tenant_id = $1 AND status = 'statement'`,
		demo.TenantID).Scan(&n, &amount); err != nil {
		t.Fatal(err)
	}
	if n != 1 || amount != p.Schedule[0].Amount.StringFixed(2) {
		t.Errorf("statement payments by transfer: %d for %s €, want 1 for the first part, %s €", n, amount, p.Schedule[0].Amount.StringFixed(2))
	}
	waiting, err := payments.NewBank(led, nil).Unallocated(ctx, demo.TenantID)
	if err != nil || len(waiting) != 0 {
		t.Errorf("movements in suspense: %+v, %v", waiting, err)
	}
}
