package school

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// A pupil leaves on a date: the first day they are no longer at school.
// Leave records it; a date ahead keeps the pupil active until that day,
// when the scheduled job (ApplyLeavings, run by RetentionPass) makes them
// inactive. From the leaving day the pupil is inactive (a tap is refused)
// and every badge they held is returned, so that it can be given to
// another child. What is left on the wallet stays there until the school
// refunds it (payments' refunds, to an IBAN) or moves it to a sibling
// (TransferToSibling); the books keep every amount.

// KindLeaverTransfer is the ledger kind of a leaving pupil's balance moved
// to a sibling's wallet (the journal of sibling transfers).
const KindLeaverTransfer = "sibling-transfer"

// BookingCanceller cancels, in tx, the pupil's bookings of the days from
// from on, as a school does when a pupil leaves, by actor (package booking's
// Manager.CancelLeavingTx: school cannot import booking). An error rolls
// the leaving back.
type BookingCanceller func(ctx context.Context, tx pgx.Tx, tenantID, pupilID int64, from time.Time, actor string) error

// WithBookingCanceller makes Leave cancel the pupil's bookings from the
// leaving day with c, in the leaving's transaction.
func WithBookingCanceller(c BookingCanceller) Option {
	return func(s *Store) { s.cancelBookings = c }
}

// ErrNothingToMove: the wallet holds nothing available to move.
var ErrNothingToMove = errors.New("school: nothing to move")

// schoolDay is the civil date (UTC midnight) of instant at in the zone.
func schoolDay(at time.Time, loc *time.Location) time.Time {
	y, m, d := at.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Leave records that the pupil leaves on day (a date: the first day they
// are no longer at school) and audits it ("pupil.leave"). With a booking
// canceller (WithBookingCanceller), the pupil's bookings from day on, made
// before the date was set, are cancelled in the same transaction. When day
// is the school's today or before, the pupil is made inactive and its
// badges returned at once; otherwise ApplyLeavings does it on that day.
// Leaving again moves the date. It returns ErrNotFound for an unknown
// pupil and ErrInvalid for a zero date or a pupil already pseudonymised.
func (s *Store) Leave(ctx context.Context, tenantID, pupilID int64, day time.Time, actor string) (Pupil, error) {
	if day.IsZero() {
		return Pupil{}, invalid("leaving date missing")
	}
	on := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	now := s.now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var zone string
		var gone bool
		// FOR NO KEY UPDATE: a tap or a booking holding the pupil's
		// bookings still checks its foreign key to the pupil (key share)
		// while the bookings canceller waits for them.
		err := tx.QueryRow(ctx, `SELECT sc.timezone, p.pseudonymised_at IS NOT NULL FROM pupils p
			JOIN schools sc ON sc.tenant_id = p.tenant_id AND sc.id = p.school_id
			WHERE p.tenant_id = $1 AND p.id = $2 FOR NO KEY UPDATE OF p`, tenantID, pupilID).Scan(&zone, &gone)
		if err != nil {
			return mapErr(err, fmt.Sprint("pupil ", pupilID))
		}
		if gone {
			return invalid("pupil %d was pseudonymised", pupilID)
		}
		today := schoolDay(now, School{Timezone: zone}.Location())
		if _, err := tx.Exec(ctx, `UPDATE pupils SET left_at = $3::date, active = active AND $3::date > $4::date WHERE tenant_id = $1 AND id = $2`,
			tenantID, pupilID, on, today); err != nil {
			return mapErr(err, "pupil leaving")
		}
		if err := audit(ctx, tx, tenantID, actor, "pupil.leave", fmt.Sprint("pupil:", pupilID),
			map[string]any{"on": on.Format(time.DateOnly)}, now); err != nil {
			return err
		}
		if s.cancelBookings != nil {
			if err := s.cancelBookings(ctx, tx, tenantID, pupilID, on, actor); err != nil {
				return fmt.Errorf("cancel the bookings of pupil %d from %s: %w", pupilID, on.Format(time.DateOnly), err)
			}
		}
		if on.After(today) {
			return nil
		}
		return returnBadges(ctx, tx, tenantID, pupilID, actor, now)
	})
	if err != nil {
		return Pupil{}, err
	}
	return s.Pupil(ctx, tenantID, pupilID)
}

// returnBadges takes every badge back from a pupil who left (status
// returned), with history and audit, in tx.
func returnBadges(ctx context.Context, tx pgx.Tx, tenantID, pupilID int64, actor string, now time.Time) error {
	if err := badgeLock(ctx, tx, tenantID); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `UPDATE badges SET pupil_id = NULL, status = 'returned', updated_at = $3, change_seq = nextval('badge_change_seq')
		WHERE tenant_id = $1 AND pupil_id = $2 RETURNING id`, tenantID, pupilID, now)
	if err != nil {
		return mapErr(err, "return badges")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return mapErr(err, "return badges")
	}
	for _, id := range ids {
		if err := history(ctx, tx, tenantID, id, 0, BadgeReturned, actor, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "badge.unassign", fmt.Sprint("badge:", id),
			map[string]any{"pupil": 0, "status": BadgeReturned, "left": pupilID}, now); err != nil {
			return err
		}
	}
	return nil
}

