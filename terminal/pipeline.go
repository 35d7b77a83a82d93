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

// scanPupil scans pupilColumns into r, after the lead destinations (e.g.
// the badge's id and status).
func scanPupil(row pgx.Row, r *pupilRow, lead ...any) error {
	var pid, sid *int64
	var first, last, class, level, notes *string
	var hasPhoto, free, active *bool
	var wallet, recv *int64
	var avail, floor *decimal.Decimal
	dest := []any{&pid, &sid, &first, &last, &class, &level, &r.Diet, &r.Allergens, &notes, &hasPhoto, &free, &active, &wallet, &recv, &avail, &floor}
	dest = append(lead, dest...)
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

// pupilRef is how the statements of a tap's first round trip name its
// pupil before it is known: a scalar SQL expression over $1 (the tenant)
// and $2 (arg: the badge uid, or the pupil id of a manual entry). ok is
// false for a manual uid that is not "PUPIL:<id>".
func pupilRef(t Tap) (ref string, arg any, ok bool) {
	if t.Tech == "manual" {
		m := manualUID.FindStringSubmatch(t.UID)
		if m == nil {
			return "", nil, false
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return `(SELECT id FROM pupils WHERE tenant_id = $1 AND id = $2::bigint)`, id, true
	}
	if printedNumber.MatchString(t.UID) {
		return `(SELECT pupil_id FROM badges WHERE tenant_id = $1 AND (uid = $2 OR printed_number = $2) ORDER BY uid = $2 DESC LIMIT 1)`, t.UID, true
	}
	return `(SELECT pupil_id FROM badges WHERE tenant_id = $1 AND uid = $2)`, t.UID, true
}

// queueLookup queues the read of a tap's badge and pupil on b; *found says
// whether a row came back (a manual uid that is not "PUPIL:<id>" queues
// nothing and is not found). A badge that is not assigned comes back with
// PupilID 0.
func queueLookup(b *pgx.Batch, tenantID int64, t Tap, r *pupilRow, found *bool) {
	scan := func(withBadge bool) func(pgx.Row) error {
		return func(row pgx.Row) error {
			var lead []any
			if withBadge {
				lead = []any{&r.BadgeID, &r.BadgeStatus}
			}
			err := scanPupil(row, r, lead...)
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
	_, arg, ok := pupilRef(t)
	switch {
	case !ok:
	case t.Tech == "manual":
		r.BadgeStatus = "active"
		b.Queue(`SELECT `+pupilColumns+` FROM pupils p `+pupilJoins+` WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, arg).QueryRow(scan(false))
	case printedNumber.MatchString(t.UID):
		b.Queue(`
			SELECT b.id, b.status, `+pupilColumns+`
			FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id `+pupilJoins+`
			WHERE b.tenant_id = $1 AND (b.uid = $2 OR b.printed_number = $2)
			ORDER BY b.uid = $2 DESC LIMIT 1`, tenantID, arg).QueryRow(scan(true))
	default:
		// No OR on the uid: the statement uses the unique index under a
		// generic plan.
		b.Queue(`
			SELECT b.id, b.status, `+pupilColumns+`
			FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id `+pupilJoins+`
			WHERE b.tenant_id = $1 AND b.uid = $2`, tenantID, arg).QueryRow(scan(true))
	}
}

// lockedReads is what a canteen or daycare tap reads after taking its
// pupil's lock, in the same round trip as the badge lookup.
type lockedReads struct {
	locked     int64 // pupil whose lock was taken (0: none)
	walletOf   int64 // pupil whose wallet was read (0: none)
	available  decimal.Decimal
	floor      decimal.Decimal
	duplicates int
	bookings   []booking.Booking
	session    *Session
}

// queueLocked queues on b, after the badge lookup: the pupil lock
// (pg_advisory_xact_lock class 20, key pupilLockKey), then — each a
// statement of its own, so with a snapshot taken after the lock (READ
// COMMITTED) — the wallet's available balance and floor, the accepted taps
// of the duplicate window, and the day's meal bookings (canteen) or the open
// daycare session (daycare). The pupil is named by pupilRef; decide checks
// that the lock and the lookup saw the same pupil (a badge reassigned in
// between retries the tap).
func queueLocked(b *pgx.Batch, st *tapState, into *lockedReads) {
	ref, arg, ok := pupilRef(st.tap)
	if !ok || (st.station.Kind != KindCanteen && st.station.Kind != KindDaycare) {
		return
	}
	t, ten := st.tap, st.tenantID
	b.Queue(`SELECT x.pid, pg_advisory_xact_lock(20, `+pupilLockKeySQL("x.pid")+`)::text FROM (SELECT `+ref+` AS pid) x
		WHERE x.pid IS NOT NULL`, ten, arg).QueryRow(func(row pgx.Row) error {
		var ignored string
		if err := row.Scan(&into.locked, &ignored); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lock pupil: %w", err)
		}
		return nil
	})
	b.Queue(`SELECT p.id, a.balance - a.pending, coalesce(a.floor, 0)
		FROM pupils p JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.wallet_account_id
		WHERE p.tenant_id = $1 AND p.id = `+ref, ten, arg).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&into.walletOf, &into.available, &into.floor); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read wallet: %w", err)
		}
		return nil
	})
	if w := st.school.Policy.DuplicateWindow(); w > 0 {
		b.Queue(`SELECT count(*) FROM taps WHERE tenant_id = $1 AND pupil_id = `+ref+` AND station_id = $3
			AND verdict = 'accepted' AND read_at BETWEEN $4 AND $5`,
			ten, arg, st.station.ID, t.ReadAt.Add(-w), t.ReadAt.Add(w)).
			QueryRow(func(row pgx.Row) error { return row.Scan(&into.duplicates) })
	}
	switch st.station.Kind {
	case KindCanteen:
		// Cancelled bookings play no part in a meal (and the index of
		// bookings leaves them out).
		b.Queue(`SELECT id, service, status, coalesce(tap_id, '') FROM bookings
			WHERE tenant_id = $1 AND pupil_id = `+ref+` AND day = $3::date AND status <> 'cancelled' ORDER BY service, id`,
			ten, arg, st.day.Format(time.DateOnly)).Query(func(rows pgx.Rows) error {
			list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Booking, error) {
				bk := booking.Booking{TenantID: ten}
				err := r.Scan(&bk.ID, &bk.Service, &bk.Status, &bk.TapID)
				return bk, err
			})
			if err != nil {
				return fmt.Errorf("read bookings: %w", err)
			}
			into.bookings = list
			return nil
		})
	case KindDaycare:
		b.Queue(`SELECT id, school_id, station_id, pupil_id, day, check_in_at FROM daycare_sessions
			WHERE tenant_id = $1 AND pupil_id = `+ref+` AND check_out_at IS NULL`, ten, arg).
			QueryRow(func(row pgx.Row) error {
				var sess Session
				err := row.Scan(&sess.ID, &sess.SchoolID, &sess.StationID, &sess.PupilID, &sess.Day, &sess.CheckIn)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("read daycare session: %w", err)
				}
				into.session = &sess
				return nil
			})
	}
}

// errBadgeMoved is returned by decide when the pupil lock and the badge
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
//
// In a group (st.grp set) the transfer is only queued: it is written with
// the group's other transfers, and out.transfer stays 0 (the tap row finds
// it by its key).
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
	if st.grp != nil {
		st.grp.addTransfer(req)
		p.Available = p.Available.Sub(fromWallet)
		st.walletCharged = true
		return out, nil
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
	st.walletCharged = true
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
