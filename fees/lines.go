package fees

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"tartine/internal/tz"
)

// Querier is what the line readers need: a pgx.Tx, a *pgxpool.Pool or a
// *pgx.Conn.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Kind says whether a fee is imposed (obligatoire, FEES.md code A) or
// proposed (facultatif, code B; charged only after an opt-in).
type Kind string

// Kinds of fee.
const (
	Obligatoire Kind = "obligatoire"
	Facultatif  Kind = "facultatif"
)

// Valid reports whether k is one of the two kinds.
func (k Kind) Valid() bool { return k == Obligatoire || k == Facultatif }

// Line is one charge (or credit) of a fee to one pupil, as a statement
// shows it.
type Line struct {
	ID       int64
	FeeID    int64
	PupilID  int64
	SchoolID int64
	Level    string    // the pupil's level when charged ("M2")
	Date     time.Time // civil date (UTC midnight)
	Object   string    // the fee's object, free text ("Piscine — 1er trimestre")
	Category string    // category code ("piscine"); label via i18n "fees.category.<code>"
	Kind     Kind
	// Amount is positive. A credit line (Credit) reduces what is owed by
	// Amount: subtract it.
	Amount decimal.Decimal
	Credit bool
	// CreditsLineID is the line a credit line corrects (0 otherwise).
	CreditsLineID int64
	// IssuedRef is the statement the line is on ("" when on none yet).
	IssuedRef string
	IssuedAt  time.Time // zero when not issued
}

// Signed returns the line's effect on what the family owes: Amount, or
// −Amount for a credit line.
func (l Line) Signed() decimal.Decimal {
	if l.Credit {
		return l.Amount.Neg()
	}
	return l.Amount
}

const lineColumns = `l.id, l.fee_id, l.pupil_id, f.school_id, l.level, l.on_date, f.object, f.category, f.kind,
	l.amount, l.credit, coalesce(l.credits_line_id, 0), coalesce(l.issued_ref, ''), l.issued_at`

func scanLine(row pgx.Row) (Line, error) {
	var l Line
	var kind string
	var issuedAt *time.Time
	err := row.Scan(&l.ID, &l.FeeID, &l.PupilID, &l.SchoolID, &l.Level, &l.Date, &l.Object, &l.Category, &kind,
		&l.Amount, &l.Credit, &l.CreditsLineID, &l.IssuedRef, &issuedAt)
	l.Kind = Kind(kind)
	if issuedAt != nil {
		l.IssuedAt = *issuedAt
	}
	return l, err
}

func collectLines(rows pgx.Rows, err error) ([]Line, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) { return scanLine(r) })
}

// civil returns t's calendar date in Brussels as UTC midnight. A date
// given as midnight UTC or midnight in Brussels keeps its day; an instant
// (now, or now plus a day) gets the schools' day, not UTC's, which differs
// between midnight and 01:00 or 02:00 in Brussels.
func civil(t time.Time) time.Time {
	y, m, d := t.In(tz.Brussels).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// LinesForPeriod returns the charged lines (credit lines included) of the
// pupils dated from..to, both civil dates inclusive, issued or not,
// ordered by pupil, date and id. Cancelled lines and lines awaiting an
// opt-in are never returned. q may be the statement's transaction.
func LinesForPeriod(ctx context.Context, q Querier, tenantID int64, pupilIDs []int64, from, to time.Time) ([]Line, error) {
	lines, err := collectLines(q.Query(ctx, `
		SELECT `+lineColumns+`
		FROM fee_lines l JOIN fees f ON f.tenant_id = l.tenant_id AND f.id = l.fee_id
		WHERE l.tenant_id = $1 AND l.pupil_id = ANY($2) AND l.status = 'charged'
		  AND l.on_date BETWEEN $3 AND $4
		ORDER BY l.pupil_id, l.on_date, l.id`, tenantID, pupilIDs, civil(from), civil(to)))
	if err != nil {
		return nil, fmt.Errorf("fees: lines for period: %w", err)
	}
	return lines, nil
}

// UnissuedBefore returns the charged lines (credits included) of the
// pupils dated before day that are on no issued statement, ordered like
// LinesForPeriod. pupilIDs nil means every pupil of the tenant.
func UnissuedBefore(ctx context.Context, q Querier, tenantID int64, pupilIDs []int64, day time.Time) ([]Line, error) {
	lines, err := collectLines(q.Query(ctx, `
		SELECT `+lineColumns+`
		FROM fee_lines l JOIN fees f ON f.tenant_id = l.tenant_id AND f.id = l.fee_id
		WHERE l.tenant_id = $1 AND ($2::bigint[] IS NULL OR l.pupil_id = ANY($2)) AND l.status = 'charged'
		  AND l.issued_ref IS NULL AND l.on_date < $3
		ORDER BY l.pupil_id, l.on_date, l.id`, tenantID, pupilIDs, civil(day)))
	if err != nil {
		return nil, fmt.Errorf("fees: unissued lines: %w", err)
	}
	return lines, nil
}

// MarkIssued records that the lines are on the issued statement ref, in
// the caller's transaction q (the one that records the statement). From
// then on the lines cannot be corrected or cancelled, only credited.
//
// It returns ErrNotFound (nothing written is left to undo: roll back) when
// a line does not exist in the tenant or is not charged, and ErrIssued when
// a line is already on another statement. Marking a line again with the
// same ref changes nothing. After an error the caller rolls q back.
func MarkIssued(ctx context.Context, q Querier, tenantID int64, lineIDs []int64, ref string) error {
	if ref == "" {
		return fmt.Errorf("%w: a statement reference is required", ErrInvalid)
	}
	if len(lineIDs) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `
		SELECT id, status, coalesce(issued_ref, '') FROM fee_lines
		WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`, tenantID, lineIDs)
	if err != nil {
		return fmt.Errorf("fees: mark issued: %w", err)
	}
	type state struct {
		ID             int64
		Status, Issued string
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[state])
	if err != nil {
		return fmt.Errorf("fees: mark issued: %w", err)
	}
	seen := make(map[int64]state, len(found))
	for _, s := range found {
		seen[s.ID] = s
	}
	for _, id := range lineIDs {
		s, ok := seen[id]
		switch {
		case !ok:
			return fmt.Errorf("%w: fee line %d", ErrNotFound, id)
		case s.Status != "charged":
			return fmt.Errorf("%w: fee line %d is %s, not charged", ErrNotFound, id, s.Status)
		case s.Issued != "" && s.Issued != ref:
			return fmt.Errorf("%w: fee line %d is on statement %s", ErrIssued, id, s.Issued)
		}
	}
	if _, err := q.Exec(ctx, `
		UPDATE fee_lines SET issued_ref = $3, issued_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = ANY($2) AND issued_ref IS NULL`, tenantID, lineIDs, ref); err != nil {
		return fmt.Errorf("fees: mark issued: %w", err)
	}
	return nil
}
