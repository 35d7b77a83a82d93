package school

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Retention of a pupil's personal data (docs/SECURITY.md "Retention").
//
// When RetentionMonths(tenant) months have passed since a pupil's leaving
// day, RetentionPass pseudonymises the pupil: first name « élève #<id> »,
// last name empty, and no matricule, birth date, diet, allergens, allergy
// notes, photo or photo consent; its ledger accounts are renamed the same
// way. The guardians of the pupils pseudonymised whose every child is
// pseudonymised lose their name (« responsable #<id> »), matricule, e-mail,
// phone and address; a guardian with another child still kept (active, or
// left within the period) keeps them. The books keep every amount: the
// pupil's accounts, transfers and postings stay, only names change. Each
// pseudonymisation is audited ("pupil.pseudonymise",
// "guardian.pseudonymise", actor "system:retention").

// DefaultRetentionMonths is the retention period of an organising body
// that set none: two years after the leaving day, so that the childcare
// tax certificate of the leaving year (issued the next spring) and the
// questions of the following school year find the child's name.
const DefaultRetentionMonths = 24

// Bounds of the retention period an organising body may set.
const (
	MinRetentionMonths = 1
	MaxRetentionMonths = 120
)

// RetentionMonths returns the tenant's retention period in months
// (DefaultRetentionMonths when it set none).
func (s *Store) RetentionMonths(ctx context.Context, tenantID int64) (int, error) {
	return retentionMonths(ctx, s.pool, tenantID)
}

func retentionMonths(ctx context.Context, q querier, tenantID int64) (int, error) {
	var months int
	err := q.QueryRow(ctx, `SELECT coalesce((SELECT months FROM retention_settings WHERE tenant_id = $1), $2)`, tenantID, DefaultRetentionMonths).Scan(&months)
	if err != nil {
		return 0, fmt.Errorf("retention of tenant %d: %w", tenantID, err)
	}
	return months, nil
}

