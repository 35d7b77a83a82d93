package school

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Guardian is a parent or other legal guardian of one or more pupils.
type Guardian struct {
	TenantID    int64
	ID          int64
	ExternalRef string
	FirstName   string
	LastName    string
	Email       string // lower case; empty when unknown
	Phone       string
	Address     string
	Language    string // fr, en or nl
}

// GuardianInput creates or updates a guardian.
type GuardianInput struct {
	ExternalRef string
	FirstName   string
	LastName    string
	Email       string
	Phone       string
	Address     string
	Language    string // default fr
}

// NormaliseEmail trims and lower-cases an e-mail address and checks its
// form; an empty address stays empty.
func NormaliseEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.IndexByte(s, '@'):], ".") {
		return "", invalid("adresse e-mail %q invalide", s)
	}
	return s, nil
}

func (in *GuardianInput) normalise() error {
	in.FirstName = strings.TrimSpace(in.FirstName)
	in.LastName = strings.TrimSpace(in.LastName)
	in.ExternalRef = strings.TrimSpace(in.ExternalRef)
	in.Phone = strings.TrimSpace(in.Phone)
	if in.FirstName == "" && in.LastName == "" {
		return invalid("responsable sans nom")
	}
	email, err := NormaliseEmail(in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	in.Language = strings.ToLower(strings.TrimSpace(in.Language))
	switch in.Language {
	case "":
		in.Language = "fr"
	case "fr", "en", "nl":
	case "français", "francais", "french":
		in.Language = "fr"
	case "english", "anglais":
		in.Language = "en"
	case "nederlands", "néerlandais", "neerlandais", "dutch":
		in.Language = "nl"
	default:
		return invalid("langue %q : attendu fr, en ou nl", in.Language)
	}
	return nil
}

// CreateGuardian creates a guardian. It returns ErrInvalid for bad input and
// ErrConflict when the e-mail address or reference is taken in the tenant.
func (s *Store) CreateGuardian(ctx context.Context, tenantID int64, in GuardianInput, actor string) (Guardian, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if id, err = createGuardian(ctx, tx, tenantID, in); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "guardian.create", fmt.Sprint("guardian:", id), nil, s.now())
	})
	if err != nil {
		return Guardian{}, err
	}
	return s.Guardian(ctx, tenantID, id)
}

func createGuardian(ctx context.Context, tx pgx.Tx, tenantID int64, in GuardianInput) (int64, error) {
	if err := in.normalise(); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO guardians (tenant_id, external_ref, first_name, last_name, email, phone, address, language)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		tenantID, nullable(in.ExternalRef), in.FirstName, in.LastName, nullable(in.Email), in.Phone, in.Address, in.Language).Scan(&id)
	return id, mapErr(err, "guardian "+in.FirstName+" "+in.LastName)
}

// UpdateGuardian replaces the guardian's details and audits which fields
// changed ("guardian.update", detail "changed"). Errors as CreateGuardian,
// plus ErrNotFound.
func (s *Store) UpdateGuardian(ctx context.Context, tenantID, id int64, in GuardianInput, actor string) (Guardian, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanGuardian(tx.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if err != nil {
			return mapErr(err, fmt.Sprint("guardian ", id))
		}
		if err := updateGuardian(ctx, tx, tenantID, id, in); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "guardian.update", fmt.Sprint("guardian:", id), map[string]any{"changed": guardianChanges(old, in)}, s.now())
	})
	if err != nil {
		return Guardian{}, err
	}
	return s.Guardian(ctx, tenantID, id)
}

func updateGuardian(ctx context.Context, tx pgx.Tx, tenantID, id int64, in GuardianInput) error {
	if err := in.normalise(); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE guardians SET external_ref = coalesce($3, external_ref), first_name = $4, last_name = $5,
		email = $6, phone = $7, address = $8, language = $9 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, nullable(in.ExternalRef), in.FirstName, in.LastName, nullable(in.Email), in.Phone, in.Address, in.Language)
	if err != nil {
		return mapErr(err, fmt.Sprint("guardian ", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("guardian %d: %w", id, ErrNotFound)
	}
	return nil
}

const guardianCols = `tenant_id, id, coalesce(external_ref, ''), first_name, last_name, coalesce(email, ''), phone, address, language`

func scanGuardian(row pgx.Row) (Guardian, error) {
	var g Guardian
	err := row.Scan(&g.TenantID, &g.ID, &g.ExternalRef, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Address, &g.Language)
	return g, err
}

// Guardian returns the tenant's guardian with this id, or ErrNotFound.
func (s *Store) Guardian(ctx context.Context, tenantID, id int64) (Guardian, error) {
	g, err := scanGuardian(s.pool.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return g, mapErr(err, fmt.Sprint("guardian ", id))
}

// GuardianByEmail returns the tenant's guardian with this e-mail address
// (case-insensitive), or ErrNotFound.
func (s *Store) GuardianByEmail(ctx context.Context, tenantID int64, email string) (Guardian, error) {
	g, err := scanGuardian(s.pool.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1 AND lower(email) = lower($2)`,
		tenantID, strings.TrimSpace(email)))
	return g, mapErr(err, "guardian "+email)
}

// GuardianByExternalRef returns the guardian with this reference, or ErrNotFound.
func (s *Store) GuardianByExternalRef(ctx context.Context, tenantID int64, ref string) (Guardian, error) {
	g, err := scanGuardian(s.pool.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1 AND external_ref = $2`, tenantID, ref))
	return g, mapErr(err, "guardian "+ref)
}

// LinkGuardian links a guardian to a pupil (idempotent; relation is
// "mère", "père", "tuteur"… and is updated on a second call). It returns
// ErrNotFound when either is not in the tenant.
func (s *Store) LinkGuardian(ctx context.Context, tenantID, guardianID, pupilID int64, relation, actor string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := linkGuardian(ctx, tx, tenantID, guardianID, pupilID, relation); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "guardian.link", fmt.Sprint("pupil:", pupilID),
			map[string]any{"guardian": guardianID, "relation": relation}, s.now())
	})
}

