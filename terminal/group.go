package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
)

// Group commit of taps.
//
// Taps arriving together (from all requests and devices) are applied in
// one transaction, with two round trips whatever their number: one to
// begin, lock the tap ids and the pupils of their badges and read what
// every decision needs (a statement each for all taps: the stored results,
// the badges with their pupils and wallets, the duplicate windows, the
// bookings, the daycare sessions); one to write every ledger transfer
// (ledger.QueueTransfers), the daycare rows, every tap row, and commit.
// A booked meal's booking is read locked with its hold, and consumed with
// the group's writes (booking.PlanConsume, ledger.QueueTransfers,
// booking.QueueConsumed). A tap that needs more
// (a daycare session left open on an earlier day; a manual entry; a second
// tap of a pupil already in the group) leaves the group and is applied
// alone by the one-tap path (applyOnce), after the group. So does every tap of a group
// that failed (a wallet that moved between the read and the write, a closed
// period, a deadlock): the one-tap path has the retries and the precise
// answers, and the group's transaction wrote nothing.
//
// Ordering: the taps of one request and badge uid are submitted one after
// the other (ApplyBatch), and a group holds at most one tap per uid and per
// tap id, so a uid's taps keep their order. Groups take their locks in one
// global order (tap ids, class 22, ascending; then pupils, class 20,
// ascending by lock key), so two groups in flight never deadlock each other.

// Tuning of the group commit.
const (
	// maxGroup bounds the taps of one group.
	maxGroup = 128
	// groupsInFlight bounds the groups running at once. One runs as a
	// rule: a group's statements, locks and commit cost the database about
	// the same whatever its size, and two groups at once contend for the
	// same index pages and locks; with one, groups are about twice as large
	// and a tap costs a quarter less CPU, server and database
	// (docs/PERFORMANCE-terminal.md, "Third pass"). A second one runs while
	// more than a full group waits (a bridge's backlog): its groups are
	// full either way, and the backlog goes through faster.
	groupsInFlight = 2
	// maxQueued bounds the taps waiting for a group (the queue's memory):
	// past it a request is refused with ErrBusy (503, Retry-After) before
	// anything of it is queued, unless the queue is empty. A bridge keeps
	// such taps in its outbox and sends them again.
	maxQueued = 4096
)

// ErrBusy is returned when more taps wait for a group than the server
// queues (maxQueued): the device API answers 503 with Retry-After.
var ErrBusy = errors.New("terminal: too many taps waiting, retry later")

// errLeaveGroup is returned by a decision that cannot be taken in a group:
// the tap is applied alone.
var errLeaveGroup = errors.New("terminal: tap applied alone")

// group is what the taps of a group queue while they are decided.
type group struct {
	transfers []ledger.TransferRequest
	posts     []ledger.HoldPost     // booked meals: their holds, posted
	holds     map[int64]ledger.Hold // the holds of the day's bookings, as read

	// late: daycare writes, sent after the transfers (a session's update
	// finds its transfer by key) and before the tap rows.
	late *pgx.Batch
}

func (g *group) addTransfer(req ledger.TransferRequest) { g.transfers = append(g.transfers, req) }

// groupTap is one tap waiting for a group.
type groupTap struct {
	tenantID int64
	actor    string
	tap      Tap
	invalid  error
	done     chan groupOutcome // buffered: the group never blocks on it
}

type groupOutcome struct {
	res   Result
	alone bool // apply it alone (applyOnce)
}

// GroupStats counts the work of the group commit since the Service
// started.
type GroupStats struct {
	Groups  int64 // groups committed
	Failed  int64 // groups rolled back (their taps applied alone)
	Grouped int64 // taps applied in a committed group
	Alone   int64 // taps that left their group
	Largest int64 // taps in the largest group
	Shed    int64 // taps refused with ErrBusy (queue full)
	Peak    int64 // most taps waiting at once
}

