package terminal

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
	"tartine/school"
)

// pupilRow is a badge and its pupil, read with the unit's other reads
// (school.QueueTapSubjects). Available is re-read under the pupil lock
// before a charge.
type pupilRow = school.TapPupil

// manualUID is the uid of a manual entry: "PUPIL:<id>".
var manualUID = regexp.MustCompile(`^PUPIL:([0-9]{1,18})$`)

// printedNumber matches the 10 decimal digits printed on EM4100 fobs, which
// Wiegand converters and some desktop readers send instead of the hex id.
var printedNumber = regexp.MustCompile(`^[0-9]{10}$`)

// lockedReads is what a canteen or daycare tap reads after its unit took
// its pupil's lock, in the same round trip (unitReads).
type lockedReads struct {
	locked     int64 // pupil whose lock was taken (0: none)
	walletOf   int64 // pupil whose wallet was read (0: none)
	available  decimal.Decimal
	floor      decimal.Decimal
	duplicates int
	bookings   []booking.Booking
	session    *Session
}

// errBadgeMoved is returned by decide when the pupil locks and the badge
// lookup did not see the same pupil (the badge was reassigned between the
// two statements): the tap is retried.
var errBadgeMoved = fmt.Errorf("%w: badge reassigned during the tap", ledger.ErrTxAborted)

// pupilLockKey is the advisory lock key of a pupil (class 20): its id, which
// is unique across tenants, modulo 2^31−1.
func pupilLockKey(pupilID int64) int32 {
	return int32(pupilID % 2147483647)
}

// pupilLockKeySQL is pupilLockKey of the pupil id in column, in SQL (the
// statements that read a pupil's id and lock it at once).
func pupilLockKeySQL(column string) string {
	return "(" + column + " % 2147483647)::int4"
}

