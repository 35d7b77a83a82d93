package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
	"tartine/school"
)

// The tap transaction: one path for every tap.
//
// applyUnit applies taps (one or many, of one tenant, distinct uids and ids)
// in one transaction with two round trips whatever their number:
//
//  1. BEGIN; the tap ids' locks and the stored results of taps seen before;
//     the pupils' locks (one statement finds the badges' pupils, or the
//     pupils of manual entries, locks them in a fixed order and leaves their
//     ids in a setting of the transaction); then, each a statement after the
//     locks (READ COMMITTED: a fresh snapshot), the badges with their pupils
//     and wallets, the accepted taps of the duplicate windows, the day's
//     bookings (locked, with their holds) and the open daycare sessions of
//     the locked pupils (unitReads);
//  2. every ledger transfer and hold post in one statement
//     (ledger.QueueTransfersTx), the daycare and booking rows, every tap row
//     (tapRows), and COMMIT.
//
// In between, each tap is decided (decide, meal, daycare) from what was
// read; a decision writes nothing: it queues its ledger transfers and rows
// on the unit. The execution strategies only choose which taps share a
// unit:
//
//   - grouped (group.go): the taps arriving together, from all requests and
//     devices, at most one per pupil. A tap whose decision fails (a badge
//     reassigned under the lock, a second tap of a pupil) leaves the unit,
//     dropping what it queued; a unit that fails to commit (a wallet that
//     moved between the read and the write, a closed period, a deadlock)
//     wrote nothing. Those taps are then applied alone.
//   - alone (applyAlone): a unit of one tap, tried again when its
//     transaction had to be rolled back for a reason a new attempt
//     resolves, with what the failed attempt learnt (tapHints).
type unit struct {
	transfers []ledger.TransferRequest
	posts     []ledger.HoldPost     // booked meals: their holds, posted
	holds     map[int64]ledger.Hold // the holds of the day's bookings, as read

	// late: the daycare and booking rows, sent after the transfers (a row
	// finds its transfer by key) and before the tap rows.
	late *pgx.Batch
}

func newUnit() *unit { return &unit{late: &pgx.Batch{}, holds: map[int64]ledger.Hold{}} }

func (u *unit) addTransfer(req ledger.TransferRequest) { u.transfers = append(u.transfers, req) }

// unitMark is how much a unit had queued before a tap's decision.
type unitMark struct{ transfers, posts, late int }

func (u *unit) mark() unitMark {
	return unitMark{len(u.transfers), len(u.posts), u.late.Len()}
}

// undo drops what was queued since m (a tap that leaves its unit).
func (u *unit) undo(m unitMark) {
	u.transfers, u.posts = u.transfers[:m.transfers], u.posts[:m.posts]
	u.late.QueuedQueries = u.late.QueuedQueries[:m.late]
}

// queueWrites queues on b the unit's ledger writes, then its late rows.
// The ledger reads the accounts it does not know in tx.
func (s *Service) queueWrites(ctx context.Context, tx pgx.Tx, b *pgx.Batch, u *unit) error {
	if _, err := s.ledger.QueueTransfersTx(ctx, tx, b, u.transfers, u.posts); err != nil {
		return fmt.Errorf("tap transfers: %w", err)
	}
	b.QueuedQueries = append(b.QueuedQueries, u.late.QueuedQueries...)
	return nil
}

// writeError is the error of a unit's writes as the retry loops see it: a
// wallet that would go below its floor (it moved since the read), a closed
// period, or a hold ended meanwhile rolled the transaction back, and a new
// attempt resolves it (see retryable).
func writeError(err error) error {
	err = ledger.MapError(err)
	var pgErr *pgconn.PgError
	if errors.Is(err, ledger.ErrFloorBreach) || errors.Is(err, ledger.ErrPeriodClosed) || (errors.As(err, &pgErr) && pgErr.Code == "23514") {
		return fmt.Errorf("%w: %w", ledger.ErrTxAborted, err)
	}
	return err
}

// unitTap is one tap to apply.
type unitTap struct {
	tenantID int64
	actor    string
	tap      Tap
	invalid  error
	hints    *tapHints         // alone: what earlier attempts learnt (nil: none)
	done     chan groupOutcome // grouped: buffered, the group never blocks on it
}

// errNoTap: no tap of the unit could be read (each is applied alone).
var errNoTap = errors.New("terminal: no tap left in the unit")

