package school

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Reads for the parents' portal (issue 13, "each table has one owner"): a
// family is the guardian rows of one portal login, possibly in several
// tenants. Each read is one query whatever the number of children or
// guardians.

// GuardianRef names a guardian row: its tenant and id.
type GuardianRef struct {
	TenantID int64
	ID       int64
}

// familyArrays splits refs into the two arrays the queries unnest.
func familyArrays(family []GuardianRef) (tenants, ids []int64) {
	tenants, ids = make([]int64, len(family)), make([]int64, len(family))
	for i, g := range family {
		tenants[i], ids[i] = g.TenantID, g.ID
	}
	return tenants, ids
}

// FamilyPupil is a pupil as its family sees it on the portal.
type FamilyPupil struct {
	TenantID   int64
	ID         int64
	FirstName  string
	LastName   string
	Level      string
	SchoolID   int64
	SchoolName string
	WalletID   int64  // wallet account; 0: none yet
	OGM        string // the wallet's structured communication (12 digits); "" without
	// GuardianID is the family's guardian linked to the pupil (the lowest
	// id when several of the family's are).
	GuardianID int64
	Allergens  []Allergen
}

const familyPupilQuery = `SELECT DISTINCT ON (p.tenant_id, p.id) p.tenant_id, p.id, p.first_name, p.last_name, p.level, p.school_id, s.name,
	coalesce(p.wallet_account_id, 0), coalesce(p.wallet_ogm, ''), gp.guardian_id, p.allergens
FROM unnest($1::bigint[], $2::bigint[]) AS f(tenant_id, guardian_id)
JOIN guardian_pupils gp ON gp.tenant_id = f.tenant_id AND gp.guardian_id = f.guardian_id
JOIN pupils p ON p.tenant_id = gp.tenant_id AND p.id = gp.pupil_id
JOIN schools s ON s.tenant_id = p.tenant_id AND s.id = p.school_id`

