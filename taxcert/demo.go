package taxcert

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/tz"
	"tartine/ledger"
)

// DemoSealer seals with a fixed key known to everyone: for the demo's
// throw-away database only (its national numbers are made up).
func DemoSealer() *Sealer {
	k := sha256.Sum256([]byte("tartine demo national numbers — not a secret"))
	s, _ := NewSealer(k[:])
	return s
}

// SeedDemo gives the demo a year with certificates ready (idempotently):
// for the children named (first names of the demo pupils), two daycare
// days per quarter of last year paid by a bank transfer, made-up but valid
// national numbers for them and their guardians, and last year's
// certificates issued (with DemoBCE as the issuer's company number when the
// service has none).
func SeedDemo(ctx context.Context, svc *Service, tenantID int64, pupils map[string]int64, children ...string) error {
	year := svc.now().In(tz.Brussels).Year() - 1
	bank, err := svc.led.AccountByCode(ctx, tenantID, "bank")
	if err != nil {
		return fmt.Errorf("taxcert demo: %w", err)
	}
	daycare, err := svc.led.EnsureAccount(ctx, tenantID, ledger.AccountSpec{Code: "revenue:daycare", Name: "Garderie", Type: ledger.Income})
	if err != nil {
		return fmt.Errorf("taxcert demo: %w", err)
	}
	rate := decimal.RequireFromString("2.40")
	for i, name := range children {
		pid, ok := pupils[name]
		if !ok {
			continue
		}
		p, err := svc.school.Pupil(ctx, tenantID, pid)
		if err != nil {
			return fmt.Errorf("taxcert demo: %w", err)
		}
		move := func(key string, at time.Time, to, from int64, amount decimal.Decimal, kind, memo string) error {
			_, err := svc.led.Transfer(ctx, ledger.TransferRequest{TenantID: tenantID, IdempotencyKey: fmt.Sprintf("demo:taxcert:%d:%s", year, key),
				Kind: kind, OccurredAt: at, Actor: "system", Memo: memo,
				Postings: []ledger.Posting{{AccountID: to, Amount: amount}, {AccountID: from, Amount: amount.Neg()}}})
			return err
		}
		paid := rate.Mul(decimal.NewFromInt(8))
		if err := move(fmt.Sprintf("%d:fund", pid), time.Date(year, 1, 5, 9, 0, 0, 0, tz.Brussels), bank.ID, p.WalletAccountID, paid, "bank-transfer", "Virement (démonstration)"); err != nil {
			return fmt.Errorf("taxcert demo: %w", err)
		}
		for q := 0; q < 4; q++ {
			for dd := 0; dd < 2; dd++ {
				at := time.Date(year, time.Month(q*3+2), 10+dd, 17, 30, 0, 0, tz.Brussels)
				if err := move(fmt.Sprintf("%d:%d:%d", pid, q, dd), at, p.WalletAccountID, daycare.ID, rate, KindDaycare, "Garderie du soir"); err != nil {
					return fmt.Errorf("taxcert demo: %w", err)
				}
			}
		}
		if !p.BirthDate.IsZero() {
			if err := svc.SetNISS(ctx, tenantID, SubjectPupil, pid, demoNISS(p.BirthDate, 100+i), "system"); err != nil {
				return err
			}
		}
		gs, err := svc.school.GuardiansOfPupil(ctx, tenantID, pid)
		if err != nil {
			return fmt.Errorf("taxcert demo: %w", err)
		}
		for j, g := range gs {
			if err := svc.SetNISS(ctx, tenantID, SubjectGuardian, g.ID, demoNISS(time.Date(1984+j, 5, 12, 0, 0, 0, 0, time.UTC), 200+int(g.ID%700)), "system"); err != nil {
				return err
			}
		}
	}
	if svc.settings.IssuerBCE == "" {
		// A made-up company number (valid check digits), so that the demo's
		// Belcotax file can be downloaded: Belcotax requires one.
		svc.settings.IssuerBCE = DemoBCE
	}
	if _, err := svc.Issue(ctx, tenantID, year, "system"); err != nil {
		return fmt.Errorf("taxcert demo: %w", err)
	}
	return nil
}

// DemoBCE is the demo organising body's made-up company number (BCE): ten
// digits whose last two are 97 − (the first eight mod 97).
const DemoBCE = "0123456749"

// demoNISS makes a valid national number from a birth date and a serial.
func demoNISS(birth time.Time, serial int) string {
	base := int64(birth.Year()%100)*10000000 + int64(birth.Month())*100000 + int64(birth.Day())*1000 + int64(serial%1000)
	n := base
	if birth.Year() >= 2000 {
		n += 2000000000
	}
	return fmt.Sprintf("%09d%02d", base, 97-n%97)
}