// applyUnit applies taps in one transaction (see unit) and returns each
// tap's state, its result in res. With alone false a tap that cannot be
// decided leaves the unit (nil state); with alone true (one tap) its error
// is returned. An error means nothing was written.
func (s *Service) applyUnit(ctx context.Context, taps []*unitTap, alone bool) ([]*tapState, error) {
	tenant := taps[0].tenantID
	u := newUnit()
	states := make([]*tapState, len(taps))
	rd := newUnitReads(tenant, u.holds)
	for i, ut := range taps {
		hints := ut.hints
		if hints == nil {
			hints = &tapHints{}
		}
		st := &tapState{tenantID: tenant, actor: ut.actor, tap: ut.tap, charged: decimal.Zero, hints: hints, u: u}
		if ut.invalid == nil {
			if err := s.locate(ctx, st); err != nil {
				if alone {
					return nil, err
				}
				continue
			}
		}
		states[i] = st
		rd.add(st, ut.invalid)
	}
	if len(rd.tapIDs) == 0 {
		return states, errNoTap
	}
	// Round trip 1: BEGIN and the reads.
	tx, err := beginPipe(ctx, s.pool, rd.queue())
	if err != nil {
		return nil, fmt.Errorf("read taps: %w", err)
	}
	defer tx.end(ctx)

	// Decide each tap, in the order they arrived.
	seen := map[int64]bool{}
	recorded := 0
	for i, st := range states {
		if st == nil {
			continue
		}
		t := st.tap
		if raw, ok := rd.stored[t.ID]; ok {
			// Seen before (or just now by a concurrent request, whose
			// lock we waited for): answer what was answered.
			if err := json.Unmarshal(raw, &st.res); err != nil {
				err = fmt.Errorf("decode stored result of tap %s: %w", t.ID, err)
				if alone {
					return nil, err
				}
				states[i] = nil
				continue
			}
			st.replayed = true
			continue
		}
		switch {
		case taps[i].invalid != nil:
			st.res = refused(t.ID, ReasonInvalid)
			s.log.Debug("invalid tap", "tap_id", t.ID, "err", taps[i].invalid)
		case st.station.ID == 0:
			st.res = refused(t.ID, ReasonUnknownStation)
		default:
			if p := rd.badges.of(t); p != nil && p.PupilID != 0 {
				if seen[p.PupilID] {
					// A second tap of the pupil in this unit: after it.
					states[i] = nil
					continue
				}
				seen[p.PupilID] = true
				st.pupil = p
				st.locked = rd.lockedReads(st)
			}
			m := u.mark()
			if err := s.decide(ctx, tx, st); err != nil {
				if alone {
					return nil, err
				}
				s.log.Debug("tap left its group", "tap_id", t.ID, "err", err)
				u.undo(m)
				states[i] = nil
				continue
			}
		}
		recorded++
	}
	if recorded == 0 {
		return states, nil // replays only (or taps that left): nothing to write
	}

	// Round trip 2: the transfers, the late rows, the tap rows, COMMIT.
	w := &pgx.Batch{}
	if err := s.queueWrites(ctx, tx, w, u); err != nil {
		return nil, err
	}
	var rows tapRows
	now := s.now()
	for _, st := range states {
		if st != nil && !st.replayed {
			if err := rows.add(st, now); err != nil {
				return nil, err
			}
		}
	}
	rows.queue(w, tenant)
	if err := tx.commitWith(ctx, w); err != nil {
		return nil, fmt.Errorf("record and commit taps: %w", writeError(err))
	}
	for _, st := range states {
		if st != nil && !st.replayed {
			s.publish(st)
		}
	}
	return states, nil
}

// unitReads are the first round trip of a unit: what it reads, then what
// it read.
type unitReads struct {
	tenant      int64
	lockKeys    []int32
	tapIDs      []string
	uids        []string // badge uids (not manual entries)
	printed     []string // of them, the 10-digit ones (printed numbers)
	manual      []int64  // pupils named by manual entries
	days        []string // of the canteen taps
	stationIDs  []int64  // of the canteen and daycare taps
	window      time.Duration
	minAt       time.Time
	maxAt       time.Time
	canteen     bool
	daycareTaps bool

	stored   map[string][]byte
	badges   unitBadges
	locked   map[int64]bool
	dups     map[int64][]dupTap
	bookings map[bookingKey][]booking.Booking
	holds    map[int64]ledger.Hold
	sessions map[int64]*Session
}