func collectFamilyPupils(rows pgx.Rows, err error) ([]FamilyPupil, error) {
	if err != nil {
		return nil, fmt.Errorf("family pupils: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FamilyPupil, error) {
		var p FamilyPupil
		var allergens []string
		err := r.Scan(&p.TenantID, &p.ID, &p.FirstName, &p.LastName, &p.Level, &p.SchoolID, &p.SchoolName,
			&p.WalletID, &p.OGM, &p.GuardianID, &allergens)
		for _, a := range allergens {
			p.Allergens = append(p.Allergens, Allergen(a))
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("family pupils: %w", err)
	}
	return out, nil
}

// FamilyPupils returns the pupils linked to the family's guardians, every
// tenant, by first name (then id); those who left too when withInactive.
func (s *Store) FamilyPupils(ctx context.Context, family []GuardianRef, withInactive bool) ([]FamilyPupil, error) {
	if len(family) == 0 {
		return nil, nil
	}
	tenants, ids := familyArrays(family)
	return collectFamilyPupils(s.pool.Query(ctx, `SELECT * FROM (`+familyPupilQuery+`
		WHERE p.active OR $3
		ORDER BY p.tenant_id, p.id, gp.guardian_id) x ORDER BY first_name, id`, tenants, ids, withInactive))
}

// FamilyPupil returns the active pupil of the tenant when one of the
// family's guardians is linked to it (the portal's access check), or
// ErrNotFound.
func (s *Store) FamilyPupil(ctx context.Context, family []GuardianRef, tenantID, pupilID int64) (FamilyPupil, error) {
	var tenants, ids []int64
	for _, g := range family {
		if g.TenantID == tenantID {
			tenants, ids = append(tenants, g.TenantID), append(ids, g.ID)
		}
	}
	if len(ids) == 0 {
		return FamilyPupil{}, fmt.Errorf("family pupil %d: %w", pupilID, ErrNotFound)
	}
	out, err := collectFamilyPupils(s.pool.Query(ctx, familyPupilQuery+`
		WHERE p.active AND p.tenant_id = $3 AND p.id = $4
		ORDER BY p.tenant_id, p.id, gp.guardian_id`, tenants, ids, tenantID, pupilID))
	if err != nil {
		return FamilyPupil{}, err
	}
	if len(out) == 0 {
		return FamilyPupil{}, fmt.Errorf("family pupil %d: %w", pupilID, ErrNotFound)
	}
	return out[0], nil
}

// FamilyPupilRecords returns the whole records of the pupils linked to the
// family's guardians, active or not (the family's data export), by tenant
// and id.
func (s *Store) FamilyPupilRecords(ctx context.Context, family []GuardianRef) ([]Pupil, error) {
	if len(family) == 0 {
		return nil, nil
	}
	tenants, ids := familyArrays(family)
	return collectPupils(s.pool.Query(ctx, `SELECT `+pupilCols+pupilFrom+`
		WHERE (p.tenant_id, p.id) IN (SELECT gp.tenant_id, gp.pupil_id
			FROM unnest($1::bigint[], $2::bigint[]) AS f(tenant_id, guardian_id)
			JOIN guardian_pupils gp ON gp.tenant_id = f.tenant_id AND gp.guardian_id = f.guardian_id)
		ORDER BY p.tenant_id, p.id`, tenants, ids))
}

// FamilyGuardians returns the family's guardian rows, by tenant and id.
func (s *Store) FamilyGuardians(ctx context.Context, family []GuardianRef) ([]Guardian, error) {
	if len(family) == 0 {
		return nil, nil
	}
	tenants, ids := familyArrays(family)
	rows, err := s.pool.Query(ctx, `SELECT `+guardianCols+` FROM guardians
		WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
		ORDER BY tenant_id, id`, tenants, ids)
	if err != nil {
		return nil, fmt.Errorf("family guardians: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Guardian, error) { return scanGuardian(r) })
	if err != nil {
		return nil, fmt.Errorf("family guardians: %w", err)
	}
	return out, nil
}

// PupilGuardian is a guardian of one of the pupils asked for.
type PupilGuardian struct {
	PupilID int64
	Guardian
}

// GuardiansOfPupilsAll returns every guardian of each of the pupils (not
// only those receiving statements, unlike GuardiansOfPupils), one entry
// per link, by guardian id then pupil id.
func (s *Store) GuardiansOfPupilsAll(ctx context.Context, tenantID int64, pupilIDs []int64) ([]PupilGuardian, error) {
	rows, err := s.pool.Query(ctx, `SELECT gp.pupil_id, g.tenant_id, g.id, coalesce(g.external_ref, ''), g.first_name, g.last_name, coalesce(g.email, ''),
			g.phone, g.address, g.language
		FROM guardian_pupils gp JOIN guardians g ON g.tenant_id = gp.tenant_id AND g.id = gp.guardian_id
		WHERE gp.tenant_id = $1 AND gp.pupil_id = ANY($2)
		ORDER BY g.id, gp.pupil_id`, tenantID, pupilIDs)
	if err != nil {
		return nil, fmt.Errorf("guardians of pupils: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PupilGuardian, error) {
		var g PupilGuardian
		err := r.Scan(&g.PupilID, &g.TenantID, &g.ID, &g.ExternalRef, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Address, &g.Language)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("guardians of pupils: %w", err)
	}
	return out, nil
}

// SchoolGuardian is a guardian of active pupils of a school, with their
// first names.
type SchoolGuardian struct {
	Guardian
	Children string // the pupils' first names, by first name, ", " between
}

// GuardiansOfSchool returns the guardians of the school's active pupils, by
// last and first name (the invitation letters).
func (s *Store) GuardiansOfSchool(ctx context.Context, tenantID, schoolID int64) ([]SchoolGuardian, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.tenant_id, g.id, coalesce(g.external_ref, ''), g.first_name, g.last_name, coalesce(g.email, ''),
			g.phone, g.address, g.language, string_agg(p.first_name, ', ' ORDER BY p.first_name)
		FROM guardians g
		JOIN guardian_pupils gp ON gp.tenant_id = g.tenant_id AND gp.guardian_id = g.id
		JOIN pupils p ON p.tenant_id = gp.tenant_id AND p.id = gp.pupil_id AND p.active AND p.school_id = $2
		WHERE g.tenant_id = $1
		GROUP BY g.tenant_id, g.id ORDER BY g.last_name, g.first_name, g.id`, tenantID, schoolID)
	if err != nil {
		return nil, fmt.Errorf("guardians of school %d: %w", schoolID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SchoolGuardian, error) {
		var g SchoolGuardian
		err := r.Scan(&g.TenantID, &g.ID, &g.ExternalRef, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Address, &g.Language, &g.Children)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("guardians of school %d: %w", schoolID, err)
	}
	return out, nil
}