// GroupStats returns the counters of the group commit.
func (s *Service) GroupStats() GroupStats {
	g := s.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// grouper collects taps into groups.
type grouper struct {
	s     *Service
	stats GroupStats // under mu

	mu      sync.Mutex
	queue   []*groupTap
	running int // run loops
	max     int // maxQueued; tests set less
}

// submit queues taps for the next groups, all at once, and waits for
// their outcomes.
func (g *grouper) submit(ctx context.Context, gts ...*groupTap) ([]groupOutcome, error) {
	for _, gt := range gts {
		gt.done = make(chan groupOutcome, 1)
	}
	g.mu.Lock()
	if len(g.queue) > 0 && len(g.queue)+len(gts) > g.max {
		g.stats.Shed += int64(len(gts))
		g.mu.Unlock()
		return nil, ErrBusy
	}
	g.queue = append(g.queue, gts...)
	g.stats.Peak = max(g.stats.Peak, int64(len(g.queue)))
	// One run loop as a rule, a second while more than a full group waits.
	loops := 0
	if g.running == 0 {
		loops++
	}
	if g.running+loops < groupsInFlight && len(g.queue) > maxGroup {
		loops++
	}
	g.running += loops
	g.mu.Unlock()
	for range loops {
		go g.run()
	}
	outs := make([]groupOutcome, len(gts))
	for i, gt := range gts {
		select {
		case outs[i] = <-gt.done:
		case <-ctx.Done():
			// The taps may still be applied by their groups: a retry of
			// the request gets the same answers (idempotent per tap id).
			return nil, ctx.Err()
		}
	}
	return outs, nil
}

// run runs groups while taps are waiting; of two run loops, one stops
// once less than half a group waits.
func (g *grouper) run() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 || (g.running > 1 && len(g.queue) < maxGroup/2) {
			g.running--
			g.mu.Unlock()
			return
		}
		taps := g.take()
		g.mu.Unlock()
		g.s.runGroup(taps)
	}
}

// take removes the next group from the queue (g.mu held): queued taps of
// the first tap's tenant, in order, at most one per uid and per tap id, at
// most maxGroup. The others keep their place.
func (g *grouper) take() []*groupTap {
	tenant := g.queue[0].tenantID
	uids, ids := map[string]bool{}, map[string]bool{}
	var out []*groupTap
	rest := g.queue[:0]
	for _, gt := range g.queue {
		if len(out) < maxGroup && gt.tenantID == tenant && !uids[gt.tap.UID] && !ids[gt.tap.ID] {
			uids[gt.tap.UID], ids[gt.tap.ID] = true, true
			out = append(out, gt)
			continue
		}
		rest = append(rest, gt)
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	return out
}

// groupTimeout bounds a group's work; its taps are then applied alone.
const groupTimeout = 30 * time.Second

// runGroup applies taps (of one tenant, distinct uids and ids) in one
// transaction and answers each of them.
func (s *Service) runGroup(taps []*groupTap) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	states, committed := s.applyGroup(ctx, taps)
	var grouped, alone int64
	for i, gt := range taps {
		if st := states[i]; st != nil && committed {
			gt.done <- groupOutcome{res: st.res}
			grouped++
		} else {
			gt.done <- groupOutcome{alone: true}
			alone++
		}
	}
	g := s.groups
	g.mu.Lock()
	if committed {
		g.stats.Groups++
	} else if grouped+alone > 0 {
		g.stats.Failed++
	}
	g.stats.Grouped += grouped
	g.stats.Alone += alone
	g.stats.Largest = max(g.stats.Largest, int64(len(taps)))
	g.mu.Unlock()
}