func linkGuardian(ctx context.Context, tx pgx.Tx, tenantID, guardianID, pupilID int64, relation string) error {
	_, err := tx.Exec(ctx, `INSERT INTO guardian_pupils (tenant_id, guardian_id, pupil_id, relation) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, guardian_id, pupil_id) DO UPDATE SET relation = $4`, tenantID, guardianID, pupilID, strings.TrimSpace(relation))
	return mapErr(err, fmt.Sprintf("link guardian %d to pupil %d", guardianID, pupilID))
}

// UnlinkGuardian removes the link between a guardian and a pupil; it returns
// ErrNotFound when there was none.
func (s *Store) UnlinkGuardian(ctx context.Context, tenantID, guardianID, pupilID int64, actor string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM guardian_pupils WHERE tenant_id = $1 AND guardian_id = $2 AND pupil_id = $3`, tenantID, guardianID, pupilID)
		if err != nil {
			return mapErr(err, "unlink guardian")
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("link guardian %d – pupil %d: %w", guardianID, pupilID, ErrNotFound)
		}
		// Someone still receives the pupil's statements.
		if _, err := tx.Exec(ctx, `UPDATE guardian_pupils SET statements = true WHERE tenant_id = $1 AND pupil_id = $2
			AND NOT EXISTS (SELECT 1 FROM guardian_pupils WHERE tenant_id = $1 AND pupil_id = $2 AND statements)`, tenantID, pupilID); err != nil {
			return mapErr(err, "statements after unlink")
		}
		return audit(ctx, tx, tenantID, actor, "guardian.unlink", fmt.Sprint("pupil:", pupilID), map[string]any{"guardian": guardianID}, s.now())
	})
}

// GuardianLinked reports whether the guardian is linked to the pupil in this
// tenant (the portal's access check).
func (s *Store) GuardianLinked(ctx context.Context, tenantID, guardianID, pupilID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM guardian_pupils WHERE tenant_id = $1 AND guardian_id = $2 AND pupil_id = $3)`,
		tenantID, guardianID, pupilID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("guardian link: %w", err)
	}
	return ok, nil
}

// PupilsOfGuardian returns the pupils linked to the guardian (active or
// not), by first name.
func (s *Store) PupilsOfGuardian(ctx context.Context, tenantID, guardianID int64) ([]Pupil, error) {
	return collectPupils(s.pool.Query(ctx, `SELECT `+pupilCols+pupilFrom+`
		JOIN guardian_pupils gp ON gp.tenant_id = p.tenant_id AND gp.pupil_id = p.id
		WHERE p.tenant_id = $1 AND gp.guardian_id = $2
		ORDER BY p.active DESC, lower(p.first_name), p.id`, tenantID, guardianID))
}

// GuardianLink is a guardian of a pupil with the relation.
type GuardianLink struct {
	Guardian
	Relation string
	// Statements: the guardian receives this pupil's statements and
	// estimates (SetGuardianStatements); at least one guardian does.
	Statements bool
}

// GuardiansOfPupil returns the pupil's guardians by last and first name.
func (s *Store) GuardiansOfPupil(ctx context.Context, tenantID, pupilID int64) ([]GuardianLink, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.tenant_id, g.id, coalesce(g.external_ref, ''), g.first_name, g.last_name, coalesce(g.email, ''),
			g.phone, g.address, g.language, gp.relation, gp.statements
		FROM guardians g JOIN guardian_pupils gp ON gp.tenant_id = g.tenant_id AND gp.guardian_id = g.id
		WHERE g.tenant_id = $1 AND gp.pupil_id = $2 ORDER BY lower(g.last_name), lower(g.first_name), g.id`, tenantID, pupilID)
	if err != nil {
		return nil, fmt.Errorf("guardians of pupil %d: %w", pupilID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (GuardianLink, error) {
		var g GuardianLink
		err := r.Scan(&g.TenantID, &g.ID, &g.ExternalRef, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Address, &g.Language, &g.Relation, &g.Statements)
		return g, err
	})
}
