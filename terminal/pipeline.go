package terminal

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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

// pupilRow is a badge and its pupil, read in one query on the hot path.
type pupilRow struct {
	BadgeID      int64 // 0 for manual entries
	BadgeStatus  string
	PupilID      int64 // 0: badge not assigned
	SchoolID     int64
	FirstName    string
	LastName     string
	Class        string
	Level        string
	Diet         []string
	Allergens    []string
	AllergyNotes string
	HasPhoto     bool
	FreeMeals    bool
	Active       bool
	Wallet       int64
	Receivable   int64
	Available    decimal.Decimal // wallet balance − pending (re-read under the pupil lock before a charge)
	Floor        decimal.Decimal // wallet floor (0 or −grace)
}

const pupilColumns = `p.id, p.school_id, p.first_name, p.last_name, coalesce(c.code, ''), p.level, p.diet, p.allergens, p.allergy_notes,
	(p.photo IS NOT NULL AND p.photo_consent), p.free_meals, p.active, coalesce(p.wallet_account_id, 0), coalesce(p.receivable_account_id, 0),
	coalesce(a.balance - a.pending, 0), coalesce(a.floor, 0)`

const pupilJoins = `LEFT JOIN classes c ON c.tenant_id = p.tenant_id AND c.id = p.class_id
	LEFT JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.wallet_account_id`