// applyGroup does the work of runGroup. It returns each tap's state (nil:
// the tap leaves the group) and whether the group committed (false: every
// tap is applied alone).
func (s *Service) applyGroup(ctx context.Context, taps []*groupTap) ([]*tapState, bool) {
	tenant := taps[0].tenantID
	states := make([]*tapState, len(taps))
	grp := &group{late: &pgx.Batch{}, holds: map[int64]ledger.Hold{}}
	replays := make([]*Result, len(taps))

	var lockKeys []int32
	var tapIDs, uids, printed, days []string
	var stationIDs []int64
	var window time.Duration
	var minAt, maxAt time.Time
	canteen, daycare := false, false
	for i, gt := range taps {
		st := &tapState{tenantID: tenant, actor: gt.actor, tap: gt.tap, charged: decimal.Zero, hints: &tapHints{}, grp: grp, late: grp.late}
		if gt.tap.Tech == "manual" {
			continue // pupil named by id: applied alone
		}
		if gt.invalid == nil {
			if err := s.locate(ctx, st); err != nil {
				continue
			}
		}
		states[i] = st
		lockKeys = append(lockKeys, tapLockKey(tenant, gt.tap.ID))
		tapIDs = append(tapIDs, gt.tap.ID)
		if gt.invalid != nil || st.station.ID == 0 {
			continue
		}
		uids = append(uids, gt.tap.UID)
		if printedNumber.MatchString(gt.tap.UID) {
			printed = append(printed, gt.tap.UID)
		}
		switch st.station.Kind {
		case KindCanteen:
			canteen = true
			days = append(days, st.day.Format(time.DateOnly))
		case KindDaycare:
			daycare = true
		default:
			continue
		}
		stationIDs = append(stationIDs, st.station.ID)
		window = max(window, st.school.Policy.DuplicateWindow())
		if minAt.IsZero() || gt.tap.ReadAt.Before(minAt) {
			minAt = gt.tap.ReadAt
		}
		if gt.tap.ReadAt.After(maxAt) {
			maxAt = gt.tap.ReadAt
		}
	}
	if len(tapIDs) == 0 {
		return states, false
	}
	slices.Sort(lockKeys)
	lockKeys = slices.Compact(lockKeys)

	// Round trip 1: BEGIN; the tap ids' locks and the stored results of
	// taps seen before; the pupils' locks; then, each a statement after the
	// locks (READ COMMITTED: a fresh snapshot), the badges with their
	// pupils and wallets, the accepted taps of the duplicate windows, the
	// day's bookings and the open daycare sessions of the locked pupils.
	b := &pgx.Batch{}
	// The statements of a group read per element of an array through
	// LATERAL subqueries kept apart from the join (OFFSET 0), so that every
	// lookup is an equality on an index. Their plans hardly depend on the
	// arrays: generic plans spare planning them on every group (a fifth of
	// the database's work otherwise). But a generic plan is made once per
	// connection, and one made while a table was (nearly) empty — a new
	// school's first taps, statistics of an empty table — would scan the
	// whole table for every element of every group until autovacuum
	// analyses it: the planner is told that every statement here is an
	// index lookup. Both settings hold for the group's transaction only, set
	// by its first statement.
	b.Queue(`SELECT pg_advisory_xact_lock(22, k)
		FROM set_config('plan_cache_mode', 'force_generic_plan', true) AS g, set_config('enable_seqscan', 'off', true) AS s,
			unnest($1::int4[]) AS k`, lockKeys)
	stored := map[string][]byte{}
	b.Queue(`SELECT x.id, t.result FROM unnest($2::text[]) AS x(id)
		CROSS JOIN LATERAL (SELECT result FROM taps WHERE tenant_id = $1 AND tap_id = x.id OFFSET 0) t`, tenant, tapIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var raw []byte
			if err := rows.Scan(&id, &raw); err != nil {
				return err
			}
			stored[id] = raw
		}
		return rows.Err()
	})
	badges := groupBadges{byUID: map[string]pupilRow{}, byNumber: map[string]pupilRow{}}
	locked := map[int64]bool{}
	dups := map[int64][]dupTap{}
	bookings := map[bookingKey][]booking.Booking{}
	sessions := map[int64]*Session{}
	if len(uids) > 0 {
		// The pupils of the badges, locked in ascending order of their
		// lock keys (pupilLockKey), after the tap ids: one global order.
		// The statements after it read the pupils it locked from the
		// transaction-local setting it writes (groupPupils).
		b.Queue(`WITH p AS (
				SELECT b.pupil_id FROM unnest($2::text[]) AS x(uid)
				CROSS JOIN LATERAL (SELECT pupil_id FROM badges WHERE tenant_id = $1 AND uid = x.uid AND pupil_id IS NOT NULL OFFSET 0) b
				UNION
				SELECT b.pupil_id FROM unnest($3::text[]) AS x(n)
				CROSS JOIN LATERAL (SELECT pupil_id FROM badges WHERE tenant_id = $1 AND printed_number <> '' AND printed_number = x.n AND pupil_id IS NOT NULL OFFSET 0) b),
			s AS (SELECT set_config('tartine.group_pupils', coalesce(array_agg(pupil_id)::text, ''), true) FROM p)
			SELECT o.pupil_id, pg_advisory_xact_lock(20, o.k)
			FROM (SELECT p.pupil_id, `+pupilLockKeySQL("p.pupil_id")+` AS k FROM p, s ORDER BY 2) o`, tenant, uids, printed).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id, nil); err != nil {
					return fmt.Errorf("lock pupils: %w", err)
				}
				locked[id] = true
			}
			return rows.Err()
		})
		readBadges := func(rows pgx.Rows) error {
			for rows.Next() {
				var r badgeRow
				if err := scanPupil(rows, &r.p, &r.uid, &r.printed, &r.p.BadgeID, &r.p.BadgeStatus); err != nil {
					return fmt.Errorf("read badges and pupils: %w", err)
				}
				badges.add(r)
			}
			return rows.Err()
		}
		const cols = `SELECT b.uid, b.printed_number, b.id, b.status, ` + pupilColumns + ` FROM unnest($2::text[]) AS x(uid) CROSS JOIN LATERAL (SELECT * FROM badges WHERE tenant_id = $1`
		const join = ` OFFSET 0) b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id ` + pupilJoins
		b.Queue(cols+` AND uid = x.uid`+join, tenant, uids).Query(readBadges)
		if len(printed) > 0 {
			b.Queue(cols+` AND printed_number <> '' AND printed_number = x.uid`+join, tenant, printed).Query(readBadges)
		}
		if window > 0 && len(stationIDs) > 0 {
			b.Queue(`SELECT x.pid, t.station_id, t.read_at FROM unnest(`+groupPupils+`) AS x(pid)
				CROSS JOIN LATERAL (SELECT station_id, read_at FROM taps WHERE tenant_id = $1 AND pupil_id = x.pid
					AND station_id = ANY($2::bigint[]) AND verdict = 'accepted' AND read_at BETWEEN $3 AND $4 OFFSET 0) t`,
				tenant, stationIDs, minAt.Add(-window), maxAt.Add(window)).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var pid int64
					var d dupTap
					if err := rows.Scan(&pid, &d.station, &d.at); err != nil {
						return fmt.Errorf("read duplicate windows: %w", err)
					}
					dups[pid] = append(dups[pid], d)
				}
				return rows.Err()
			})
		}
		if canteen {
			booking.QueueDayBookings(b, tenant, groupPupils, days, func(bk booking.Booking) {
				k := bookingKey{bk.PupilID, bk.Day.Format(time.DateOnly)}
				bookings[k] = append(bookings[k], bk)
			}, grp.holds)
		}
		if daycare {
			b.Queue(`SELECT d.id, d.school_id, d.station_id, d.pupil_id, d.day, d.check_in_at FROM unnest(`+groupPupils+`) AS x(pid)
				CROSS JOIN LATERAL (SELECT * FROM daycare_sessions WHERE tenant_id = $1 AND pupil_id = x.pid AND check_out_at IS NULL OFFSET 0) d`, tenant).
				Query(func(rows pgx.Rows) error {
					for rows.Next() {
						var sess Session
						if err := rows.Scan(&sess.ID, &sess.SchoolID, &sess.StationID, &sess.PupilID, &sess.Day, &sess.CheckIn); err != nil {
							return fmt.Errorf("read daycare sessions: %w", err)
						}
						sessions[sess.PupilID] = &sess
					}
					return rows.Err()
				})
		}
	}
	tx, err := beginPipe(ctx, s.pool, b)
	if err != nil {
		s.log.Debug("tap group: read", "taps", len(taps), "err", err)
		return states, false
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
		if raw, ok := stored[t.ID]; ok {
			var r Result
			if err := json.Unmarshal(raw, &r); err != nil {
				states[i] = nil
				continue
			}
			replays[i] = &r
			continue
		}
		switch {
		case taps[i].invalid != nil:
			st.res = refused(t.ID, ReasonInvalid)
		case st.station.ID == 0:
			st.res = refused(t.ID, ReasonUnknownStation)
		default:
			p := badges.of(t.UID)
			if p != nil && p.PupilID != 0 {
				if seen[p.PupilID] || !locked[p.PupilID] {
					// A second tap of the pupil in this group, or a badge
					// reassigned between the lock and the read.
					states[i] = nil
					continue
				}
				seen[p.PupilID] = true
				st.pupil = p
				st.locked = lockedReads{locked: p.PupilID, available: p.Available, floor: p.Floor,
					duplicates: countDups(dups[p.PupilID], st.station.ID, t.ReadAt, st.school.Policy.DuplicateWindow()),
					bookings:   bookings[bookingKey{p.PupilID, st.day.Format(time.DateOnly)}],
					session:    sessions[p.PupilID]}
				if p.Wallet != 0 {
					st.locked.walletOf = p.PupilID
				}
			}
			mark, postMark, lateMark := len(grp.transfers), len(grp.posts), grp.late.Len()
			if err := s.decide(ctx, tx, st); err != nil {
				if errors.Is(err, ledger.ErrTxAborted) {
					// Decisions in a group queue their writes; one that
					// wrote in the transaction and failed half-way (none
					// does today) would leave it to be rolled back.
					s.log.Debug("tap group: decide", "tap_id", t.ID, "err", err)
					return states, false
				}
				if !errors.Is(err, errLeaveGroup) {
					s.log.Debug("tap group: decide", "tap_id", t.ID, "err", err)
				}
				// Nothing of it was written: drop what it queued.
				grp.transfers, grp.posts = grp.transfers[:mark], grp.posts[:postMark]
				grp.late.QueuedQueries = grp.late.QueuedQueries[:lateMark]
				states[i] = nil
				continue
			}
		}
		recorded++
	}
	if recorded == 0 {
		// Replays only (or taps that left): nothing to write.
		for i, st := range states {
			if st != nil {
				st.res = *replays[i]
			}
		}
		return states, true
	}

	// Round trip 2: the transfers, the daycare rows, the tap rows, COMMIT.
	w := &pgx.Batch{}
	if _, err := s.ledger.QueueTransfers(ctx, w, grp.transfers, grp.posts); err != nil {
		s.log.Warn("tap group: transfers", "taps", len(taps), "err", err)
		return states, false
	}
	w.QueuedQueries = append(w.QueuedQueries, grp.late.QueuedQueries...)
	keys := map[string]bool{}
	for _, r := range grp.transfers {
		keys[r.IdempotencyKey] = true
	}
	for _, p := range grp.posts {
		keys[p.Request.IdempotencyKey] = true
	}
	var rows tapRows
	for i, st := range states {
		if st != nil && replays[i] == nil {
			if err := rows.add(st, s.now(), keys); err != nil {
				return states, false
			}
		}
	}
	rows.queue(w, tenant)
	if err := tx.commitWith(ctx, w); err != nil {
		s.log.Debug("tap group: write", "taps", len(taps), "err", ledger.MapError(err))
		return states, false
	}
	for i, st := range states {
		switch {
		case st == nil:
		case replays[i] != nil:
			st.res = *replays[i]
		default:
			s.publish(st)
		}
	}
	return states, true
}

