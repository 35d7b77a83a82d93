package statements

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// SeedDemo gives the demo school something to look at: the current school
// year's periods (two months each, as if set before the year), an estimate
// per level of the school sent to the guardians, and the statements of
// the period that holds the demo's fees (package fees seeds them in the
// last weeks), issued and sent. It does nothing when the year already has
// periods. The demo's clock is the service's.
func SeedDemo(ctx context.Context, s *Service, tenantID, schoolID int64, portalURL string) error {
	now := s.now().In(brussels())
	year := SchoolYearOf(now)
	first, err := ParseSchoolYear(year)
	if err != nil {
		return err
	}
	if ps, err := s.Periods(ctx, tenantID, year); err != nil || len(ps) > 0 {
		return err
	}
	// The organising body set the periods a week before the year started.
	before := *s
	before.now = func() time.Time { return YearStart(first).AddDate(0, 0, -7).Add(10 * time.Hour) }
	var in []PeriodInput
	for m := 0; m < 10; m += 2 {
		from := time.Date(first, time.September+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		in = append(in, PeriodInput{From: from, To: from.AddDate(0, 2, -1)})
	}
	ps, err := before.SetPeriods(ctx, tenantID, year, in, "demo")
	if err != nil {
		return fmt.Errorf("statements demo: %w", err)
	}
	if err := before.SetContact(ctx, tenantID, schoolID, "Secrétariat, 081 00 00 00, secretariat@ecole.example", "demo"); err != nil {
		return fmt.Errorf("statements demo: %w", err)
	}
	classes, err := s.school.Classes(ctx, tenantID, schoolID)
	if err != nil {
		return err
	}
	eur := decimal.RequireFromString
	seen := map[string]bool{}
	for _, c := range classes {
		if seen[c.Level] {
			continue
		}
		seen[c.Level] = true
		hs := []EstimateHeading{{Heading: "Piscine (entrées et car)", Kind: "obligatoire", Amount: eur("35.00")},
			{Heading: "Activités culturelles et sportives", Kind: "obligatoire", Amount: eur("40.00")}}
		if c.Level[0] != 'M' {
			hs = append(hs, EstimateHeading{Heading: "Abonnement à une revue", Kind: "facultatif", Amount: eur("18.00")})
		}
		e, err := before.SaveEstimate(ctx, tenantID, EstimateInput{SchoolYear: year, SchoolID: schoolID, Scope: c.Level, Headings: hs}, "demo")
		if err != nil {
			return fmt.Errorf("statements demo: %w", err)
		}
		if _, err := before.SendEstimate(ctx, tenantID, e.ID, portalURL, "demo"); err != nil {
			return fmt.Errorf("statements demo: %w", err)
		}
	}
	// The period of the demo fees (a week ago), issued and sent today.
	day := civil(now.AddDate(0, 0, -7))
	for _, p := range ps {
		if p.From.After(day) || p.To.Before(day) {
			continue
		}
		run, err := s.Issue(ctx, tenantID, p.ID, "demo", nil)
		if errors.Is(err, ErrInvalid) {
			return nil // nothing to show in that period (the year just started)
		}
		if err != nil {
			return fmt.Errorf("statements demo: %w", err)
		}
		if _, err := s.Send(ctx, tenantID, run.ID, portalURL, "demo", nil); err != nil {
			return fmt.Errorf("statements demo: %w", err)
		}
	}
	return nil
}

// SeedDemoPlan gives the demo an instalment plan to look at: on the
// issued statement of pupilID, its first guardian asked to pay in three
// parts and the school accepted. It returns the statement, the plan and
// the payer's structured communication (to pay the first part by bank
// transfer), or ErrNotFound when the pupil has no issued statement over
// FacilitiesThreshold. A plan asked before is left as it is.
func SeedDemoPlan(ctx context.Context, s *Service, tenantID, pupilID int64, portalURL string) (Statement, Plan, string, error) {
	sts, err := s.OfPupil(ctx, tenantID, pupilID)
	if err != nil {
		return Statement{}, Plan{}, "", err
	}
	for _, st := range sts {
		c := st.Content
		if !c.TotalDue.GreaterThan(FacilitiesThreshold) || len(c.Addressees) == 0 {
			continue
		}
		guardian := c.Addressees[0].GuardianID
		ogm := ""
		for _, py := range c.Payers {
			if py.GuardianID == guardian || py.GuardianID == 0 {
				ogm = py.OGM
			}
		}
		p, err := s.RequestPlan(ctx, tenantID, st.ID, guardian, 3, "Trois fois, si possible : merci !")
		if errors.Is(err, ErrInvalid) {
			return st, Plan{}, ogm, nil
		}
		if err != nil {
			return Statement{}, Plan{}, "", fmt.Errorf("statements demo plan: %w", err)
		}
		if p, err = s.DecidePlan(ctx, tenantID, p.ID, true, portalURL, "demo"); err != nil {
			return Statement{}, Plan{}, "", fmt.Errorf("statements demo plan: %w", err)
		}
		return st, p, ogm, nil
	}
	return Statement{}, Plan{}, "", fmt.Errorf("statements demo plan: pupil %d has no statement over %s €: %w", pupilID, FacilitiesThreshold, ErrNotFound)
}
