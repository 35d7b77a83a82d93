package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
	"tartine/statements"
)

// The demo's instalment plan: Emma goes on a school trip with nights (a
// fee over 50 €, so her statement offers payment facilities), her mother
// asked to pay it in three parts, the school accepted, and the first part
// arrived by bank transfer with the statement's structured communication
// (a CODA file imported as the accountant would).

// demoPlanPupil is the demo pupil with the instalment plan.
const demoPlanPupil = "Emma"

// seedDemoStay charges the demo's trip with nights to demoPlanPupil, a
// week ago (in the period the statements demo issues).
func seedDemoStay(ctx context.Context, fs *fees.Service, tenantID, schoolID int64, pupils map[string]int64, now time.Time) error {
	pupil, ok := pupils[demoPlanPupil]
	if !ok {
		return nil
	}
	day := now.In(tz.Brussels).AddDate(0, 0, -7)
	day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	if _, err := fs.Create(ctx, tenantID, fees.CreateInput{SchoolID: schoolID, Object: "Classe de dépaysement à Han-sur-Lesse (2 nuits)",
		Category: "sejours", Kind: fees.Obligatoire, Dates: []time.Time{day}, Amount: decimal.RequireFromString("96.00"),
		PupilIDs: []int64{pupil}}, "system:demo"); err != nil {
		return fmt.Errorf("demo stay: %w", err)
	}
	return nil
}

// seedDemoPlan asks for and accepts the plan on demoPlanPupil's statement
// and pays its first part by a bank transfer imported from a CODA file.
// Nothing when the statements demo issued no statement for the pupil (the
// first week of a school year).
func seedDemoPlan(ctx context.Context, stmts *statements.Service, schools *school.Store, led *ledger.Ledger, tenantID int64, sd school.DemoInfo,
	now time.Time, log *slog.Logger) error {
	pupil, ok := sd.Pupils[demoPlanPupil]
	if !ok {
		return nil
	}
	sch, err := schools.School(ctx, tenantID, sd.SchoolID)
	if err != nil {
		return err
	}
	st, plan, ogm, err := statements.SeedDemoPlan(ctx, stmts, tenantID, pupil, "/portal")
	if errors.Is(err, statements.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(plan.Schedule) == 0 || ogm == "" {
		return nil
	}
	bank := payments.NewBank(led, log, payments.WithStatements(stmts.BankLookup))
	part := plan.Schedule[0]
	rep, err := bank.ImportCODA(ctx, tenantID, demoCODA(sch.IBAN, now.In(tz.Brussels), part.Amount, ogm, "DUBOIS SOPHIE"), "system:demo")
	if err != nil {
		return fmt.Errorf("demo plan: first part of %s: %w", st.Number, err)
	}
	// Routed by the statement's communication to the fees receivable, not
	// left in suspense.
	waiting, err := bank.Unallocated(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, m := range waiting {
		if m.OGM == ogm {
			return fmt.Errorf("demo plan: the transfer of the first part of %s was left in suspense", st.Number)
		}
	}
	if len(rep.Suspense) != 1 {
		return fmt.Errorf("demo plan: %d lines booked for the first part of %s, want 1", len(rep.Suspense), st.Number)
	}
	return nil
}

// demoCODA is a CODA file of one statement of the school's account on day
// with one credit: amount from payer with the structured communication
// ogm (12 digits). Records as a Belgian bank writes them (00, 1, 21-23, 8,
// 9; 128 characters each).
func demoCODA(iban string, day time.Time, amount decimal.Decimal, ogm, payer string) []byte {
	rec := func(prefix string, fields ...any) string {
		r := []byte(strings.Repeat(" ", 128))
		copy(r, prefix)
		for i := 0; i+1 < len(fields); i += 2 {
			from, s := fields[i].(int), fields[i+1].(string)
			copy(r[from-1:], s)
		}
		return string(r) + "\n"
	}
	cents := amount.Shift(2).IntPart()
	amt := func(c int64) string { return fmt.Sprintf("0%015d", c*10) }
	d, prev := day.Format("020106"), day.AddDate(0, 0, -1).Format("020106")
	var b strings.Builder
	b.WriteString(rec("00000", 6, d, 12, "000", 15, "05", 35, "PO TARTINE", 61, "GKCCBEBB", 72, "00123456789", 84, "00000", 128, "2"))
	b.WriteString(rec("12001", 6, iban, 40, "EUR", 43, amt(0), 59, prev, 65, "PO TARTINE", 91, "Compte scolaire", 126, "001"))
	b.WriteString(rec("2100010000", 11, "DEMO0000000000000001", 32, amt(cents), 48, d, 54, "00150000", 62, "1101"+ogm,
		116, d, 122, "001", 125, "0", 126, "1", 128, "0"))
	b.WriteString(rec("2200010000", 64, "NOTPROVIDED", 99, "GEBABEBB", 126, "1", 128, "0"))
	b.WriteString(rec("2300010000", 11, "BE71096123456769", 45, "EUR", 48, payer, 126, "0", 128, "0"))
	b.WriteString(rec("8001", 5, iban, 39, "EUR", 42, amt(cents), 58, d, 128, "0"))
	b.WriteString(rec("9", 17, fmt.Sprintf("%06d%015d%015d", 5, 0, cents*10), 128, "2"))
	return []byte(b.String())
}
