package statements

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Split modes of a pupil's statements.
const (
	SplitNone  = "none"  // one amount and communication; every guardian receives it
	SplitEqual = "equal" // each guardian pays an equal share
	SplitLines = "lines" // each fee category to a named guardian
)

// SetSplit sets how the pupil's next statements are split between its
// guardians, audited. lines maps a fee category ("*" for the others) to a
// guardian of the pupil (SplitLines only; "*" is required). It returns
// ErrInvalid for an unknown mode or a guardian who is not the pupil's.
func (s *Service) SetSplit(ctx context.Context, tenantID, pupilID int64, mode string, lines map[string]int64, actor string) error {
	switch mode {
	case SplitNone, SplitEqual, SplitLines:
	default:
		return invalid("split %q: none, equal or lines", mode)
	}
	gs, err := s.school.GuardiansOfPupil(ctx, tenantID, pupilID)
	if err != nil {
		return err
	}
	mine := map[int64]bool{}
	for _, g := range gs {
		mine[g.ID] = true
	}
	if mode == SplitLines {
		if _, ok := lines["*"]; !ok {
			return invalid("split by line needs a guardian for the other categories (*)")
		}
		for cat, g := range lines {
			if !mine[g] {
				return invalid("split: guardian %d of category %s is not a guardian of pupil %d", g, cat, pupilID)
			}
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO statement_splits (tenant_id, pupil_id, mode, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, pupil_id) DO UPDATE SET mode = $3, updated_by = $4, updated_at = $5`, tenantID, pupilID, mode, actor, s.now()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM statement_split_lines WHERE tenant_id = $1 AND pupil_id = $2`, tenantID, pupilID); err != nil {
			return err
		}
		if mode != SplitLines {
			return nil
		}
		for cat, g := range lines {
			if _, err := tx.Exec(ctx, `INSERT INTO statement_split_lines (tenant_id, pupil_id, category, guardian_id) VALUES ($1, $2, $3, $4)`,
				tenantID, pupilID, strings.TrimSpace(cat), g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return mapErr(err, fmt.Sprint("split of pupil ", pupilID))
	}
	return s.school.Audit(ctx, tenantID, actor, "statements.split", fmt.Sprint("pupil:", pupilID), map[string]any{"mode": mode, "lines": len(lines)})
}

// SetContact sets the contact for questions printed on the school's
// statements (a name, phone or email), audited.
func (s *Service) SetContact(ctx context.Context, tenantID, schoolID int64, contact, actor string) error {
	contact = strings.TrimSpace(contact)
	if contact == "" || len(contact) > 300 {
		return invalid("contact: give a name, phone or email (at most 300 characters)")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO statement_settings (tenant_id, school_id, contact, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, school_id) DO UPDATE SET contact = $3, updated_by = $4, updated_at = $5`, tenantID, schoolID, contact, actor, s.now())
	if err != nil {
		return mapErr(err, fmt.Sprint("contact of school ", schoolID))
	}
	return s.school.Audit(ctx, tenantID, actor, "statements.contact", fmt.Sprint("school:", schoolID), map[string]any{"contact": contact})
}

// Split returns how the pupil's statements are split (SplitNone when
// never set) and, for SplitLines, each category's guardian ("*" the rest).
func (s *Service) Split(ctx context.Context, tenantID, pupilID int64) (string, map[string]int64, error) {
	all, err := s.splits(ctx, tenantID)
	if err != nil {
		return "", nil, err
	}
	r := all[pupilID]
	if r == nil {
		return SplitNone, map[string]int64{}, nil
	}
	return r.mode, r.lines, nil
}

// Contact returns the contact printed on the school's statements ("" when
// none is set: the statements name the school's office).
func (s *Service) Contact(ctx context.Context, tenantID, schoolID int64) (string, error) {
	cs, err := s.contacts(ctx, tenantID)
	if err != nil {
		return "", err
	}
	return cs[schoolID], nil
}