func newUnitReads(tenant int64, holds map[int64]ledger.Hold) *unitReads {
	return &unitReads{tenant: tenant, stored: map[string][]byte{},
		badges: unitBadges{byUID: map[string]pupilRow{}, byNumber: map[string]pupilRow{}, byPupil: map[int64]pupilRow{}},
		locked: map[int64]bool{}, dups: map[int64][]dupTap{}, bookings: map[bookingKey][]booking.Booking{},
		holds: holds, sessions: map[int64]*Session{}}
}

// add notes what the tap's decision reads.
func (r *unitReads) add(st *tapState, invalid error) {
	t := st.tap
	r.lockKeys = append(r.lockKeys, tapLockKey(r.tenant, t.ID))
	r.tapIDs = append(r.tapIDs, t.ID)
	if invalid != nil || st.station.ID == 0 {
		return
	}
	if t.Tech == "manual" {
		if id, ok := manualPupil(t.UID); ok {
			r.manual = append(r.manual, id)
		}
	} else {
		r.uids = append(r.uids, t.UID)
		if printedNumber.MatchString(t.UID) {
			r.printed = append(r.printed, t.UID)
		}
	}
	switch st.station.Kind {
	case KindCanteen:
		r.canteen = true
		r.days = append(r.days, st.day.Format(time.DateOnly))
	case KindDaycare:
		r.daycareTaps = true
	default:
		return
	}
	r.stationIDs = append(r.stationIDs, st.station.ID)
	r.window = max(r.window, st.school.Policy.DuplicateWindow())
	if r.minAt.IsZero() || t.ReadAt.Before(r.minAt) {
		r.minAt = t.ReadAt
	}
	if t.ReadAt.After(r.maxAt) {
		r.maxAt = t.ReadAt
	}
}

// queue returns the batch of the reads.
func (r *unitReads) queue() *pgx.Batch {
	tenant := r.tenant
	lockKeys := slices.Clone(r.lockKeys)
	slices.Sort(lockKeys)
	lockKeys = slices.Compact(lockKeys)
	b := &pgx.Batch{}
	// The statements of a unit read per element of an array through
	// LATERAL subqueries kept apart from the join (OFFSET 0), so that every
	// lookup is an equality on an index. Their plans hardly depend on the
	// arrays: generic plans spare planning them on every unit (a fifth of
	// the database's work otherwise). But a generic plan is made once per
	// connection, and one made while a table was (nearly) empty — a new
	// school's first taps, statistics of an empty table — would scan the
	// whole table for every element of every unit until autovacuum
	// analyses it: the planner is told that every statement here is an
	// index lookup. Both settings hold for the unit's transaction only, set
	// by its first statement.
	//
	// Locks: the tap ids (class 22) ascending, then the pupils (class 20)
	// ascending by lock key: one global order, so that two units in flight
	// never deadlock each other. The tap id's lock serialises requests
	// carrying the same tap id: the second waits for the first to commit,
	// then reads its result.
	b.Queue(`SELECT pg_advisory_xact_lock(22, k)
		FROM set_config('plan_cache_mode', 'force_generic_plan', true) AS g, set_config('enable_seqscan', 'off', true) AS s,
			unnest($1::int4[]) AS k`, lockKeys)
	b.Queue(`SELECT x.id, t.result FROM unnest($2::text[]) AS x(id)
		CROSS JOIN LATERAL (SELECT result FROM taps WHERE tenant_id = $1 AND tap_id = x.id OFFSET 0) t`, tenant, r.tapIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var raw []byte
			if err := rows.Scan(&id, &raw); err != nil {
				return err
			}
			r.stored[id] = raw
		}
		return rows.Err()
	})
	if len(r.uids) == 0 && len(r.manual) == 0 {
		return b
	}
	// The pupils of the badges and manual entries, locked; the statements
	// after it read the pupils it locked from the transaction-local
	// setting it writes (unitPupils).
	b.Queue(lockUnitPupilsSQL, tenant, r.uids, r.printed, r.manual).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id, nil); err != nil {
				return fmt.Errorf("lock pupils: %w", err)
			}
			r.locked[id] = true
		}
		return rows.Err()
	})
	school.QueueTapSubjects(b, tenant, r.uids, r.printed, r.manual, func(s school.TapSubject) {
		if s.ByID {
			p := s.Pupil
			p.BadgeStatus = "active"
			r.badges.byPupil[p.PupilID] = p
			return
		}
		r.badges.add(badgeRow{uid: s.UID, printed: s.Printed, p: s.Pupil})
	})
	if r.window > 0 && len(r.stationIDs) > 0 {
		b.Queue(`SELECT x.pid, t.station_id, t.read_at FROM unnest(`+unitPupils+`) AS x(pid)
			CROSS JOIN LATERAL (SELECT station_id, read_at FROM taps WHERE tenant_id = $1 AND pupil_id = x.pid
				AND station_id = ANY($2::bigint[]) AND verdict = 'accepted' AND read_at BETWEEN $3 AND $4 OFFSET 0) t`,
			tenant, r.stationIDs, r.minAt.Add(-r.window), r.maxAt.Add(r.window)).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var pid int64
				var d dupTap
				if err := rows.Scan(&pid, &d.station, &d.at); err != nil {
					return fmt.Errorf("read duplicate windows: %w", err)
				}
				r.dups[pid] = append(r.dups[pid], d)
			}
			return rows.Err()
		})
	}
	if r.canteen {
		booking.QueueDayBookings(b, tenant, unitPupils, r.days, func(bk booking.Booking) {
			k := bookingKey{bk.PupilID, bk.Day.Format(time.DateOnly)}
			r.bookings[k] = append(r.bookings[k], bk)
		}, r.holds)
	}
	if r.daycareTaps {
		b.Queue(`SELECT d.id, d.school_id, d.station_id, d.pupil_id, d.day, d.check_in_at FROM unnest(`+unitPupils+`) AS x(pid)
			CROSS JOIN LATERAL (SELECT * FROM daycare_sessions WHERE tenant_id = $1 AND pupil_id = x.pid AND check_out_at IS NULL OFFSET 0) d`, tenant).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var sess Session
					if err := rows.Scan(&sess.ID, &sess.SchoolID, &sess.StationID, &sess.PupilID, &sess.Day, &sess.CheckIn); err != nil {
						return fmt.Errorf("read daycare sessions: %w", err)
					}
					r.sessions[sess.PupilID] = &sess
				}
				return rows.Err()
			})
	}
	return b
}