// ApplyLeavings makes inactive, on their leaving day in their school's
// zone, the pupils whose leaving date was set ahead, and returns their
// badges ("system:leaving"). It returns how many pupils left.
func (s *Store) ApplyLeavings(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE pupils p SET active = false FROM schools sc
			WHERE sc.tenant_id = p.tenant_id AND sc.id = p.school_id AND p.active AND p.left_at IS NOT NULL
			  AND p.left_at <= ($1::timestamptz AT TIME ZONE sc.timezone)::date
			RETURNING p.tenant_id, p.id`, now)
		if err != nil {
			return mapErr(err, "leavings")
		}
		type key struct{ tenant, pupil int64 }
		left, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
			var k key
			err := r.Scan(&k.tenant, &k.pupil)
			return k, err
		})
		if err != nil {
			return mapErr(err, "leavings")
		}
		for _, k := range left {
			if err := audit(ctx, tx, k.tenant, "system:leaving", "pupil.left", fmt.Sprint("pupil:", k.pupil), nil, now); err != nil {
				return err
			}
			if err := returnBadges(ctx, tx, k.tenant, k.pupil, "system:leaving", now); err != nil {
				return err
			}
		}
		n = len(left)
		return nil
	})
	return n, err
}

// Siblings returns the other pupils (active first) who share a guardian
// with the pupil, by first name.
func (s *Store) Siblings(ctx context.Context, tenantID, pupilID int64) ([]Pupil, error) {
	return collectPupils(s.pool.Query(ctx, `SELECT `+pupilCols+pupilFrom+`
		WHERE p.tenant_id = $1 AND p.id <> $2 AND p.pseudonymised_at IS NULL AND p.id IN (
			SELECT b.pupil_id FROM guardian_pupils a JOIN guardian_pupils b ON b.tenant_id = a.tenant_id AND b.guardian_id = a.guardian_id
			WHERE a.tenant_id = $1 AND a.pupil_id = $2)
		ORDER BY p.active DESC, lower(p.first_name), p.id`, tenantID, pupilID))
}

// TransferToSibling moves what is available on the wallet of a pupil who
// left (or is leaving) to a sibling's wallet (a pupil sharing a guardian),
// as one ledger transfer of kind KindLeaverTransfer, and audits it
// ("pupil.balance_to_sibling"). It returns the amount moved;
// ErrNothingToMove when nothing is available; ErrInvalid when the pupil has
// no leaving date or to is not a sibling; ErrNotFound for an unknown
// pupil; ledger errors (ledger.ErrPeriodClosed …) as they come.
func (s *Store) TransferToSibling(ctx context.Context, tenantID, fromID, toID int64, actor string) (decimal.Decimal, error) {
	from, err := s.Pupil(ctx, tenantID, fromID)
	if err != nil {
		return decimal.Zero, err
	}
	to, err := s.Pupil(ctx, tenantID, toID)
	if err != nil {
		return decimal.Zero, err
	}
	if from.LeftAt.IsZero() {
		return decimal.Zero, invalid("%s has not left: record the leaving first", from.FirstName)
	}
	sibs, err := s.Siblings(ctx, tenantID, fromID)
	if err != nil {
		return decimal.Zero, err
	}
	ok := false
	for _, p := range sibs {
		ok = ok || p.ID == toID
	}
	if !ok || from.WalletAccountID == 0 || to.WalletAccountID == 0 {
		return decimal.Zero, invalid("%s is not a sibling of %s", to.FirstName, from.FirstName)
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return decimal.Zero, fmt.Errorf("leaver transfer key: %w", err)
	}
	now := s.now()
	var amount decimal.Decimal
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		bal, err := s.ledger.BalanceTx(ctx, tx, tenantID, from.WalletAccountID)
		if err != nil {
			return err
		}
		if !bal.Available.IsPositive() {
			return fmt.Errorf("%w: the wallet of pupil %d holds %s", ErrNothingToMove, fromID, bal.Available.StringFixed(2))
		}
		amount = bal.Available
		// A wallet is a liability: a debit lowers what we owe this child.
		if _, err := s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{TenantID: tenantID,
			IdempotencyKey: fmt.Sprintf("leaver:%d:%d:%s", fromID, toID, hex.EncodeToString(nonce[:])), Kind: KindLeaverTransfer, Actor: actor,
			Memo:     "Solde d'un élève sorti vers son frère ou sa sœur",
			Metadata: map[string]string{"from_pupil": fmt.Sprint(fromID), "to_pupil": fmt.Sprint(toID)},
			Postings: []ledger.Posting{{AccountID: from.WalletAccountID, Amount: amount}, {AccountID: to.WalletAccountID, Amount: amount.Neg()}},
		}); err != nil {
			return fmt.Errorf("leaver transfer %s: %w", amount.StringFixed(2), err)
		}
		return audit(ctx, tx, tenantID, actor, "pupil.balance_to_sibling", fmt.Sprint("pupil:", fromID),
			map[string]any{"to": toID, "amount": amount.StringFixed(2)}, now)
	})
	if err != nil {
		return decimal.Zero, err
	}
	return amount, nil
}