func scanPupil(row pgx.Row, r *pupilRow, withBadge bool) error {
	var pid, sid *int64
	var first, last, class, level, notes *string
	var hasPhoto, free, active *bool
	var wallet, recv *int64
	var avail, floor *decimal.Decimal
	dest := []any{&pid, &sid, &first, &last, &class, &level, &r.Diet, &r.Allergens, &notes, &hasPhoto, &free, &active, &wallet, &recv, &avail, &floor}
	if withBadge {
		dest = append([]any{&r.BadgeID, &r.BadgeStatus}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if pid == nil {
		return nil
	}
	r.PupilID, r.SchoolID = *pid, *sid
	r.FirstName, r.LastName, r.Class, r.Level, r.AllergyNotes = *first, *last, *class, *level, *notes
	r.HasPhoto, r.FreeMeals, r.Active = *hasPhoto, *free, *active
	r.Wallet, r.Receivable, r.Available, r.Floor = *wallet, *recv, *avail, *floor
	return nil
}

// manualUID is the uid of a manual entry: "PUPIL:<id>".
var manualUID = regexp.MustCompile(`^PUPIL:([0-9]{1,18})$`)

// printedNumber matches the 10 decimal digits printed on EM4100 fobs, which
// Wiegand converters and some desktop readers send instead of the hex id.
var printedNumber = regexp.MustCompile(`^[0-9]{10}$`)

// queueLookup queues the read of a tap's badge and pupil on b; *found says
// whether a row came back (a manual uid that is not "PUPIL:<id>" queues
// nothing and is not found). A badge that is not assigned comes back with
// PupilID 0.
func queueLookup(b *pgx.Batch, tenantID int64, t Tap, r *pupilRow, found *bool) {
	scan := func(withBadge bool) func(pgx.Row) error {
		return func(row pgx.Row) error {
			err := scanPupil(row, r, withBadge)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("look up badge %q: %w", t.UID, err)
			}
			*found = true
			return nil
		}
	}
	if t.Tech == "manual" {
		m := manualUID.FindStringSubmatch(t.UID)
		if m == nil {
			return
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		r.BadgeStatus = "active"
		b.Queue(`SELECT `+pupilColumns+` FROM pupils p `+pupilJoins+` WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, id).QueryRow(scan(false))
		return
	}
	if printedNumber.MatchString(t.UID) {
		b.Queue(`
			SELECT b.id, b.status, `+pupilColumns+`
			FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id `+pupilJoins+`
			WHERE b.tenant_id = $1 AND (b.uid = $2 OR b.printed_number = $2)
			ORDER BY b.uid = $2 DESC LIMIT 1`, tenantID, t.UID).QueryRow(scan(true))
		return
	}
	// Two statements rather than one with an OR: each uses its index under
	// a generic plan.
	b.Queue(`
		SELECT b.id, b.status, `+pupilColumns+`
		FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id `+pupilJoins+`
		WHERE b.tenant_id = $1 AND b.uid = $2`, tenantID, t.UID).QueryRow(scan(true))
}

// pupilLockKey is the advisory lock key of a pupil (class 20).
func pupilLockKey(tenantID, pupilID int64) int32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", tenantID, pupilID)
	return int32(h.Sum32())
}

// lockPupil serialises the taps of one pupil until the transaction ends, so
// that the duplicate window and the daycare toggle see each other.
func lockPupil(ctx context.Context, tx pgx.Tx, tenantID, pupilID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(20, $1)`, pupilLockKey(tenantID, pupilID))
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
	if err := s.readLocked(ctx, tx, st); err != nil {
		return err
	}
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

// readLocked takes the pupil lock and, in the same round trip and after
// it, reads what the decision needs as it is now: the wallet's available
// balance and floor, the accepted taps in the duplicate window, and the
// day's bookings (canteen) or the open daycare session (daycare).
func (s *Service) readLocked(ctx context.Context, tx pgx.Tx, st *tapState) error {
	p, t := st.pupil, st.tap
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(20, $1)`, pupilLockKey(st.tenantID, p.PupilID))
	if p.Wallet != 0 {
		b.Queue(`SELECT balance - pending, coalesce(floor, 0) FROM accounts WHERE tenant_id = $1 AND id = $2`, st.tenantID, p.Wallet).
			QueryRow(func(row pgx.Row) error { return row.Scan(&p.Available, &p.Floor) })
	}
	if w := st.school.Policy.DuplicateWindow(); w > 0 {
		b.Queue(`SELECT count(*) FROM taps WHERE tenant_id = $1 AND pupil_id = $2 AND station_id = $3
			AND verdict = 'accepted' AND read_at BETWEEN $4 AND $5`,
			st.tenantID, p.PupilID, st.station.ID, t.ReadAt.Add(-w), t.ReadAt.Add(w)).
			QueryRow(func(row pgx.Row) error { return row.Scan(&st.duplicates) })
	}
	switch st.station.Kind {
	case KindCanteen:
		booking.QueueBookings(b, st.tenantID, p.PupilID, st.day, st.day, &st.bookings)
	case KindDaycare:
		b.Queue(`SELECT id, school_id, station_id, day, check_in_at FROM daycare_sessions
			WHERE tenant_id = $1 AND pupil_id = $2 AND check_out_at IS NULL`, st.tenantID, p.PupilID).
			QueryRow(func(row pgx.Row) error {
				var sess Session
				err := row.Scan(&sess.ID, &sess.SchoolID, &sess.StationID, &sess.Day, &sess.CheckIn)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				if err != nil {
					return err
				}
				sess.PupilID = p.PupilID
				st.session = &sess
				return nil
			})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("lock pupil %d and read: %w", p.PupilID, err)
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

// charge is what chargeWallet posted.
type charge struct {
	transfer int64
	floorHit bool            // the wallet could not take it all
	owed     decimal.Decimal // the part charged to the receivable
}

// chargeWallet posts a purchase from the pupil's wallet in tx. When the
// wallet would go below its floor (−grace) the never-refuse-food default
// applies: the part the wallet cannot take is charged to the pupil's
// receivable (the family owes it; staff see a discreet flag) — unless
// hardFloor, then it returns errHardFloor and nothing is posted.
//
// The split is computed from the wallet as read under the pupil lock
// (p.Available, p.Floor); p.Available is lowered by what the wallet paid.
// When the wallet moved between that read and the charge (a hold placed by
// a booking meanwhile), the ledger's *FloorError comes back wrapping
// ledger.ErrTxAborted and the tap is retried from a fresh read.
func (s *Service) chargeWallet(ctx context.Context, tx pgx.Tx, st *tapState, c chargeRequest, hardFloor bool) (charge, error) {
	p := st.pupil
	out := charge{owed: decimal.Zero}
	if p.Wallet == 0 {
		return out, errNoWallet
	}
	if st.hints != nil && st.hints.periodClosed {
		return out, fmt.Errorf("charge %s: %w", c.key, ledger.ErrPeriodClosed)
	}
	rev, err := s.accountID(ctx, st.tenantID, c.revenue)
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
	tr, err := s.ledger.TransferTx(ctx, tx, req)
	if errors.Is(err, ledger.ErrIdempotencyConflict) {
		// A retry with a balance that moved since the first attempt
		// recorded this key: the first attempt's transfer stands.
		out.transfer, err = s.transferByKey(ctx, tx, st.tenantID, c.key)
		return out, err
	}
	if err != nil {
		return out, fmt.Errorf("charge %s: %w", c.key, err)
	}
	p.Available = p.Available.Sub(fromWallet)
	out.transfer = tr.ID
	return out, nil
}

// transferByKey returns the id of the transfer recorded under an
// idempotency key.
func (s *Service) transferByKey(ctx context.Context, tx pgx.Tx, tenantID int64, key string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`, tenantID, key).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("%w: transfer %s: %w", ledger.ErrTxAborted, key, err)
	}
	return id, nil
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
