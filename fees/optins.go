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

// Opt-in channels: how the answer reached the school.
const (
	ChannelPortal = "portal" // the guardian answered in the portal
	ChannelStaff  = "staff"  // staff recorded an answer given on paper, by phone…
)

// OptIn is a family's answer to a facultatif fee for one pupil, kept as
// proof: who answered, who recorded it, when and how.
type OptIn struct {
	ID         int64
	FeeID      int64
	PupilID    int64
	Accepted   bool
	Channel    string
	GuardianID int64  // the guardian who answered (0: not known)
	Actor      string // who recorded it: "guardian:5", "staff:12"
	Note       string
	At         time.Time
}

// OptInInput is an answer to record.
type OptInInput struct {
	FeeID      int64
	PupilID    int64
	Accepted   bool
	Channel    string
	GuardianID int64
	Note       string // staff: how the answer was given ("talon papier du 3/10")
}

func scanOptIn(row pgx.Row) (OptIn, error) {
	var o OptIn
	var g *int64
	err := row.Scan(&o.ID, &o.FeeID, &o.PupilID, &o.Accepted, &o.Channel, &g, &o.Actor, &o.Note, &o.At)
	if g != nil {
		o.GuardianID = *g
	}
	return o, err
}

const optInColumns = `id, fee_id, pupil_id, accepted, channel, guardian_id, actor, note, at`

func (s *Service) latestOptIns(ctx context.Context, q Querier, tenantID, feeID int64) (map[int64]OptIn, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (pupil_id) `+optInColumns+` FROM fee_opt_ins
		WHERE tenant_id = $1 AND fee_id = $2 ORDER BY pupil_id, id DESC`, tenantID, feeID)
	if err != nil {
		return nil, fmt.Errorf("fees: opt-ins of fee %d: %w", feeID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OptIn, error) { return scanOptIn(r) })
	if err != nil {
		return nil, fmt.Errorf("fees: opt-ins of fee %d: %w", feeID, err)
	}
	out := make(map[int64]OptIn, len(list))
	for _, o := range list {
		out[o.PupilID] = o
	}
	return out, nil
}

// OptIns returns every answer recorded for a pupil and fee, newest first
// (the proof).
func (s *Service) OptIns(ctx context.Context, tenantID, feeID, pupilID int64) ([]OptIn, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+optInColumns+` FROM fee_opt_ins
		WHERE tenant_id = $1 AND fee_id = $2 AND pupil_id = $3 ORDER BY id DESC`, tenantID, feeID, pupilID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OptIn, error) { return scanOptIn(r) })
}

// RecordOptIn records a family's answer to a facultatif fee for a pupil
// the fee concerns, and charges or uncharges the pupil's line: a yes
// charges it (caps checked, *CapError if it would pass one), a no on a
// charged line counter-books it and puts it back to waiting. The answer is
// kept whatever it changes. The caller checks that a portal guardian is
// linked to the pupil.
//
// It returns ErrNotFound (no such fee, or the fee does not concern the
// pupil), ErrNotFacultatif, ErrCancelled, ErrIssued (a no after the line
// was issued: the school credits it instead) and ErrInvalid.
func (s *Service) RecordOptIn(ctx context.Context, tenantID int64, in OptInInput, actor string) (OptIn, error) {
	if in.Channel != ChannelPortal && in.Channel != ChannelStaff {
		return OptIn{}, invalid("channel %q (portal or staff)", in.Channel)
	}
	if actor == "" {
		return OptIn{}, invalid("an opt-in needs who recorded it")
	}
	if in.Channel == ChannelPortal && in.GuardianID == 0 {
		return OptIn{}, invalid("a portal answer needs the guardian")
	}
	f, err := s.Fee(ctx, tenantID, in.FeeID)
	if err != nil {
		return OptIn{}, err
	}
	if f.Kind != Facultatif {
		return OptIn{}, fmt.Errorf("%w: fee %d", ErrNotFacultatif, f.ID)
	}
	if f.Status != FeeActive {
		return OptIn{}, fmt.Errorf("%w: fee %d", ErrCancelled, f.ID)
	}
	p, err := s.school.Pupil(ctx, tenantID, in.PupilID)
	if errors.Is(err, school.ErrNotFound) {
		return OptIn{}, fmt.Errorf("%w: pupil %d", ErrNotFound, in.PupilID)
	}
	if err != nil {
		return OptIn{}, err
	}
	accts, err := s.accounts(ctx, tenantID, f.Category, []target{{pupil: p}})
	if err != nil {
		return OptIn{}, err
	}
	var sets map[string]RuleSet
	if in.Accepted {
		if sets, err = s.ruleSets(ctx, tenantID, f.SchoolYear, []school.Pupil{p}); err != nil {
			return OptIn{}, err
		}
	}
	var out OptIn
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock order, as everywhere: the fee, then the pupils.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM fees WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, f.ID); err != nil {
			return err
		}
		if err := lockPupils(ctx, tx, []int64{p.ID}); err != nil {
			return err
		}
		var lineID int64
		var status string
		var issued *string
		err := tx.QueryRow(ctx, `SELECT l.id, l.status, l.issued_ref FROM fee_lines l
			WHERE l.tenant_id = $1 AND l.fee_id = $2 AND l.pupil_id = $3 AND NOT l.credit FOR UPDATE`, tenantID, f.ID, p.ID).
			Scan(&lineID, &status, &issued)
		if errors.Is(err, pgx.ErrNoRows) || status == StatusCancelled {
			return fmt.Errorf("%w: fee %d does not concern pupil %d", ErrNotFound, f.ID, p.ID)
		}
		if err != nil {
			return err
		}
		var amount = f.Amount
		if err := tx.QueryRow(ctx, `SELECT amount FROM fee_lines WHERE tenant_id = $1 AND id = $2`, tenantID, lineID).Scan(&amount); err != nil {
			return err
		}
		switch {
		case in.Accepted && status == StatusAwaitingOptIn:
			if err := s.checkCaps(ctx, tx, f, sets, []target{{pupil: p, amount: amount}}, 0); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE fee_lines SET status = 'charged', updated_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, lineID, s.now()); err != nil {
				return err
			}
			if err := s.book(ctx, tx, f, lineID, p.ID, accts.receivables[p.ID], accts.revenue, amount, "fee", actor); err != nil {
				return err
			}
		case !in.Accepted && status == StatusCharged:
			if issued != nil {
				return fmt.Errorf("%w: the line is on statement %s: credit it instead", ErrIssued, *issued)
			}
			if err := s.book(ctx, tx, f, lineID, p.ID, accts.receivables[p.ID], accts.revenue, amount, "fee-cancel", actor); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE fee_lines SET status = 'awaiting_opt_in', updated_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, lineID, s.now()); err != nil {
				return err
			}
		}
		var guardian *int64
		if in.GuardianID != 0 {
			guardian = &in.GuardianID
		}
		out, err = scanOptIn(tx.QueryRow(ctx, `
			INSERT INTO fee_opt_ins (tenant_id, fee_id, pupil_id, accepted, channel, guardian_id, actor, note, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+optInColumns,
			tenantID, f.ID, p.ID, in.Accepted, in.Channel, guardian, actor, strings.TrimSpace(in.Note), s.now()))
		return err
	})
	if err != nil {
		return OptIn{}, err
	}
	return out, nil
}

