package school

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/policy"
	"tartine/internal/tz"
	"tartine/sepa"
)

// School is one school of an organising body.
type School struct {
	TenantID    int64
	ID          int64
	Code        string
	Name        string
	Address     string
	IBAN        string // electronic form, no spaces
	BIC         string
	Beneficiary string
	Timezone    string
	FreeMeals   bool // listed in the FWB free-meal programme
	Policy      policy.Policy
	// PolicyErr is set when the stored settings could not be used; Policy
	// then holds the defaults.
	PolicyErr error
}

// Location returns the school's time zone (Europe/Brussels when unknown).
func (s School) Location() *time.Location {
	return tz.Of(s.Timezone)
}

// SchoolInput creates or updates a school (matched by Code).
type SchoolInput struct {
	Code        string
	Name        string
	Address     string
	IBAN        string
	BIC         string
	Beneficiary string
	Timezone    string // default Europe/Brussels
	FreeMeals   bool
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

// EnsureSchool creates the school with in.Code or updates its details
// (never its policy; see SetPolicy). It returns ErrInvalid for a bad code,
// name, IBAN or time zone.
func (s *Store) EnsureSchool(ctx context.Context, tenantID int64, in SchoolInput) (School, error) {
	if !codeRE.MatchString(in.Code) {
		return School{}, invalid("school code %q: letters, digits, '-', '_' or '.', at most 40", in.Code)
	}
	if strings.TrimSpace(in.Name) == "" {
		return School{}, invalid("school %s needs a name", in.Code)
	}
	if in.IBAN != "" {
		iban, err := sepa.ParseIBAN(in.IBAN)
		if err != nil {
			return School{}, invalid("school %s: IBAN: %v", in.Code, err)
		}
		in.IBAN = iban
	}
	if in.Timezone == "" {
		in.Timezone = "Europe/Brussels"
	}
	if _, err := tz.Load(in.Timezone); err != nil {
		return School{}, invalid("school %s: time zone %q: %v", in.Code, in.Timezone, err)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO schools (tenant_id, code, name, address, iban, bic, beneficiary, timezone, free_meals)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (tenant_id, code) DO UPDATE SET name = $3, address = $4, iban = $5, bic = $6,
			beneficiary = $7, timezone = $8, free_meals = $9
		RETURNING id`,
		tenantID, in.Code, in.Name, in.Address, in.IBAN, in.BIC, in.Beneficiary, in.Timezone, in.FreeMeals).Scan(&id)
	if err != nil {
		return School{}, mapErr(err, "school "+in.Code)
	}
	return s.School(ctx, tenantID, id)
}

const schoolCols = `tenant_id, id, code, name, address, iban, bic, beneficiary, timezone, free_meals, settings`

func scanSchool(row pgx.Row) (School, error) {
	var sc School
	var settings []byte
	if err := row.Scan(sc.dest(&settings)...); err != nil {
		return School{}, err
	}
	sc.Policy, sc.PolicyErr = decodePolicy(settings)
	return sc, nil
}

// dest is where a row of schoolCols is scanned: into sc, the settings
// into settings (decodePolicy makes them sc's policy).
func (sc *School) dest(settings *[]byte) []any {
	return []any{&sc.TenantID, &sc.ID, &sc.Code, &sc.Name, &sc.Address, &sc.IBAN, &sc.BIC, &sc.Beneficiary,
		&sc.Timezone, &sc.FreeMeals, settings}
}

// decodePolicy is policy.Decode with its error wrapping ErrInvalid too.
func decodePolicy(settings []byte) (policy.Policy, error) {
	p, err := policy.Decode(settings)
	if err != nil {
		return p, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return p, nil
}

// School returns the tenant's school with this id, or ErrNotFound.
func (s *Store) School(ctx context.Context, tenantID, id int64) (School, error) {
	return ReadSchool(ctx, s.pool, tenantID, id)
}

// SchoolByCode returns the tenant's school with this code, or ErrNotFound.
func (s *Store) SchoolByCode(ctx context.Context, tenantID int64, code string) (School, error) {
	sc, err := scanSchool(s.pool.QueryRow(ctx, `SELECT `+schoolCols+` FROM schools WHERE tenant_id = $1 AND code = $2`, tenantID, code))
	return sc, mapErr(err, "school "+code)
}

// Schools returns the tenant's schools by code.
func (s *Store) Schools(ctx context.Context, tenantID int64) ([]School, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+schoolCols+` FROM schools WHERE tenant_id = $1 ORDER BY code`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("schools: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (School, error) { return scanSchool(r) })
}

// AllSchools returns every school of every organising body, for the
// server's periodic jobs (the day end).
func (s *Store) AllSchools(ctx context.Context) ([]School, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+schoolCols+` FROM schools ORDER BY tenant_id, id`)
	if err != nil {
		return nil, fmt.Errorf("schools: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (School, error) { return scanSchool(r) })
}

// SetPolicy validates and stores the school's policy, moves the floor of its
// pupils' wallets to p.Floor() and records an audit entry. The policy's keys
// are merged into the stored settings (policy.Merge): a key the policy does
// not know is kept. A wallet already below the new floor keeps its old
// floor; their number is returned. It returns ErrInvalid (also wrapping
// policy.ErrInvalid) for a policy that fails Validate, ErrNotFound for an
// unknown school.
func (s *Store) SetPolicy(ctx context.Context, tenantID, schoolID int64, p policy.Policy, actor string) (kept int, err error) {
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var stored []byte
		err := tx.QueryRow(ctx, `SELECT settings FROM schools WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, schoolID).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("school %d: %w", schoolID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("school policy: %w", err)
		}
		b, err := p.Merge(stored)
		if errors.Is(err, policy.ErrInvalid) {
			// Stored settings that are not an object (written by hand):
			// the policy replaces them.
			b, err = p.Merge(nil)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		_, err = tx.Exec(ctx, `UPDATE schools SET settings = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, schoolID, b)
		return mapErr(err, "school policy")
	})
	if err != nil {
		return 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT wallet_account_id FROM pupils WHERE tenant_id = $1 AND school_id = $2 AND wallet_account_id IS NOT NULL`, tenantID, schoolID)
	if err != nil {
		return 0, fmt.Errorf("school policy: wallets: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("school policy: wallets: %w", err)
	}
	for _, id := range ids {
		if err := s.ledger.SetFloor(ctx, tenantID, id, p.Floor()); err != nil {
			kept++
		}
	}
	return kept, audit(ctx, s.pool, tenantID, actor, "school.policy", fmt.Sprint("school:", schoolID), map[string]any{"policy": p}, s.now())
}

// Class is a class of a school ("P3A", level P3).
type Class struct {
	TenantID int64
	ID       int64
	SchoolID int64
	Code     string
	Level    string
}

var levelRE = regexp.MustCompile(`^(M[1-3]|P[1-6]|S[1-6])$`)

// ValidLevel reports whether level is M1–M3, P1–P6 or S1–S6.
func ValidLevel(level string) bool { return levelRE.MatchString(level) }

// Levels are the valid levels, in school order.
func Levels() []string {
	return []string{"M1", "M2", "M3", "P1", "P2", "P3", "P4", "P5", "P6", "S1", "S2", "S3", "S4", "S5", "S6"}
}

// EnsureClass creates the class with this code in the school, or updates its
// level, and returns it.
func (s *Store) EnsureClass(ctx context.Context, tenantID, schoolID int64, code, level string) (Class, error) {
	return ensureClass(ctx, s.pool, tenantID, schoolID, code, level)
}

func ensureClass(ctx context.Context, q querier, tenantID, schoolID int64, code, level string) (Class, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 20 {
		return Class{}, invalid("class code %q: 1 to 20 characters", code)
	}
	if !ValidLevel(level) {
		return Class{}, invalid("class %s: level %q: want M1–M3, P1–P6 or S1–S6", code, level)
	}
	c := Class{TenantID: tenantID, SchoolID: schoolID, Code: code, Level: level}
	err := q.QueryRow(ctx, `
		INSERT INTO classes (tenant_id, school_id, code, level) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, school_id, code) DO UPDATE SET level = $4
		RETURNING id`, tenantID, schoolID, code, level).Scan(&c.ID)
	return c, mapErr(err, "class "+code)
}

// Classes returns the school's classes by code.
func (s *Store) Classes(ctx context.Context, tenantID, schoolID int64) ([]Class, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, id, school_id, code, level FROM classes
		WHERE tenant_id = $1 AND school_id = $2 ORDER BY code`, tenantID, schoolID)
	if err != nil {
		return nil, fmt.Errorf("classes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Class, error) {
		var c Class
		err := r.Scan(&c.TenantID, &c.ID, &c.SchoolID, &c.Code, &c.Level)
		return c, err
	})
}
