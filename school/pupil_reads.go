package school

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reads for the packages that hold no Store (booking, payments; issue 13,
// "each table has one owner"): they pass their pool, or their transaction
// when they hold one, so that a function holding a transaction never asks
// the pool for a second connection. Each read of many pupils is one query.

// Querier is a pool or the caller's transaction (pgx.Tx).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadSchool is Store.School on q: the tenant's school, or ErrNotFound.
func ReadSchool(ctx context.Context, q Querier, tenantID, id int64) (School, error) {
	sc, err := scanSchool(q.QueryRow(ctx, `SELECT `+schoolCols+` FROM schools WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return sc, mapErr(err, fmt.Sprint("school ", id))
}

// QueueSchoolAndLeaving queues into b, as one statement, the read of the
// tenant's school and of the leaving day of one of the tenant's pupils
// (zero when none is set, or no such pupil): into is called with them when
// the batch is read, not at all when there is no such school.
func QueueSchoolAndLeaving(b *pgx.Batch, tenantID, schoolID, pupilID int64, into func(sc School, leaves time.Time)) {
	b.Queue(`SELECT `+schoolCols+`, (SELECT p.left_at FROM pupils p WHERE p.tenant_id = $1 AND p.id = $3)
		FROM schools WHERE tenant_id = $1 AND id = $2`, tenantID, schoolID, pupilID).QueryRow(func(row pgx.Row) error {
		var sc School
		var settings []byte
		var leaves *time.Time
		err := row.Scan(append(sc.dest(&settings), &leaves)...)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("school %d: %w", schoolID, err)
		}
		sc.Policy, sc.PolicyErr = decodePolicy(settings)
		if leaves == nil {
			into(sc, time.Time{})
		} else {
			into(sc, *leaves)
		}
		return nil
	})
}

// SchoolIDs returns the ids of the tenant's schools, in id order.
func SchoolIDs(ctx context.Context, q Querier, tenantID int64) ([]int64, error) {
	rows, _ := q.Query(ctx, `SELECT id FROM schools WHERE tenant_id = $1 ORDER BY id`, tenantID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("schools of tenant %d: %w", tenantID, err)
	}
	return ids, nil
}

// ReadPupil is Store.Pupil on q: the tenant's pupil, or ErrNotFound.
func ReadPupil(ctx context.Context, q Querier, tenantID, id int64) (Pupil, error) {
	p, err := scanPupil(q.QueryRow(ctx, `SELECT `+pupilCols+pupilFrom+` WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, id))
	return p, mapErr(err, fmt.Sprint("pupil ", id))
}

// ReadPupilAndSchool returns the tenant's pupil and its school in one
// query, or ErrNotFound.
func ReadPupilAndSchool(ctx context.Context, q Querier, tenantID, pupilID int64) (Pupil, School, error) {
	var sc School
	var settings []byte
	p, err := scanPupil(rowPlus{q.QueryRow(ctx, `SELECT `+pupilCols+`, `+qualifiedSchoolCols+pupilFrom+`
		JOIN schools s ON s.tenant_id = p.tenant_id AND s.id = p.school_id
		WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, pupilID), sc.dest(&settings)})
	if err != nil {
		return Pupil{}, School{}, mapErr(err, fmt.Sprint("pupil ", pupilID))
	}
	sc.Policy, sc.PolicyErr = decodePolicy(settings)
	return p, sc, nil
}

// qualifiedSchoolCols is schoolCols on a table named s.
var qualifiedSchoolCols = "s." + strings.ReplaceAll(schoolCols, ", ", ", s.")

// rowPlus is a row whose Scan fills the caller's destinations, then more
// (the columns that follow them).
type rowPlus struct {
	row  pgx.Row
	more []any
}

func (r rowPlus) Scan(dest ...any) error { return r.row.Scan(append(dest, r.more...)...) }

// ReadPupils returns the tenant's pupils among ids, by id; unknown ids are
// absent.
func ReadPupils(ctx context.Context, q Querier, tenantID int64, ids []int64) (map[int64]Pupil, error) {
	ps, err := collectPupils(q.Query(ctx, `SELECT `+pupilCols+pupilFrom+` WHERE p.tenant_id = $1 AND p.id = ANY($2)`, tenantID, ids))
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Pupil, len(ps))
	for _, p := range ps {
		out[p.ID] = p
	}
	return out, nil
}

// PupilsOfSchoolIn is Store.PupilsOfSchool on q.
func PupilsOfSchoolIn(ctx context.Context, q Querier, tenantID, schoolID int64, all bool) ([]Pupil, error) {
	return collectPupils(q.Query(ctx, `SELECT `+pupilCols+pupilFrom+`
		WHERE p.tenant_id = $1 AND p.school_id = $2 AND (p.active OR $3)
		ORDER BY c.code NULLS LAST, lower(p.last_name), lower(p.first_name), p.id`, tenantID, schoolID, all))
}

// GuardianEmail returns the e-mail of the guardian linked to the pupil
// ("" when the guardian has none), or ErrNotFound when the guardian is not
// linked to the pupil.
func GuardianEmail(ctx context.Context, q Querier, tenantID, guardianID, pupilID int64) (string, error) {
	var email string
	err := q.QueryRow(ctx, `SELECT coalesce(g.email, '') FROM guardian_pupils gp
		JOIN guardians g ON g.tenant_id = gp.tenant_id AND g.id = gp.guardian_id
		WHERE gp.tenant_id = $1 AND gp.guardian_id = $2 AND gp.pupil_id = $3`, tenantID, guardianID, pupilID).Scan(&email)
	return email, mapErr(err, fmt.Sprintf("guardian %d of pupil %d", guardianID, pupilID))
}