// lockedReads is what st's decision reads of its pupil under the pupil's
// lock. A pupil the unit did not lock (its badge reassigned between the
// lock and the read) is left unlocked: decide then retries the tap.
func (r *unitReads) lockedReads(st *tapState) lockedReads {
	p := st.pupil
	lr := lockedReads{available: p.Available, floor: p.Floor,
		duplicates: countDups(r.dups[p.PupilID], st.station.ID, st.tap.ReadAt, st.school.Policy.DuplicateWindow()),
		bookings:   r.bookings[bookingKey{p.PupilID, st.day.Format(time.DateOnly)}],
		session:    r.sessions[p.PupilID]}
	if r.locked[p.PupilID] {
		lr.locked = p.PupilID
		if p.Wallet != 0 {
			lr.walletOf = p.PupilID
		}
	}
	return lr
}

// lockUnitPupilsSQL locks the pupils of a unit's badges ($2, $3: uids and
// printed numbers) and manual entries ($4) in the order of their lock keys,
// leaves their ids in a setting of the transaction (unitPupils) and returns
// them.
var lockUnitPupilsSQL = `WITH p AS (` + school.TapPupilIDsSQL("$1", "$2::text[]", "$3::text[]", "$4::bigint[]") + `),
		s AS (SELECT set_config('tartine.group_pupils', coalesce(array_agg(pupil_id)::text, ''), true) FROM p)
		SELECT o.pupil_id, pg_advisory_xact_lock(20, o.k)
		FROM (SELECT p.pupil_id, ` + pupilLockKeySQL("p.pupil_id") + ` AS k FROM p, s ORDER BY 2) o`

// unitPupils is, in a unit's statements, the pupils the unit locked: an
// array (bigint[], empty or null when there are none) that the pupils'
// locking statement leaves in a setting of the transaction.
const unitPupils = `nullif(current_setting('tartine.group_pupils', true), '')::bigint[]`

