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
	Available    decimal.Decimal // wallet balance − pending before the tap
}

const pupilColumns = `p.id, p.school_id, p.first_name, p.last_name, coalesce(c.code, ''), p.level, p.diet, p.allergens, p.allergy_notes,
	(p.photo IS NOT NULL AND p.photo_consent), p.free_meals, p.active, coalesce(p.wallet_account_id, 0), coalesce(p.receivable_account_id, 0),
	coalesce(a.balance - a.pending, 0)`

const pupilJoins = `LEFT JOIN classes c ON c.tenant_id = p.tenant_id AND c.id = p.class_id
	LEFT JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.wallet_account_id`

func scanPupil(row pgx.Row, r *pupilRow, withBadge bool) error {
	var pid, sid *int64
	var first, last, class, level, notes *string
	var hasPhoto, free, active *bool
	var wallet, recv *int64
	var avail *decimal.Decimal
	dest := []any{&pid, &sid, &first, &last, &class, &level, &r.Diet, &r.Allergens, &notes, &hasPhoto, &free, &active, &wallet, &recv, &avail}
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
	r.Wallet, r.Receivable, r.Available = *wallet, *recv, *avail
	return nil
}

// manualUID is the uid of a manual entry: "PUPIL:<id>".
var manualUID = regexp.MustCompile(`^PUPIL:([0-9]{1,18})$`)

// printedNumber matches the 10 decimal digits printed on EM4100 fobs, which
// Wiegand converters and some desktop readers send instead of the hex id.
var printedNumber = regexp.MustCompile(`^[0-9]{10}$`)

