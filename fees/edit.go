package fees

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/school"
)

const feeColumns = `f.tenant_id, f.id, f.school_id, f.school_year, f.object, f.category, f.kind, f.dates, f.amount, f.status,
	f.created_by, f.created_at, f.updated_at, f.cancel_reason,
	count(l.id) FILTER (WHERE NOT l.credit AND l.status <> 'cancelled'),
	count(l.id) FILTER (WHERE NOT l.credit AND l.status = 'charged'),
	count(l.id) FILTER (WHERE l.status = 'awaiting_opt_in'),
	count(l.id) FILTER (WHERE l.issued_ref IS NOT NULL),
	coalesce(sum(CASE WHEN l.credit THEN -l.amount ELSE l.amount END) FILTER (WHERE l.status = 'charged'), 0)`

const feeFrom = ` FROM fees f LEFT JOIN fee_lines l ON l.tenant_id = f.tenant_id AND l.fee_id = f.id `

func scanFee(row pgx.Row) (Fee, error) {
	var f Fee
	var kind string
	err := row.Scan(&f.TenantID, &f.ID, &f.SchoolID, &f.SchoolYear, &f.Object, &f.Category, &kind, &f.Dates, &f.Amount, &f.Status,
		&f.CreatedBy, &f.CreatedAt, &f.UpdatedAt, &f.CancelReason, &f.Pupils, &f.Charged, &f.AwaitingOptIn, &f.Issued, &f.Total)
	f.Kind = Kind(kind)
	return f, err
}