// manualPupil is the pupil id of a manual entry's uid "PUPIL:<id>".
func manualPupil(uid string) (int64, bool) {
	m := manualUID.FindStringSubmatch(uid)
	if m == nil {
		return 0, false
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	return id, err == nil
}

// badgeRow is a badge of the unit's lookup.
type badgeRow struct {
	uid, printed string
	p            pupilRow
}

type bookingKey struct {
	pupil int64
	day   string
}

// dupTap is an accepted tap of a pupil near the unit's taps.
type dupTap struct {
	station int64
	at      time.Time
}

// countDups counts the accepted taps at station within w of at
// (inclusive).
func countDups(list []dupTap, station int64, at time.Time, w time.Duration) int {
	if w <= 0 {
		return 0
	}
	n := 0
	for _, d := range list {
		if d.station == station && !d.at.Before(at.Add(-w)) && !d.at.After(at.Add(w)) {
			n++
		}
	}
	return n
}

// unitBadges are the badges (with their pupils) of a unit's taps, by uid
// and by printed number, and the pupils of its manual entries.
type unitBadges struct {
	byUID, byNumber map[string]pupilRow
	byPupil         map[int64]pupilRow
}

func (g unitBadges) add(r badgeRow) {
	g.byUID[r.uid] = r.p
	if _, ok := g.byNumber[r.printed]; r.printed != "" && !ok {
		g.byNumber[r.printed] = r.p
	}
}

// of finds a tap's badge and pupil: a manual entry's pupil; else by uid,
// or by printed number for a 10-digit uid (the uid wins). Nil for an
// unknown badge.
func (g unitBadges) of(t Tap) *pupilRow {
	if t.Tech == "manual" {
		id, ok := manualPupil(t.UID)
		if p, found := g.byPupil[id]; ok && found {
			return &p
		}
		return nil
	}
	if p, ok := g.byUID[t.UID]; ok {
		return &p
	}
	if p, ok := g.byNumber[t.UID]; ok && printedNumber.MatchString(t.UID) {
		return &p
	}
	return nil
}

// tapRows are tap rows, inserted with one statement: the one writer of the
// taps table's rows.
type tapRows struct {
	ids, devices, uids, verdicts, reasons, results, transferKeys []*string
	readAt, received                                             []time.Time
	offline                                                      []bool
	stations, pupils                                             []*int64
	charged                                                      []decimal.Decimal
}

// add adds the row of a decided tap, received at now; its transfer is the
// one recorded under st.transferKey, if any.
func (r *tapRows) add(st *tapState, now time.Time) error {
	if st.res.Charged == "" {
		st.res.Charged = st.charged.StringFixed(2)
	}
	raw, err := json.Marshal(st.res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	str := func(s string) *string { return &s }
	readAt := st.tap.ReadAt
	if readAt.IsZero() {
		readAt = now
	}
	var station, pupil *int64
	if st.station.ID != 0 {
		station = &st.station.ID
	}
	if st.pupil != nil && st.pupil.PupilID != 0 {
		pupil = &st.pupil.PupilID
	}
	var key *string
	if st.transferKey != "" {
		key = str(st.transferKey)
	}
	r.ids = append(r.ids, str(st.tap.ID))
	r.devices = append(r.devices, str(st.actor))
	r.uids = append(r.uids, str(st.tap.UID))
	r.verdicts = append(r.verdicts, str(st.res.Verdict))
	r.reasons = append(r.reasons, str(st.res.Reason))
	r.results = append(r.results, str(string(raw)))
	r.transferKeys = append(r.transferKeys, key)
	r.readAt = append(r.readAt, readAt)
	r.received = append(r.received, now)
	r.offline = append(r.offline, st.tap.Offline)
	r.stations = append(r.stations, station)
	r.pupils = append(r.pupils, pupil)
	r.charged = append(r.charged, st.charged)
	return nil
}

// insertTapsSQL inserts tap rows, each linked to the transfer recorded
// under its transfer key (queued before it in the same batch).
var insertTapsSQL = `INSERT INTO taps (tenant_id, tap_id, device_id, badge_uid, read_at, received_at, offline,
			station_id, pupil_id, verdict, reason, charged, transfer_id, result)
		SELECT $1, u.id, u.dev, u.uid, u.r, u.rc, u.o, u.st, u.p, u.v, u.rs, u.c,
			` + ledger.TransferIDByKeySQL("$1", "u.tk") + `, u.res::jsonb
		FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bool[],
			$8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::numeric[], $13::text[], $14::text[])
			AS u(id, dev, uid, r, rc, o, st, p, v, rs, c, tk, res)`

func (r *tapRows) queue(b *pgx.Batch, tenant int64) {
	b.Queue(insertTapsSQL,
		tenant, r.ids, r.devices, r.uids, r.readAt, r.received, r.offline,
		r.stations, r.pupils, r.verdicts, r.reasons, r.charged, r.transferKeys, r.results)
}