// lookupBadge returns the badge and pupil of a tap, or ErrNotFound.
func (s *Service) lookupBadge(ctx context.Context, q pgx.Tx, tenantID int64, t Tap) (*pupilRow, error) {
	r := &pupilRow{}
	var err error
	if t.Tech == "manual" {
		m := manualUID.FindStringSubmatch(t.UID)
		if m == nil {
			return nil, fmt.Errorf("%w: manual uid %q", ErrNotFound, t.UID)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		err = scanPupil(q.QueryRow(ctx, `SELECT `+pupilColumns+` FROM pupils p `+pupilJoins+` WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, id), r, false)
		r.BadgeStatus = "active"
	} else {
		err = scanPupil(q.QueryRow(ctx, `
			SELECT b.id, b.status, `+pupilColumns+`
			FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id `+pupilJoins+`
			WHERE b.tenant_id = $1 AND (b.uid = $2 OR ($3 AND b.printed_number = $2))
			ORDER BY b.uid = $2 DESC LIMIT 1`, tenantID, t.UID, printedNumber.MatchString(t.UID)), r, true)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: badge %q", ErrNotFound, t.UID)
	}
	if err != nil {
		return nil, fmt.Errorf("look up badge %q: %w", t.UID, err)
	}
	return r, nil
}

// lockPupil serialises the taps of one pupil until the transaction ends, so
// that the duplicate window and the daycare toggle see each other.
func lockPupil(ctx context.Context, tx pgx.Tx, tenantID, pupilID int64) error {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", tenantID, pupilID)
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(20, $1)`, int32(h.Sum32()))
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

// decide fills st.res (and st.ev) for a well-formed, first-seen tap.
func (s *Service) decide(ctx context.Context, tx pgx.Tx, st *tapState) error {
	t := st.tap
	station, err := s.station(ctx, st.tenantID, t.Station)
	if errors.Is(err, ErrNotFound) {
		st.res = refused(t.ID, ReasonUnknownStation)
		return nil
	}
	if err != nil {
		return err
	}
	st.station = station
	st.ev.Station = station.Code
	st.ev.UID = t.UID
	st.school, err = s.schoolOf(ctx, st.tenantID, station.SchoolID)
	if err != nil {
		return err
	}
	y, m, d := t.ReadAt.In(st.school.Loc).Date()
	st.day = time.Date(y, m, d, 0, 0, 0, 0, st.school.Loc)

	p, err := s.lookupBadge(ctx, tx, st.tenantID, t)
	if errors.Is(err, ErrNotFound) || (err == nil && p.PupilID == 0) {
		st.res = refused(t.ID, ReasonUnknownBadge)
		return nil
	}
	if err != nil {
		return err
	}
	st.pupil = p
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

	if err := lockPupil(ctx, tx, st.tenantID, p.PupilID); err != nil {
		return err
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
	if w := st.school.Policy.DuplicateWindow(); w > 0 {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM taps WHERE tenant_id = $1 AND pupil_id = $2 AND station_id = $3
			AND verdict = 'accepted' AND read_at BETWEEN $4 AND $5`,
			st.tenantID, p.PupilID, station.ID, t.ReadAt.Add(-w), t.ReadAt.Add(w)).Scan(&n)
		if err != nil {
			return fmt.Errorf("duplicate check: %w", err)
		}
		if n > 0 {
			st.res = Result{ID: t.ID, Verdict: VerdictDuplicate, Feedback: FeedbackWarn, Display: disp, Charged: "0.00"}
			return nil
		}
	}
	switch station.Kind {
	case KindCanteen:
		err = s.meal(ctx, tx, st)
	case KindDaycare:
		err = s.daycare(ctx, tx, st)
	default:
		st.res = refused(t.ID, ReasonUnknownStation)
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

// chargeWallet posts a purchase from the pupil's wallet. When the wallet
// would go below its floor (−grace) the never-refuse-food default applies:
// the part the wallet cannot take is charged to the pupil's receivable (the
// family owes it; staff see a discreet flag) — unless hardFloor, then it
// returns errHardFloor and nothing is posted. It returns the transfer id and
// whether the floor was reached.
func (s *Service) chargeWallet(ctx context.Context, st *tapState, c chargeRequest, hardFloor bool) (int64, bool, error) {
	p := st.pupil
	if p.Wallet == 0 {
		return 0, false, errNoWallet
	}
	rev, err := s.accountID(ctx, st.tenantID, c.revenue)
	if err != nil {
		return 0, false, err
	}
	req := ledger.TransferRequest{
		TenantID: st.tenantID, IdempotencyKey: c.key, Kind: c.kind, OccurredAt: st.tap.ReadAt, Actor: st.actor,
		Memo: c.memo, Metadata: c.metadata,
		Postings: []ledger.Posting{{AccountID: p.Wallet, Amount: c.amount}, {AccountID: rev, Amount: c.amount.Neg()}},
	}
	tr, err := s.ledger.Transfer(ctx, req)
	if errors.Is(err, ledger.ErrIdempotencyConflict) {
		// A retry after a crash, with a balance that moved since: the first
		// attempt's transfer stands.
		id, kerr := s.transferByKey(ctx, st.tenantID, c.key)
		return id, false, kerr
	}
	var fe *ledger.FloorError
	if !errors.As(err, &fe) {
		if err != nil {
			return 0, false, fmt.Errorf("charge %s: %w", c.key, err)
		}
		return tr.ID, false, nil
	}
	if hardFloor {
		return 0, true, errHardFloor
	}
	if p.Receivable == 0 {
		return 0, true, errNoWallet
	}
	// Split: the wallet down to its floor, the rest owed on the receivable.
	// The balance may move between attempts; retry a few times.
	for range 3 {
		fromWallet := c.amount.Sub(fe.Shortfall)
		if fromWallet.IsNegative() {
			fromWallet = decimal.Zero
		}
		owed := c.amount.Sub(fromWallet)
		req.Postings = []ledger.Posting{{AccountID: p.Receivable, Amount: owed}, {AccountID: rev, Amount: c.amount.Neg()}}
		if fromWallet.IsPositive() {
			req.Postings = append(req.Postings, ledger.Posting{AccountID: p.Wallet, Amount: fromWallet})
		}
		req.Metadata = withMeta(c.metadata, "owed", owed.StringFixed(2))
		tr, err = s.ledger.Transfer(ctx, req)
		if !errors.As(err, &fe) {
			if err != nil {
				return 0, true, fmt.Errorf("charge %s beyond the wallet floor: %w", c.key, err)
			}
			return tr.ID, true, nil
		}
	}
	return 0, true, fmt.Errorf("charge %s: wallet balance kept moving: %w", c.key, err)
}

// transferByKey returns the id of the transfer recorded under an
// idempotency key.
func (s *Service) transferByKey(ctx context.Context, tenantID int64, key string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`, tenantID, key).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("transfer %s: %w", key, err)
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
// "" for an error that is not the tap's fault.
func ledgerReason(err error) string {
	switch {
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