// SetRetentionMonths sets the tenant's retention period and audits it
// ("retention.set"). It returns ErrInvalid outside MinRetentionMonths to
// MaxRetentionMonths.
func (s *Store) SetRetentionMonths(ctx context.Context, tenantID int64, months int, actor string) error {
	if months < MinRetentionMonths || months > MaxRetentionMonths {
		return invalid("durée de conservation de %d mois : entre %d et %d mois", months, MinRetentionMonths, MaxRetentionMonths)
	}
	now := s.now()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO retention_settings (tenant_id, months, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET months = $2, updated_by = $3, updated_at = $4`, tenantID, months, actor, now); err != nil {
			return mapErr(err, "retention setting")
		}
		return audit(ctx, tx, tenantID, actor, "retention.set", fmt.Sprint("tenant:", tenantID), map[string]any{"months": months}, now)
	})
}

// PseudonymName is the name a pseudonymised pupil keeps: « élève #123 ».
func PseudonymName(pupilID int64) string { return fmt.Sprint("élève #", pupilID) }

// RetentionReport says what a RetentionPass did.
type RetentionReport struct {
	Left      int // pupils who reached their leaving day (ApplyLeavings)
	Pupils    int // pupils pseudonymised
	Guardians int // guardians pseudonymised
}

// RetentionPass is the scheduled job's work: it applies the leavings due
// (ApplyLeavings), then pseudonymises, in every tenant, the pupils whose
// leaving day is at least the tenant's retention period before today (the
// school's day of the store's clock), and their guardians who have no
// other child kept. Each tenant is done in one transaction; a pupil is
// pseudonymised once.
func (s *Store) RetentionPass(ctx context.Context) (RetentionReport, error) {
	var rep RetentionReport
	var err error
	if rep.Left, err = s.ApplyLeavings(ctx); err != nil {
		return rep, err
	}
	tenants, err := s.Tenants(ctx)
	if err != nil {
		return rep, err
	}
	for _, t := range tenants {
		p, g, err := s.pseudonymiseTenant(ctx, t.ID)
		if err != nil {
			return rep, fmt.Errorf("retention of tenant %s: %w", t.Code, err)
		}
		rep.Pupils += p
		rep.Guardians += g
	}
	return rep, nil
}

func (s *Store) pseudonymiseTenant(ctx context.Context, tenantID int64) (pupils, guardians int, err error) {
	now := s.now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		months, err := retentionMonths(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		// The leaving day plus the period, compared with the school's today.
		rows, err := tx.Query(ctx, `UPDATE pupils p SET first_name = 'élève #' || p.id, last_name = '', external_ref = NULL, birth_date = NULL,
				diet = '{}', allergens = '{}', allergy_notes = '', photo = NULL, photo_consent = false, pseudonymised_at = $2
			FROM schools sc
			WHERE p.tenant_id = $1 AND sc.tenant_id = p.tenant_id AND sc.id = p.school_id
			  AND NOT p.active AND p.pseudonymised_at IS NULL AND p.left_at IS NOT NULL
			  AND (p.left_at + make_interval(months => $3))::date <= ($2::timestamptz AT TIME ZONE sc.timezone)::date
			RETURNING p.id, coalesce(p.wallet_account_id, 0), coalesce(p.receivable_account_id, 0)`, tenantID, now, months)
		if err != nil {
			return mapErr(err, "pseudonymise pupils")
		}
		type gone struct{ id, wallet, receivable int64 }
		done, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gone, error) {
			var g gone
			err := r.Scan(&g.id, &g.wallet, &g.receivable)
			return g, err
		})
		if err != nil {
			return mapErr(err, "pseudonymise pupils")
		}
		if len(done) == 0 {
			return nil
		}
		ids := make([]int64, len(done))
		for i, p := range done {
			ids[i] = p.id
			// The account names carry the child's name (createPupil).
			if err := s.ledger.RenameAccountsTx(ctx, tx, tenantID, map[int64]string{
				p.wallet: "Portefeuille " + PseudonymName(p.id), p.receivable: "Frais scolaires " + PseudonymName(p.id)}); err != nil {
				return mapErr(err, "pseudonymise accounts")
			}
			if err := audit(ctx, tx, tenantID, "system:retention", "pupil.pseudonymise", fmt.Sprint("pupil:", p.id),
				map[string]any{"months": months}, now); err != nil {
				return err
			}
		}
		// Their guardians whose every child is pseudonymised now.
		grows, err := tx.Query(ctx, `UPDATE guardians g SET first_name = 'responsable #' || g.id, last_name = '', external_ref = NULL,
				email = NULL, phone = '', address = '', pseudonymised_at = $3
			WHERE g.tenant_id = $1 AND g.pseudonymised_at IS NULL
			  AND g.id IN (SELECT guardian_id FROM guardian_pupils WHERE tenant_id = $1 AND pupil_id = ANY($2))
			  AND NOT EXISTS (SELECT 1 FROM guardian_pupils gp JOIN pupils p ON p.tenant_id = gp.tenant_id AND p.id = gp.pupil_id
				WHERE gp.tenant_id = $1 AND gp.guardian_id = g.id AND p.pseudonymised_at IS NULL)
			RETURNING g.id`, tenantID, ids, now)
		if err != nil {
			return mapErr(err, "pseudonymise guardians")
		}
		gids, err := pgx.CollectRows(grows, pgx.RowTo[int64])
		if err != nil {
			return mapErr(err, "pseudonymise guardians")
		}
		for _, id := range gids {
			if err := audit(ctx, tx, tenantID, "system:retention", "guardian.pseudonymise", fmt.Sprint("guardian:", id), nil, now); err != nil {
				return err
			}
		}
		pupils, guardians = len(done), len(gids)
		return nil
	})
	return pupils, guardians, err
}

// RetentionDue is when the pupil's personal data is pseudonymised: its
// leaving day plus the period (zero when it is not leaving).
func RetentionDue(p Pupil, months int) time.Time {
	if p.LeftAt.IsZero() {
		return time.Time{}
	}
	return p.LeftAt.AddDate(0, months, 0)
}