// groupPupils is, in a group's statements, the pupils the group locked:
// an array (bigint[], empty or null when there are none) that the pupils'
// locking statement leaves in a setting of the transaction.
const groupPupils = `nullif(current_setting('tartine.group_pupils', true), '')::bigint[]`

// badgeRow is a badge of the group's lookup.
type badgeRow struct {
	uid, printed string
	p            pupilRow
}

type bookingKey struct {
	pupil int64
	day   string
}

// dupTap is an accepted tap of a pupil near the group's taps.
type dupTap struct {
	station int64
	at      time.Time
}

// countDups counts the accepted taps at station within w of at (inclusive,
// as the one-tap query's BETWEEN).
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

// groupBadges are the badges (with their pupils) of a group's taps, by uid
// and by printed number.
type groupBadges struct {
	byUID, byNumber map[string]pupilRow
}

func (g groupBadges) add(r badgeRow) {
	g.byUID[r.uid] = r.p
	if _, ok := g.byNumber[r.printed]; r.printed != "" && !ok {
		g.byNumber[r.printed] = r.p
	}
}

// of finds a tap's badge: by uid, or by printed number for a 10-digit uid
// (the uid wins, as in queueLookup). Nil for an unknown badge.
func (g groupBadges) of(uid string) *pupilRow {
	if p, ok := g.byUID[uid]; ok {
		return &p
	}
	if p, ok := g.byNumber[uid]; ok && printedNumber.MatchString(uid) {
		return &p
	}
	return nil
}

