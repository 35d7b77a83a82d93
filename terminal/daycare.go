package terminal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
	"tartine/school"
)

// Ledger kind and account of daycare.
const (
	LedgerKindDaycare     = "daycare"
	AccountRevenueDaycare = "revenue:daycare"
)

// Session is a daycare presence.
type Session struct {
	ID         int64
	SchoolID   int64
	StationID  int64
	PupilID    int64
	Day        time.Time
	CheckIn    time.Time
	CheckOut   *time.Time
	ClosedBy   string // tap | dayend | "" while open
	Charged    decimal.Decimal
	TransferID int64
}

// daycare toggles the pupil's presence: a tap with no open session checks
// in; a tap with an open session checks out and bills it by the school's
// daycare tariff (booking.DaycareCharge). A check-out is never refused for
// money: what the wallet cannot take beyond its floor is owed on the
// receivable, even under a hard floor (the child goes home). A session left
// open from an earlier day is first closed at that day's closing time.
func (s *Service) daycare(ctx context.Context, tx pgx.Tx, st *tapState) error {
	t, p := st.tap, st.pupil
	var sess Session
	open := st.session != nil // read under the pupil lock (unitReads)
	if open {
		sess = *st.session
	}
	if open && sess.Day.Format(time.DateOnly) != st.day.Format(time.DateOnly) {
		// Forgotten yesterday and the day-end job did not run: close it now.
		if _, err := s.closeSession(ctx, tx, st.u, st.tenantID, sess, p, nil, "system:day-end", st.hints); err != nil {
			return err
		}
		open = false
	}
	st.res = Result{ID: t.ID, Verdict: VerdictAccepted, Feedback: FeedbackOK}
	if !open {
		if _, err := s.daycareTariff(ctx, st.tenantID, st.station.SchoolID, p.Level, st.day); errors.Is(err, booking.ErrNoTariff) {
			st.res = refused(t.ID, ReasonNoTariff)
			return nil
		} else if err != nil {
			return err
		}
		st.u.late.Queue(`INSERT INTO daycare_sessions (tenant_id, school_id, station_id, pupil_id, day, check_in_at, check_in_tap)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, st.tenantID, st.station.SchoolID, st.station.ID, p.PupilID, st.day, t.ReadAt, t.ID)
		st.res.Action = ActionCheckIn
		st.ev.LowBalance = lowBalance(st, p.Available)
		return nil
	}
	at := t.ReadAt
	out, err := s.closeSession(ctx, tx, st.u, st.tenantID, sess, p, &closing{at: at, tapID: t.ID}, st.actor, st.hints)
	if err != nil {
		if r := ledgerReason(err); r != "" {
			st.res = refused(t.ID, r)
			return nil
		}
		return err
	}
	st.res.Action = ActionCheckOut
	st.charged, st.transferKey = out.Charged, out.transferKey
	st.walletCharged = out.Charged.IsPositive()
	st.ev.LowBalance = lowBalance(st, p.Available.Sub(out.owed))
	if out.floorHit {
		st.res.Reason, st.res.Feedback = ReasonLowBalance, FeedbackWarn
	}
	return nil
}

// closing is a check-out by tap; nil means the closing time of the day.
type closing struct {
	at    time.Time
	tapID string
}

type closed struct {
	Charged     decimal.Decimal
	transferKey string // of the charge ("" for none)
	floorHit    bool
	owed        decimal.Decimal // part charged to the receivable
}

// closeSession bills and closes an open session: the charge and the
// session's update are queued on u (the caller holds the pupil's lock, so
// the session stays open until u commits). The ledger transfer uses the key
// "tap:<tap id>" for a check-out tap and "daycare:<session id>" for a
// closing by the day-end job, so a retry charges once.
func (s *Service) closeSession(ctx context.Context, tx pgx.Tx, u *unit, tenantID int64, sess Session, p *pupilRow, c *closing, actor string, hints *tapHints) (closed, error) {
	si, err := s.schoolOf(ctx, tenantID, sess.SchoolID)
	if err != nil {
		return closed{}, err
	}
	y, m, d := sess.Day.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, si.Loc)
	out := closed{Charged: decimal.Zero, owed: decimal.Zero}
	tariff, terr := s.daycareTariff(ctx, tenantID, sess.SchoolID, p.Level, day)
	if terr != nil && !errors.Is(terr, booking.ErrNoTariff) {
		return closed{}, terr
	}
	var at time.Time
	key, by := "daycare:"+strconv.FormatInt(sess.ID, 10), "dayend"
	if c != nil {
		at, key, by = c.at, "tap:"+c.tapID, "tap"
	} else if terr == nil {
		at = tariff.Closes.On(day, si.Loc)
	} else {
		at = time.Date(y, m, d, 18, 0, 0, 0, si.Loc)
	}
	if at.Before(sess.CheckIn) {
		at = sess.CheckIn
	}
	if terr == nil {
		out.Charged, _ = booking.DaycareCharge(tariff, sess.CheckIn.In(si.Loc), at.In(si.Loc))
	} else {
		s.log.Warn("daycare session closed without a tariff: not billed", "tenant_id", tenantID, "session_id", sess.ID)
	}
	if out.Charged.IsPositive() {
		st := &tapState{tenantID: tenantID, actor: actor, pupil: p, school: si, tap: Tap{ID: key, ReadAt: at}, hints: hints, u: u}
		meta := map[string]string{"session": strconv.FormatInt(sess.ID, 10), "pupil": strconv.FormatInt(p.PupilID, 10)}
		memo := fmt.Sprintf("Garderie du %s, %s–%s", day.Format(time.DateOnly), sess.CheckIn.In(si.Loc).Format("15:04"), at.In(si.Loc).Format("15:04"))
		// Never refuse a check-out: no hard floor here.
		ch, err := s.chargeWallet(ctx, tx, st, chargeRequest{key: key, kind: LedgerKindDaycare, revenue: AccountRevenueDaycare,
			amount: out.Charged, memo: memo, metadata: meta}, false)
		if err != nil {
			return closed{}, err
		}
		out.transferKey, out.floorHit, out.owed = key, ch.floorHit, ch.owed
	}
	var checkoutTap *string
	if c != nil {
		checkoutTap = &c.tapID
	}
	u.late.Queue(closeSessionSQL, tenantID, sess.ID, at, checkoutTap, by, out.Charged, key)
	return out, nil
}

// closeSessionSQL closes a daycare session, linked to the transfer recorded
// under its charge's key (queued before it in the same batch; none when
// nothing was charged).
var closeSessionSQL = `UPDATE daycare_sessions SET check_out_at = $3, check_out_tap = $4, closed_by = $5, charged = $6,
		transfer_id = ` + ledger.TransferIDByKeySQL("$1", "$7") + `
		WHERE tenant_id = $1 AND id = $2`

// ledgerTransfer builds a two-posting transfer debiting from and crediting
// to at the tap's time.
func ledgerTransfer(st *tapState, key, kind, memo string, meta map[string]string, from, to int64, amount decimal.Decimal) ledger.TransferRequest {
	return ledger.TransferRequest{TenantID: st.tenantID, IdempotencyKey: key, Kind: kind, OccurredAt: st.tap.ReadAt, Actor: st.actor,
		Memo: memo, Metadata: meta, Postings: []ledger.Posting{{AccountID: from, Amount: amount}, {AccountID: to, Amount: amount.Neg()}}}
}

// DayEndReport says what the day-end job did for one school.
type DayEndReport struct {
	SchoolID       int64
	Day            time.Time
	SessionsClosed int
	DaycareCharged decimal.Decimal
	Bookings       booking.DayEndReport
}

// DayEnd closes the school's daycare sessions of day that were not checked
// out, at the day's closing time, and bills them; then it runs
// booking.DayEnd for the meal no-shows. It is safe to run twice or
// concurrently: a session is closed once (its charge uses the key
// "daycare:<session id>"), and booking.DayEnd ends each booking once.
func (s *Service) DayEnd(ctx context.Context, tenantID, schoolID int64, day time.Time) (DayEndReport, error) {
	si, err := s.schoolOf(ctx, tenantID, schoolID)
	if err != nil {
		return DayEndReport{}, err
	}
	y, m, d := day.In(si.Loc).Date()
	local := time.Date(y, m, d, 0, 0, 0, 0, si.Loc)
	rep := DayEndReport{SchoolID: schoolID, Day: local, DaycareCharged: decimal.Zero}
	rows, _ := s.pool.Query(ctx, `SELECT id, pupil_id FROM daycare_sessions
		WHERE tenant_id = $1 AND school_id = $2 AND day <= $3 AND check_out_at IS NULL ORDER BY id`, tenantID, schoolID, local.Format(time.DateOnly))
	type open struct{ id, pupil int64 }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (open, error) {
		var o open
		return o, r.Scan(&o.id, &o.pupil)
	})
	if err != nil {
		return rep, fmt.Errorf("day end: open sessions: %w", err)
	}
	for _, o := range list {
		var out closed
		var done bool
		var p *pupilRow
		err := s.retryTx(ctx, func(tx pgx.Tx) error {
			done = false
			if err := lockPupil(ctx, tx, o.pupil); err != nil {
				return err
			}
			var sess Session
			err := tx.QueryRow(ctx, `SELECT id, school_id, station_id, pupil_id, day, check_in_at FROM daycare_sessions
				WHERE tenant_id = $1 AND id = $2 AND check_out_at IS NULL`, tenantID, o.id).
				Scan(&sess.ID, &sess.SchoolID, &sess.StationID, &sess.PupilID, &sess.Day, &sess.CheckIn)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // closed meanwhile
			}
			if err != nil {
				return err
			}
			if p, err = s.pupilTx(ctx, tx, tenantID, sess.PupilID); err != nil {
				return err
			}
			u := newUnit()
			out, err = s.closeSession(ctx, tx, u, tenantID, sess, p, nil, "system:day-end", nil)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			if err := s.queueWrites(ctx, tx, b, u); err != nil {
				return err
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return writeError(err)
			}
			done = true
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("day end: session %d: %w", o.id, err)
		}
		if done {
			rep.SessionsClosed++
			rep.DaycareCharged = rep.DaycareCharged.Add(out.Charged)
			if out.Charged.IsPositive() {
				s.debited(tenantID, p.PupilID, p.Available)
			}
		}
	}
	rep.Bookings, err = s.booking.DayEnd(ctx, tenantID, schoolID, local)
	if err != nil {
		return rep, fmt.Errorf("day end: bookings: %w", err)
	}
	if rep.SessionsClosed > 0 || rep.Bookings.Charged+rep.Bookings.Released+rep.Bookings.Marked > 0 {
		detail := map[string]any{"day": local.Format(time.DateOnly), "sessions_closed": rep.SessionsClosed,
			"daycare_charged": rep.DaycareCharged.StringFixed(2), "noshow_charged": rep.Bookings.Charged, "noshow_released": rep.Bookings.Released}
		if err := s.store.Audit(ctx, tenantID, "system:day-end", "terminal.day_end", "school:"+strconv.FormatInt(schoolID, 10), detail); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// retryTx runs fn in a transaction, again (a few times) when it failed
// for a reason a new attempt resolves (see retry).
func (s *Service) retryTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return retry(ctx, func() error { return pgx.BeginFunc(ctx, s.pool, fn) }, nil)
}

// Presence is a pupil present at daycare now.
type Presence struct {
	SessionID int64
	PupilID   int64
	Name      string // "Emma D."
	Class     string
	Since     time.Time
	Allergens []string
	Notes     string // allergy notes (an allergy outside the EU 14 lives here)
	Diet      []string
}

// pupilTx reads a pupil as a tap does (with its wallet), in tx.
func (s *Service) pupilTx(ctx context.Context, tx pgx.Tx, tenantID, pupilID int64) (*pupilRow, error) {
	var p *pupilRow
	b := &pgx.Batch{}
	school.QueueTapSubjects(b, tenantID, nil, nil, []int64{pupilID}, func(sub school.TapSubject) { p = &sub.Pupil })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("pupil %d: %w", pupilID, err)
	}
	if p == nil {
		return nil, fmt.Errorf("pupil %d: %w", pupilID, ErrNotFound)
	}
	return p, nil
}

// Present lists the pupils checked in at a daycare station's school and
// not checked out, by check-in time.
func (s *Service) Present(ctx context.Context, tenantID, stationID int64) ([]Presence, error) {
	st, err := s.stationByID(ctx, tenantID, stationID)
	if errors.Is(err, ErrNotFound) {
		return []Presence{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("present at station %d: %w", stationID, err)
	}
	out, err := s.present(ctx, tenantID, st.SchoolID)
	if err != nil {
		return nil, fmt.Errorf("present at station %d: %w", stationID, err)
	}
	return out, nil
}

// PresentInSchool lists the pupils checked in at the school's daycare and
// not checked out, by check-in time (the back office's daycare list).
func (s *Service) PresentInSchool(ctx context.Context, tenantID, schoolID int64) ([]Presence, error) {
	out, err := s.present(ctx, tenantID, schoolID)
	if err != nil {
		return nil, fmt.Errorf("present at school %d: %w", schoolID, err)
	}
	return out, nil
}

// present lists the open sessions of the school, by check-in time then
// last name, with their pupils (read through school).
func (s *Service) present(ctx context.Context, tenantID, schoolID int64) ([]Presence, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, pupil_id, check_in_at FROM daycare_sessions
		WHERE tenant_id = $1 AND school_id = $2 AND check_out_at IS NULL`, tenantID, schoolID)
	open, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Presence, error) {
		var p Presence
		return p, r.Scan(&p.SessionID, &p.PupilID, &p.Since)
	})
	if err != nil || len(open) == 0 {
		return open, err
	}
	ids := make([]int64, len(open))
	for i, p := range open {
		ids[i] = p.PupilID
	}
	pupils := make(map[int64]pupilRow, len(ids))
	b := &pgx.Batch{}
	school.QueueTapSubjects(b, tenantID, nil, nil, ids, func(sub school.TapSubject) { pupils[sub.Pupil.PupilID] = sub.Pupil })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	out := make([]Presence, 0, len(open))
	last := make(map[int64]string, len(open)) // by session
	for _, p := range open {
		pr, ok := pupils[p.PupilID]
		if !ok {
			continue
		}
		p.Name, p.Class = school.DisplayName(pr.FirstName, pr.LastName), pr.Class
		p.Allergens, p.Notes, p.Diet = pr.Allergens, pr.AllergyNotes, pr.Diet
		out = append(out, p)
		last[p.SessionID] = pr.LastName
	}
	slices.SortStableFunc(out, func(a, b Presence) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(last[a.SessionID], last[b.SessionID])
	})
	return out, nil
}