// lockPupil serialises the taps of one pupil until the transaction ends, so
// that the duplicate window and the daycare toggle see each other.
func lockPupil(ctx context.Context, tx pgx.Tx, pupilID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(20, $1)`, pupilLockKey(pupilID))
	if err != nil {
		return fmt.Errorf("lock pupil %d: %w", pupilID, err)
	}
	return nil
}

// displayFor builds the public display of a pupil: first name and initial,
// class, diet and allergy flags. Never money.
func displayFor(p *pupilRow) *Display {
	d := &Display{Name: school.DisplayName(p.FirstName, p.LastName), Class: p.Class, Flags: []string{}}
	for _, a := range p.Allergens {
		d.Flags = append(d.Flags, "allergy:"+a)
	}
	// An allergy outside the EU 14 lives in the notes only (kiwi, « épipen
	// dans le cartable »): flag it too, as the badge list does
	// (school.BadgeInfo.Flags), so that no allergy is silent.
	if strings.TrimSpace(p.AllergyNotes) != "" {
		d.Flags = append(d.Flags, "allergy:notes")
	}
	for _, x := range p.Diet {
		d.Flags = append(d.Flags, "diet:"+x)
	}
	return d
}

// locate resolves the tap's station and school (both cached) and the
// school-local day. An unknown station leaves st.station zero.
func (s *Service) locate(ctx context.Context, st *tapState) error {
	station, err := s.station(ctx, st.tenantID, st.tap.Station)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st.school, err = s.schoolOf(ctx, st.tenantID, station.SchoolID)
	if err != nil {
		return err
	}
	st.station = station
	y, m, d := st.tap.ReadAt.In(st.school.Loc).Date()
	st.day = time.Date(y, m, d, 0, 0, 0, 0, st.school.Loc)
	return nil
}

// decide fills st.res (and st.ev) for a well-formed, first-seen tap at a
// known station; st.pupil is the badge's pupil, nil for an unknown badge.
func (s *Service) decide(ctx context.Context, tx pgx.Tx, st *tapState) error {
	t, station := st.tap, st.station
	st.ev.Station = station.Code
	st.ev.UID = t.UID
	p := st.pupil
	if p == nil {
		st.res = refused(t.ID, ReasonUnknownBadge)
		return nil
	}
	if p.PupilID != 0 && p.SchoolID != station.SchoolID {
		// A pupil of another school is a stranger here: no charge at this
		// school's tariff, no name or health flags on this school's screen.
		st.res = refused(t.ID, ReasonOtherSchool)
		return nil
	}
	st.ev.fill(p)
	disp := displayFor(p)
	switch {
	case p.BadgeStatus != "active":
		st.res = refused(t.ID, ReasonBlockedBadge)
		st.res.Display = disp
		return nil
	case !p.Active:
		st.res = refused(t.ID, ReasonInactivePupil)
		st.res.Display = disp
		return nil
	}
	if station.Kind == KindKiosk || station.Kind == KindEnrolment {
		st.res = Result{ID: t.ID, Verdict: VerdictAccepted, Feedback: FeedbackOK, Display: disp, Action: ActionLookup}
		return nil
	}
	open, err := s.isOpen(ctx, st.tenantID, station.SchoolID, st.day)
	if err != nil {
		return err
	}
	if !open {
		st.res = refused(t.ID, ReasonClosedDay)
		st.res.Display = disp
		return nil
	}
	if station.Kind != KindCanteen && station.Kind != KindDaycare {
		st.res = refused(t.ID, ReasonUnknownStation)
		return nil
	}
	lr := st.locked
	if lr.locked != p.PupilID || (p.Wallet != 0 && lr.walletOf != p.PupilID) {
		return errBadgeMoved
	}
	if p.Wallet != 0 {
		p.Available, p.Floor = lr.available, lr.floor
	}
	st.duplicates, st.bookings, st.session = lr.duplicates, lr.bookings, lr.session
	if st.duplicates > 0 {
		st.res = Result{ID: t.ID, Verdict: VerdictDuplicate, Feedback: FeedbackWarn, Display: disp, Charged: "0.00"}
		return nil
	}
	switch station.Kind {
	case KindCanteen:
		err = s.meal(ctx, tx, st)
	case KindDaycare:
		err = s.daycare(ctx, tx, st)
	}
	if err != nil {
		return err
	}
	if st.res.Display == nil {
		st.res.Display = disp
	}
	return nil
}

// chargeRequest is a purchase by a pupil's wallet.
type chargeRequest struct {
	key      string
	kind     string
	revenue  string // account code credited
	amount   decimal.Decimal
	memo     string
	metadata map[string]string
}

// errHardFloor is returned by chargeWallet when the school's hard floor
// forbids the charge.
var errHardFloor = errors.New("wallet floor reached")

// charge is what chargeWallet queued.
type charge struct {
	floorHit bool            // the wallet could not take it all
	owed     decimal.Decimal // the part charged to the receivable
}

// chargeWallet charges a purchase to the pupil's wallet: the transfer is
// queued on the tap's unit, written with its other writes. When the wallet
// would go below its floor (−grace) the never-refuse-food default applies:
// the part the wallet cannot take is charged to the pupil's receivable (the
// family owes it; staff see a discreet flag) — unless hardFloor, then it
// returns errHardFloor and nothing is queued.
//
// The split is computed from the wallet as read under the pupil lock
// (p.Available, p.Floor); p.Available is lowered by what the wallet paid.
// When the wallet moved between that read and the write (a hold placed by
// a booking meanwhile), the database refuses the unit's transfers, which
// wrote nothing, and the tap is tried again from a fresh read.
func (s *Service) chargeWallet(ctx context.Context, tx pgx.Tx, st *tapState, c chargeRequest, hardFloor bool) (charge, error) {
	p := st.pupil
	out := charge{owed: decimal.Zero}
	if p.Wallet == 0 {
		return out, errNoWallet
	}
	if st.hints != nil && st.hints.periodClosed {
		return out, fmt.Errorf("charge %s: %w", c.key, ledger.ErrPeriodClosed)
	}
	rev, err := s.accountID(ctx, tx, st.tenantID, c.revenue)
	if err != nil {
		return out, err
	}
	req := ledger.TransferRequest{
		TenantID: st.tenantID, IdempotencyKey: c.key, Kind: c.kind, OccurredAt: st.tap.ReadAt, Actor: st.actor,
		Memo: c.memo, Metadata: c.metadata,
		Postings: []ledger.Posting{{AccountID: p.Wallet, Amount: c.amount}, {AccountID: rev, Amount: c.amount.Neg()}},
	}
	fromWallet := c.amount
	if p.Available.Sub(c.amount).LessThan(p.Floor) {
		out.floorHit = true
		if hardFloor {
			return out, errHardFloor
		}
		if p.Receivable == 0 {
			return out, errNoWallet
		}
		// Split: the wallet down to its floor, the rest owed on the
		// receivable.
		fromWallet = decimal.Max(p.Available.Sub(p.Floor), decimal.Zero)
		out.owed = c.amount.Sub(fromWallet)
		req.Postings = []ledger.Posting{{AccountID: p.Receivable, Amount: out.owed}, {AccountID: rev, Amount: c.amount.Neg()}}
		if fromWallet.IsPositive() {
			req.Postings = append(req.Postings, ledger.Posting{AccountID: p.Wallet, Amount: fromWallet})
		}
		req.Metadata = withMeta(c.metadata, "owed", out.owed.StringFixed(2))
	}
	st.u.addTransfer(req)
	p.Available = p.Available.Sub(fromWallet)
	st.walletCharged = true
	return out, nil
}

var errNoWallet = errors.New("pupil has no wallet account")

func withMeta(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// ledgerReason maps a business error of the ledger to a refusal reason, or
// "" for an error that is not the tap's fault or that requires rolling the
// transaction back (ledger.ErrTxAborted: the tap is retried).
func ledgerReason(err error) string {
	switch {
	case errors.Is(err, ledger.ErrTxAborted):
		return ""
	case errors.Is(err, ledger.ErrPeriodClosed):
		return "period_closed"
	case errors.Is(err, errNoWallet):
		return ReasonNoWallet
	}
	return ""
}

// lowBalance reports whether the staff screen shows the discreet mark.
func lowBalance(st *tapState, after decimal.Decimal) bool {
	return after.LessThan(st.school.Policy.LowBalanceThreshold)
}

func tapMeta(st *tapState) map[string]string {
	m := map[string]string{"tap": st.tap.ID, "station": st.station.Code, "pupil": strconv.FormatInt(st.pupil.PupilID, 10)}
	if st.tap.Offline {
		m["offline"] = "true"
	}
	return m
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