// Fee returns a fee with its totals, or ErrNotFound.
func (s *Service) Fee(ctx context.Context, tenantID, id int64) (Fee, error) {
	f, err := scanFee(s.pool.QueryRow(ctx, `SELECT `+feeColumns+feeFrom+` WHERE f.tenant_id = $1 AND f.id = $2 GROUP BY f.tenant_id, f.id`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Fee{}, fmt.Errorf("%w: fee %d", ErrNotFound, id)
	}
	if err != nil {
		return Fee{}, fmt.Errorf("fees: fee %d: %w", id, err)
	}
	return f, nil
}

// Fees returns a school's fees of a school year, by first date.
func (s *Service) Fees(ctx context.Context, tenantID, schoolID int64, year string) ([]Fee, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+feeColumns+feeFrom+`
		WHERE f.tenant_id = $1 AND f.school_id = $2 AND f.school_year = $3
		GROUP BY f.tenant_id, f.id ORDER BY f.dates[1], f.id`, tenantID, schoolID, year)
	if err != nil {
		return nil, fmt.Errorf("fees: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Fee, error) { return scanFee(r) })
	if err != nil {
		return nil, fmt.Errorf("fees: list: %w", err)
	}
	return out, nil
}

// LineDetail is a line as the back office shows it: the line, its status,
// and for a facultatif fee the family's latest answer.
type LineDetail struct {
	Line
	Status string
	Note   string
	OptIn  *OptIn // latest answer, nil when none
}

// FeeLines returns every line of a fee (credits included), by pupil.
func (s *Service) FeeLines(ctx context.Context, tenantID, feeID int64) ([]LineDetail, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+lineColumns+`, l.status, l.note
		FROM fee_lines l JOIN fees f ON f.tenant_id = l.tenant_id AND f.id = l.fee_id
		WHERE l.tenant_id = $1 AND l.fee_id = $2 ORDER BY l.pupil_id, l.id`, tenantID, feeID)
	if err != nil {
		return nil, fmt.Errorf("fees: lines of fee %d: %w", feeID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LineDetail, error) {
		var d LineDetail
		var kind string
		var issuedAt *time.Time
		err := r.Scan(&d.ID, &d.FeeID, &d.PupilID, &d.SchoolID, &d.Level, &d.Date, &d.Object, &d.Category, &kind,
			&d.Amount, &d.Credit, &d.CreditsLineID, &d.IssuedRef, &issuedAt, &d.Status, &d.Note)
		d.Kind = Kind(kind)
		if issuedAt != nil {
			d.IssuedAt = *issuedAt
		}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("fees: lines of fee %d: %w", feeID, err)
	}
	answers, err := s.latestOptIns(ctx, s.pool, tenantID, feeID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if a, ok := answers[out[i].PupilID]; ok && !out[i].Credit {
			out[i].OptIn = &a
		}
	}
	return out, nil
}

// lockedLine is a fee line read under its row lock.
type lockedLine struct {
	id, pupilID, receivable int64
	amount                  decimal.Decimal
	status, issued          string
	credit                  bool
}

// lockFee locks an active fee and its non-credit lines; it returns
// ErrNotFound, ErrCancelled, or ErrIssued when a line is on an issued
// statement (the fee can then only be credited).
func lockFee(ctx context.Context, tx pgx.Tx, tenantID, feeID int64) (Fee, []lockedLine, error) {
	var f Fee
	var kind string
	err := tx.QueryRow(ctx, `SELECT tenant_id, id, school_id, school_year, object, category, kind, dates, amount, status FROM fees
		WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, feeID).
		Scan(&f.TenantID, &f.ID, &f.SchoolID, &f.SchoolYear, &f.Object, &f.Category, &kind, &f.Dates, &f.Amount, &f.Status)
	f.Kind = Kind(kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, nil, fmt.Errorf("%w: fee %d", ErrNotFound, feeID)
	}
	if err != nil {
		return f, nil, fmt.Errorf("fees: lock fee %d: %w", feeID, err)
	}
	if f.Status != FeeActive {
		return f, nil, fmt.Errorf("%w: fee %d", ErrCancelled, feeID)
	}
	var lines []lockedLine
	rows, err := tx.Query(ctx, `SELECT id, pupil_id, amount, status, coalesce(issued_ref, ''), credit FROM fee_lines
		WHERE tenant_id = $1 AND fee_id = $2 ORDER BY id FOR UPDATE`, tenantID, feeID)
	if err != nil {
		return f, nil, fmt.Errorf("fees: lock lines of fee %d: %w", feeID, err)
	}
	for rows.Next() {
		var l lockedLine
		if err := rows.Scan(&l.id, &l.pupilID, &l.amount, &l.status, &l.issued, &l.credit); err != nil {
			rows.Close()
			return f, nil, err
		}
		if l.issued != "" || l.credit {
			rows.Close()
			return f, nil, fmt.Errorf("%w: fee %d has lines on statement %s: correct it with a credit line", ErrIssued, feeID, l.issued)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return f, nil, err
	}
	return f, lines, nil
}

// CorrectInput is the corrected fee. Lines whose amount was the fee's
// amount follow the new amount; Amounts sets some pupils' amounts (0
// cancels that pupil's line).
type CorrectInput struct {
	Object  string
	Dates   []time.Time
	Amount  decimal.Decimal
	Amounts map[int64]decimal.Decimal
	Reason  string
}

// Correct changes a fee before any of its lines is on an issued statement:
// object, dates, amount, pupils' amounts. Charged lines whose amount
// changes are counter-booked and booked again. It returns ErrNotFound,
// ErrCancelled, ErrIssued (use Credit), ErrInvalid (including dates moved
// to another school year) and, when a new amount passes a cap, a
// *CapError.
func (s *Service) Correct(ctx context.Context, tenantID, feeID int64, in CorrectInput, actor string) (Fee, error) {
	cur, err := s.Fee(ctx, tenantID, feeID)
	if err != nil {
		return Fee{}, err
	}
	in.Object = strings.TrimSpace(in.Object)
	if err := s.validate(in.Object, cur.Category, cur.Kind, in.Amount, in.Amounts); err != nil {
		return Fee{}, err
	}
	dates, err := normDates(in.Dates)
	if err != nil {
		return Fee{}, err
	}
	if SchoolYearOf(dates[0]) != cur.SchoolYear {
		return Fee{}, invalid("a fee stays in its school year (%s): cancel it and create another", cur.SchoolYear)
	}
	pupils, err := s.school.PupilsOfSchool(ctx, tenantID, cur.SchoolID, true)
	if err != nil {
		return Fee{}, err
	}
	byID := map[int64]school.Pupil{}
	for _, p := range pupils {
		byID[p.ID] = p
	}
	// Rule sets and accounts are read before the transaction (they may
	// write through the pool); the lines read here may only shrink.
	current, err := s.FeeLines(ctx, tenantID, feeID)
	if err != nil {
		return Fee{}, err
	}
	var concerned []school.Pupil
	var ts []target
	for _, l := range current {
		if p, ok := byID[l.PupilID]; ok && !l.Credit {
			concerned = append(concerned, p)
			ts = append(ts, target{pupil: p})
		}
	}
	sets, err := s.ruleSets(ctx, tenantID, cur.SchoolYear, concerned)
	if err != nil {
		return Fee{}, err
	}
	accts, err := s.accounts(ctx, tenantID, cur.Category, ts)
	if err != nil {
		return Fee{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		f, lines, err := lockFee(ctx, tx, tenantID, feeID)
		if err != nil {
			return err
		}
		f.Object, f.Dates = in.Object, dates
		var targets []target
		var changed []lockedLine
		var newAmounts []decimal.Decimal
		var ps []school.Pupil
		for _, l := range lines {
			if l.status == StatusCancelled {
				continue
			}
			a := l.amount
			if l.amount.Equal(cur.Amount) {
				a = in.Amount
			}
			if x, ok := in.Amounts[l.pupilID]; ok {
				a = x
			}
			p := byID[l.pupilID]
			ps = append(ps, p)
			if l.status == StatusCharged && !a.IsZero() {
				targets = append(targets, target{pupil: p, amount: a})
			}
			if !a.Equal(l.amount) {
				changed = append(changed, l)
				newAmounts = append(newAmounts, a)
			}
		}
		if f.Kind == Obligatoire || len(targets) > 0 {
			ids := make([]int64, len(ps))
			for i, p := range ps {
				ids[i] = p.ID
			}
			if err := lockPupils(ctx, tx, ids); err != nil {
				return err
			}
			if err := s.checkCaps(ctx, tx, f, sets, targets, f.ID); err != nil {
				return err
			}
		}
		for i, l := range changed {
			a := newAmounts[i]
			if l.status == StatusCharged {
				if err := s.book(ctx, tx, f, l.id, l.pupilID, accts.receivables[l.pupilID], accts.revenue, l.amount, "fee-cancel", actor); err != nil {
					return err
				}
				if !a.IsZero() {
					if err := s.book(ctx, tx, f, l.id, l.pupilID, accts.receivables[l.pupilID], accts.revenue, a, "fee", actor); err != nil {
						return err
					}
				}
			}
			if a.IsZero() {
				_, err = tx.Exec(ctx, `UPDATE fee_lines SET status = 'cancelled', note = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`, tenantID, l.id, in.Reason, s.now())
			} else {
				_, err = tx.Exec(ctx, `UPDATE fee_lines SET amount = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`, tenantID, l.id, a, s.now())
			}
			if err != nil {
				return fmt.Errorf("fees: correct line %d: %w", l.id, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE fee_lines SET on_date = $3 WHERE tenant_id = $1 AND fee_id = $2`, tenantID, feeID, dates[0]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE fees SET object = $3, dates = $4, amount = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2`,
			tenantID, feeID, in.Object, dates, in.Amount, s.now())
		return err
	})
	if err != nil {
		return Fee{}, err
	}
	return s.Fee(ctx, tenantID, feeID)
}

// Cancel cancels a fee before any of its lines is on an issued statement:
// charged lines are counter-booked, every line and the fee are marked
// cancelled. It returns ErrNotFound, ErrCancelled, ErrIssued (use Credit
// on each line) or ErrInvalid without a reason.
func (s *Service) Cancel(ctx context.Context, tenantID, feeID int64, reason, actor string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return invalid("a reason is required to cancel a fee")
	}
	cur, err := s.Fee(ctx, tenantID, feeID)
	if err != nil {
		return err
	}
	lines, err := s.FeeLines(ctx, tenantID, feeID)
	if err != nil {
		return err
	}
	var ts []target
	for _, l := range lines {
		p, err := s.school.Pupil(ctx, tenantID, l.PupilID)
		if err != nil {
			return err
		}
		ts = append(ts, target{pupil: p})
	}
	accts, err := s.accounts(ctx, tenantID, cur.Category, ts)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		f, locked, err := lockFee(ctx, tx, tenantID, feeID)
		if err != nil {
			return err
		}
		for _, l := range locked {
			if l.status != StatusCharged {
				continue
			}
			if err := s.book(ctx, tx, f, l.id, l.pupilID, accts.receivables[l.pupilID], accts.revenue, l.amount, "fee-cancel", actor); err != nil {
				return err
			}
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `UPDATE fee_lines SET status = 'cancelled', note = $3, updated_at = $4 WHERE tenant_id = $1 AND fee_id = $2`, tenantID, feeID, reason, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE fees SET status = 'cancelled', cancel_reason = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`, tenantID, feeID, reason, now)
		return err
	})
}

