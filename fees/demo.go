package fees

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// SeedDemo gives the demo school (school.SeedDemo) a school year of fees,
// idempotently (nothing is added once the school has a fee in the current
// school year): a pool fee for P3A and P5B, a puppet show for the maternel
// class M2, a facultatif magazine subscription for P5B with one opt-in
// recorded by the office (Arthur's mother, on a paper slip) and a
// facultatif group purchase of workbooks for P1A that no family has
// answered yet. The dates are the service clock's: the last weeks of the
// current school year, never a fixed year. pupils maps the demo's first
// names to pupil ids (school.DemoInfo.Pupils).
func SeedDemo(ctx context.Context, s *Service, tenantID, schoolID int64, pupils map[string]int64) error {
	now := s.now()
	today := civil(now)
	year := SchoolYearOf(today)
	list, err := s.Fees(ctx, tenantID, schoolID, year)
	if err != nil {
		return err
	}
	if len(list) > 0 {
		return nil
	}
	classes, err := s.school.Classes(ctx, tenantID, schoolID)
	if err != nil {
		return fmt.Errorf("fees demo: %w", err)
	}
	class := map[string]int64{}
	for _, c := range classes {
		class[c.Code] = c.ID
	}
	// Days before today in the same school year (today at the start of a
	// year).
	before := func(days int) time.Time {
		d := today.AddDate(0, 0, -days)
		if SchoolYearOf(d) != year {
			return today
		}
		return d
	}
	const actor = "system:demo"
	eur := decimal.RequireFromString
	if _, err := s.Create(ctx, tenantID, CreateInput{SchoolID: schoolID, Object: "Piscine — entrées et car", Category: "piscine",
		Kind: Obligatoire, Dates: []time.Time{before(21), before(14), before(7)}, Amount: eur("3.50"),
		ClassIDs: []int64{class["P3A"], class["P5B"]}}, actor); err != nil {
		return fmt.Errorf("fees demo: pool: %w", err)
	}
	if _, err := s.Create(ctx, tenantID, CreateInput{SchoolID: schoolID, Object: "Théâtre de marionnettes", Category: "activites",
		Kind: Obligatoire, Dates: []time.Time{before(10)}, Amount: eur("6.00"), ClassIDs: []int64{class["M2"]}}, actor); err != nil {
		return fmt.Errorf("fees demo: puppet show: %w", err)
	}
	mag, err := s.Create(ctx, tenantID, CreateInput{SchoolID: schoolID, Object: "Abonnement « Journal des enfants »", Category: "abonnements",
		Kind: Facultatif, Dates: []time.Time{before(5)}, Amount: eur("18.00"), ClassIDs: []int64{class["P5B"]}}, actor)
	if err != nil {
		return fmt.Errorf("fees demo: magazine: %w", err)
	}
	if _, err := s.Create(ctx, tenantID, CreateInput{SchoolID: schoolID, Object: "Cahiers d'exercices de mathématiques (achat groupé)",
		Category: "manuels-achat-groupe", Kind: Facultatif, Dates: []time.Time{before(3)}, Amount: eur("12.40"),
		ClassIDs: []int64{class["P1A"]}}, actor); err != nil {
		return fmt.Errorf("fees demo: workbooks: %w", err)
	}
	if arthur, ok := pupils["Arthur"]; ok {
		var guardian int64
		if links, err := s.school.GuardiansOfPupil(ctx, tenantID, arthur); err == nil && len(links) > 0 {
			guardian = links[0].ID
		}
		if _, err := s.RecordOptIn(ctx, tenantID, OptInInput{FeeID: mag.ID, PupilID: arthur, Accepted: true, Channel: ChannelStaff,
			GuardianID: guardian, Note: "talon papier rendu au secrétariat"}, actor); err != nil {
			return fmt.Errorf("fees demo: opt-in: %w", err)
		}
	}
	return nil
}