// tapRows are tap rows inserted with one statement.
type tapRows struct {
	ids, devices, uids, verdicts, reasons, results, transferKeys []*string
	readAt, received                                             []time.Time
	offline                                                      []bool
	stations, pupils                                             []*int64
	charged                                                      []decimal.Decimal
}

func (r *tapRows) add(st *tapState, now time.Time, transferKeys map[string]bool) error {
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
	if k := "tap:" + st.tap.ID; transferKeys[k] {
		key = &k
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

func (r *tapRows) queue(b *pgx.Batch, tenant int64) {
	b.Queue(`INSERT INTO taps (tenant_id, tap_id, device_id, badge_uid, read_at, received_at, offline,
			station_id, pupil_id, verdict, reason, charged, transfer_id, result)
		SELECT $1, u.id, u.dev, u.uid, u.r, u.rc, u.o, u.st, u.p, u.v, u.rs, u.c,
			(SELECT id FROM transfers WHERE tenant_id = $1 AND idempotency_key = u.tk), u.res::jsonb
		FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bool[],
			$8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::numeric[], $13::text[], $14::text[])
			AS u(id, dev, uid, r, rc, o, st, p, v, rs, c, tk, res)`,
		tenant, r.ids, r.devices, r.uids, r.readAt, r.received, r.offline,
		r.stations, r.pupils, r.verdicts, r.reasons, r.charged, r.transferKeys, r.results)
}