// Credit corrects a line that is on an issued statement: it adds a credit
// line of amount (at most what is left of the line after earlier credits),
// dated today, which the next statement shows, and books it back from the
// pupil's receivable. It returns ErrNotFound, ErrInvalid (no reason, bad
// amount, or a line not issued yet: use Correct or Cancel), and returns the
// credit line.
func (s *Service) Credit(ctx context.Context, tenantID, lineID int64, amount decimal.Decimal, reason, actor string) (Line, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Line{}, invalid("a reason is required for a credit line")
	}
	if err := checkMoney("credit", amount, false); err != nil {
		return Line{}, err
	}
	var feeID, pupilID int64
	if err := s.pool.QueryRow(ctx, `SELECT fee_id, pupil_id FROM fee_lines WHERE tenant_id = $1 AND id = $2 AND NOT credit`, tenantID, lineID).
		Scan(&feeID, &pupilID); errors.Is(err, pgx.ErrNoRows) {
		return Line{}, fmt.Errorf("%w: fee line %d", ErrNotFound, lineID)
	} else if err != nil {
		return Line{}, err
	}
	f, err := s.Fee(ctx, tenantID, feeID)
	if err != nil {
		return Line{}, err
	}
	p, err := s.school.Pupil(ctx, tenantID, pupilID)
	if err != nil {
		return Line{}, err
	}
	accts, err := s.accounts(ctx, tenantID, f.Category, []target{{pupil: p}})
	if err != nil {
		return Line{}, err
	}
	var creditID int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var amt decimal.Decimal
		var status, level string
		var issued *string
		if err := tx.QueryRow(ctx, `SELECT amount, status, issued_ref, level FROM fee_lines WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, lineID).
			Scan(&amt, &status, &issued, &level); err != nil {
			return err
		}
		if status != StatusCharged || issued == nil {
			return invalid("line %d is not on an issued statement: correct or cancel the fee instead", lineID)
		}
		var credited decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM fee_lines WHERE tenant_id = $1 AND credits_line_id = $2 AND status = 'charged'`,
			tenantID, lineID).Scan(&credited); err != nil {
			return err
		}
		if left := amt.Sub(credited); amount.GreaterThan(left) {
			return invalid("a credit of %s exceeds what is left of the line (%s)", amount.StringFixed(2), left.StringFixed(2))
		}
		now := s.now()
		if err := tx.QueryRow(ctx, `
			INSERT INTO fee_lines (tenant_id, fee_id, pupil_id, level, on_date, amount, credit, credits_line_id, status, note, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, true, $7, 'charged', $8, $9, $9) RETURNING id`,
			tenantID, feeID, pupilID, level, civil(now), amount, lineID, reason, now).Scan(&creditID); err != nil {
			return fmt.Errorf("fees: credit line %d: %w", lineID, err)
		}
		return s.book(ctx, tx, f, creditID, pupilID, accts.receivables[pupilID], accts.revenue, amount, "fee-credit", actor)
	})
	if err != nil {
		return Line{}, err
	}
	return scanLine(s.pool.QueryRow(ctx, `SELECT `+lineColumns+` FROM fee_lines l JOIN fees f ON f.tenant_id = l.tenant_id AND f.id = l.fee_id
		WHERE l.tenant_id = $1 AND l.id = $2`, tenantID, creditID))
}