// Offer is a facultatif fee proposed to a pupil, with the family's latest
// answer, for the portal.
type Offer struct {
	Fee      Fee
	PupilID  int64
	Amount   decimal.Decimal // the pupil's amount
	Status   string          // line status
	Issued   bool            // on an issued statement: the answer can no longer change
	Answer   *OptIn          // nil: not answered yet
	Answered bool
}

// Offers returns the active facultatif fees that concern the pupils, with
// their latest answers, newest fee first.
func (s *Service) Offers(ctx context.Context, tenantID int64, pupilIDs []int64) ([]Offer, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT l.fee_id, l.pupil_id, l.amount, l.status, l.issued_ref IS NOT NULL
		FROM fee_lines l JOIN fees f ON f.tenant_id = l.tenant_id AND f.id = l.fee_id
		WHERE l.tenant_id = $1 AND l.pupil_id = ANY($2) AND NOT l.credit AND l.status <> 'cancelled'
		  AND f.kind = 'facultatif' AND f.status = 'active'
		ORDER BY f.dates[1] DESC, f.id DESC, l.pupil_id`, tenantID, pupilIDs)
	if err != nil {
		return nil, fmt.Errorf("fees: offers: %w", err)
	}
	type row struct {
		Fee, Pupil int64
		Amount     decimal.Decimal
		Status     string
		Issued     bool
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("fees: offers: %w", err)
	}
	var out []Offer
	fees := map[int64]Fee{}
	answers := map[int64]map[int64]OptIn{}
	for _, r := range list {
		f, ok := fees[r.Fee]
		if !ok {
			if f, err = s.Fee(ctx, tenantID, r.Fee); err != nil {
				return nil, err
			}
			fees[r.Fee] = f
			if answers[r.Fee], err = s.latestOptIns(ctx, s.pool, tenantID, r.Fee); err != nil {
				return nil, err
			}
		}
		o := Offer{Fee: f, PupilID: r.Pupil, Amount: r.Amount, Status: r.Status, Issued: r.Issued}
		if a, ok := answers[r.Fee][r.Pupil]; ok {
			o.Answer, o.Answered = &a, true
		}
		out = append(out, o)
	}
	return out, nil
}
