package terminal

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
	"tartine/school"
)

// Config holds the dependencies of a Service.
type Config struct {
	Pool    *pgxpool.Pool
	Ledger  *ledger.Ledger
	School  *school.Store
	Booking *booking.Manager
	Log     *slog.Logger
	// Now is the clock (time.Now when nil): device timestamps, duplicate
	// windows and the day-end job read it.
	Now func() time.Time
	// CacheTTL is how long devices, stations, schools and tariffs are
	// cached (default 10 s; a revocation made by another server process
	// takes effect within it and one reload: see ttlCache).
	CacheTTL time.Duration
}

// Service applies taps and tells the staff screens about them (Hub). It
// is safe for concurrent use.
type Service struct {
	pool    *pgxpool.Pool
	ledger  *ledger.Ledger
	store   *school.Store
	booking *booking.Manager
	log     *slog.Logger
	now     func() time.Time
	hub     *Hub

	devices  *deviceCache
	stations *ttlCache[stationKey, Station]
	schools  *ttlCache[idKey, schoolInfo]
	accounts *ttlCache[codeKey, int64]

	mealTypes      *ttlCache[tenantKey, booking.MealType]
	mealTariffs    *ttlCache[tariffKey, booking.MealTariff]
	daycareTariffs *ttlCache[tariffKey, booking.DaycareTariff]
	openDays       *ttlCache[dayKey, bool]

	// slots bounds the taps applied at once: each holds a connection for its
	// transaction and may take a second for a cache miss (station, school,
	// calendar, tariff, ledger account properties), so at most half of the
	// pool is held by taps and a load always finds a connection (no pool
	// deadlock).
	slots chan struct{}

	// groups applies taps in groups (group.go); nil: one at a time.
	groups *grouper

	// debits carries wallet charges to the WalletWatcher (nil: none).
	debits chan walletDebit

	// dayEndDone is the last day each school was closed by DayEndPass.
	dayEndMu   sync.Mutex
	dayEndDone map[idKey]string
}

// WalletWatcher is told, after their commit, of the taps that charged a
// pupil's wallet, with what the wallet has left (the portal's low-balance
// alert implements it). It is called from one goroutine, in the order of
// the taps.
type WalletWatcher interface {
	WalletDebited(ctx context.Context, tenantID, pupilID int64, available decimal.Decimal)
}

type walletDebit struct {
	tenantID, pupilID int64
	available         decimal.Decimal
}

// debitQueue bounds the wallet charges waiting for the WalletWatcher; past
// it, notices are dropped (and logged) rather than slow the taps: the next
// charge of the pupil tells again.
const debitQueue = 1024

// WatchWallets tells w of every wallet charge from now until ctx ends. Call
// it before the Service takes taps.
func (s *Service) WatchWallets(ctx context.Context, w WalletWatcher) {
	s.debits = make(chan walletDebit, debitQueue)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case d := <-s.debits:
				w.WalletDebited(ctx, d.tenantID, d.pupilID, d.available)
			}
		}
	}()
}

// New returns a Service. It returns an error when a dependency is missing.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Ledger == nil || cfg.School == nil || cfg.Booking == nil {
		return nil, errors.New("terminal: Pool, Ledger, School and Booking are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Second
	}
	// An expired entry is served, while it is loaded again in the
	// background, for up to five more TTLs (ttlCache).
	stale := 5 * cfg.CacheTTL
	n := int(cfg.Pool.Config().MaxConns / 2)
	if n < 1 {
		n = 1
	}
	s := &Service{
		dayEndDone: map[idKey]string{},
		pool:       cfg.Pool, ledger: cfg.Ledger, store: cfg.School, booking: cfg.Booking, log: cfg.Log, now: cfg.Now,
		hub:      NewHub(200),
		devices:  newDeviceCache(cfg.School, cfg.CacheTTL, stale, cfg.Now),
		stations: newTTLCache[stationKey, Station](cfg.CacheTTL, stale, cfg.Now),
		schools:  newTTLCache[idKey, schoolInfo](cfg.CacheTTL, stale, cfg.Now),
		// Read in the tap's transaction: loaded by the caller only.
		accounts: newTTLCache[codeKey, int64](time.Hour, 0, cfg.Now),

		mealTypes:      newTTLCache[tenantKey, booking.MealType](cfg.CacheTTL, stale, cfg.Now),
		mealTariffs:    newTTLCache[tariffKey, booking.MealTariff](cfg.CacheTTL, stale, cfg.Now),
		daycareTariffs: newTTLCache[tariffKey, booking.DaycareTariff](cfg.CacheTTL, stale, cfg.Now),
		openDays:       newTTLCache[dayKey, bool](cfg.CacheTTL, stale, cfg.Now),
		slots:          make(chan struct{}, n),
	}
	s.groups = &grouper{s: s, max: maxQueued}
	cfg.School.OnDeviceRevoked(s.devices.forget)
	return s, nil
}

// Hub returns the live event hub of the station screens.
func (s *Service) Hub() *Hub { return s.hub }

// Authenticate checks a device request's Authorization header against the
// body and request URI (path and raw query) and returns the device. Errors:
// ErrAuthMissing, ErrAuthMalformed, ErrClockSkew, ErrUnknownDevice,
// ErrRevokedDevice, ErrBadSignature, or a database error.
func (s *Service) Authenticate(ctx context.Context, header, method, requestURI string, body []byte) (Device, error) {
	return s.devices.authenticate(ctx, header, method, requestURI, body)
}

// ApplyBatch applies the taps of a device request body ({"taps": [...]})
// and returns one result per tap, in order. A malformed tap is refused with
// reason "invalid"; a body that is not a batch returns ErrBadBatch. Any other
// error is a failure of the database: taps answered before it are recorded
// and will be answered the same on retry.
//
// The taps are applied in rounds: the first tap of every badge uid, then
// the second, …; a round is submitted to the group commit (group.go) at
// once, so its taps are applied together (with other requests' taps), and
// the taps of one uid keep the order of the batch, so a check-in and its
// check-out replayed together stay in order. Taps of one pupil under
// different uids (a card and a manual entry) are still serialised by the
// pupil lock.
func (s *Service) ApplyBatch(ctx context.Context, dev Device, body []byte) ([]Result, error) {
	raws, err := parseBatch(body)
	if err != nil {
		return nil, err
	}
	now := s.now()
	taps := make([]Tap, len(raws))
	invalid := make([]error, len(raws))
	for i, raw := range raws {
		taps[i], invalid[i] = parseTap(raw, now)
	}
	actor := "device:" + dev.ID
	out := make([]Result, len(raws))
	if dev.SchoolID != 0 {
		// A device bound to a school taps only at that school's stations:
		// elsewhere its taps are refused as at an unknown station (and not
		// recorded, so the station's school sees nothing of them).
		var keep []int
		for i, t := range taps {
			if invalid[i] == nil && t.ID != "" {
				st, err := s.station(ctx, dev.TenantID, t.Station)
				if err != nil && !errors.Is(err, ErrNotFound) {
					return nil, err
				}
				if err == nil && st.SchoolID != dev.SchoolID {
					out[i] = refused(t.ID, ReasonUnknownStation)
					continue
				}
			}
			keep = append(keep, i)
		}
		if len(keep) < len(taps) {
			sub := make([]Tap, len(keep))
			subInvalid := make([]error, len(keep))
			for j, i := range keep {
				sub[j], subInvalid[j] = taps[i], invalid[i]
			}
			res, err := s.applyTaps(ctx, dev, actor, sub, subInvalid)
			if err != nil {
				return nil, err
			}
			for j, i := range keep {
				out[i] = res[j]
			}
			return out, nil
		}
	}
	return s.applyTaps(ctx, dev, actor, taps, invalid)
}

// applyTaps applies the parsed taps of a batch (see ApplyBatch).
func (s *Service) applyTaps(ctx context.Context, dev Device, actor string, taps []Tap, invalid []error) ([]Result, error) {
	out := make([]Result, len(taps))
	if len(taps) == 0 {
		return out, nil
	}
	if len(taps) == 1 {
		r, err := s.apply(ctx, dev.TenantID, actor, taps[0], invalid[0])
		if err != nil {
			return nil, err
		}
		out[0] = r
		return out, nil
	}
	// Group by uid, keeping the batch order inside a group.
	index := map[string]int{}
	var groups [][]int
	for i, t := range taps {
		g, ok := index[t.UID]
		if !ok {
			g = len(groups)
			index[t.UID] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	// Rounds: the first tap of every uid, then the second …, each round
	// submitted to the group commit at once, so that its taps are applied
	// together.
	for round := 0; ; round++ {
		var idx []int
		for _, g := range groups {
			if round < len(g) {
				idx = append(idx, g[round])
			}
		}
		if len(idx) == 0 {
			return out, nil
		}
		if err := s.applyRound(ctx, dev.TenantID, actor, taps, invalid, idx, out); err != nil {
			return nil, err
		}
	}
}

// applyRound applies taps[i] for i in idx (distinct uids) into out[i]:
// together in groups, then those that had to leave their group alone, at
// most batchWorkers at once.
func (s *Service) applyRound(ctx context.Context, tenantID int64, actor string, taps []Tap, invalid []error, idx []int, out []Result) error {
	var gts []*unitTap
	var at, alone []int
	for _, i := range idx {
		switch {
		case taps[i].ID == "":
			out[i] = refused("", ReasonInvalid)
		case s.groups == nil:
			alone = append(alone, i)
		default:
			gts = append(gts, &unitTap{tenantID: tenantID, actor: actor, tap: taps[i], invalid: invalid[i]})
			at = append(at, i)
		}
	}
	if len(gts) > 0 {
		outs, err := s.groups.submit(ctx, gts...)
		if err != nil {
			return err
		}
		for k, o := range outs {
			if o.alone {
				alone = append(alone, at[k])
			} else {
				out[at[k]] = o.res
			}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, batchWorkers)
	var wg sync.WaitGroup
	for _, i := range alone {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := s.applyAlone(ctx, tenantID, actor, taps[i], invalid[i])
			if err != nil {
				cancel(err)
				return
			}
			out[i] = r
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// batchWorkers is how many taps of a round that left their group are
// applied alone at once.
const batchWorkers = 8

// Apply applies one tap for a tenant on behalf of actor ("device:<id>",
// "staff:<id>" for manual entries) and returns its result. A tap id seen
// before returns the first result.
func (s *Service) Apply(ctx context.Context, tenantID int64, actor string, t Tap) (Result, error) {
	return s.apply(ctx, tenantID, actor, t, nil)
}

// tapState is what one tap's decision reads and produces.
type tapState struct {
	tenantID int64
	actor    string
	tap      Tap
	station  Station
	school   schoolInfo
	pupil    *pupilRow
	day      time.Time // school-local date of the tap (midnight, school location)
	res      Result
	ev       Event
	charged  decimal.Decimal
	hints    *tapHints
	// transferKey is the idempotency key of the transfer the tap recorded
	// ("tap:<tap id>"; "" for none): its row finds the transfer by it.
	transferKey string
	// walletCharged: the pupil's wallet (and receivable, past its floor)
	// paid for the tap; pupil.Available is what the wallet has left.
	walletCharged bool
	// replayed: the tap was seen before; res is the stored result.
	replayed bool

	// Read after the pupil lock, in the unit's first round trip.
	locked     lockedReads
	duplicates int
	bookings   []booking.Booking
	session    *Session // open daycare session

	// u is the tap transaction the tap is applied in: its decision queues
	// its ledger transfers and rows there (unit.go).
	u *unit
}

// tapHints carries what an earlier attempt of the same tap learnt.
type tapHints struct {
	// periodClosed: the books are closed for the tap's date; charges are
	// refused (period_closed) instead of attempted.
	periodClosed bool
}

// tapAttempts bounds the attempts of one tap applied alone (applyAlone).
const tapAttempts = 5

// apply applies one tap: in a group (group.go) when it can, else alone.
// Both apply it by the one tap transaction (unit.go).
func (s *Service) apply(ctx context.Context, tenantID int64, actor string, t Tap, invalid error) (Result, error) {
	if t.ID == "" {
		return refused("", ReasonInvalid), nil
	}
	if s.groups != nil {
		outs, err := s.groups.submit(ctx, &unitTap{tenantID: tenantID, actor: actor, tap: t, invalid: invalid})
		if errors.Is(err, ErrBusy) && t.Tech == "manual" {
			// A manual entry (staff at a screen) is not shed: alone.
			return s.applyAlone(ctx, tenantID, actor, t, invalid)
		}
		if err != nil {
			return Result{}, err
		}
		if !outs[0].alone {
			return outs[0].res, nil
		}
	}
	return s.applyAlone(ctx, tenantID, actor, t, invalid)
}

// applyAlone applies one tap in a transaction of its own (a unit of one
// tap, applyUnit), again when an attempt had to be rolled back for a reason
// a new attempt resolves (deadlock, serialization failure, a wallet that
// moved between the read and the charge, a badge reassigned meanwhile, a
// closed period: the next attempt refuses the charge).
func (s *Service) applyAlone(ctx context.Context, tenantID int64, actor string, t Tap, invalid error) (Result, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-s.slots }()

	hints := &tapHints{}
	var res Result
	err := retry(ctx, func() error {
		states, err := s.applyUnit(ctx, []*unitTap{{tenantID: tenantID, actor: actor, tap: t, invalid: invalid, hints: hints}}, true)
		if err == nil {
			res = states[0].res
		}
		return err
	}, func(attempt int, err error) {
		if errors.Is(err, ledger.ErrPeriodClosed) {
			hints.periodClosed = true
		}
		s.log.Debug("tap retried", "tap_id", t.ID, "attempt", attempt, "err", err)
	})
	if err != nil {
		return Result{}, fmt.Errorf("tap %s: %w", t.ID, err)
	}
	return res, nil
}

// retry runs fn, again (at most tapAttempts times in all, after a growing
// pause) while it fails for a reason a new attempt resolves (retryable);
// failed, when not nil, is told of each failure before the next attempt.
func retry(ctx context.Context, fn func() error, failed func(attempt int, err error)) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= tapAttempts || !retryable(err) {
			return err
		}
		if failed != nil {
			failed(attempt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
}

// publish shows an applied tap on its station's live screen.
func (s *Service) publish(st *tapState) {
	if st.station.ID == 0 {
		return
	}
	t := st.tap
	st.ev.TapID, st.ev.At = t.ID, t.ReadAt
	st.ev.Verdict, st.ev.Reason, st.ev.Action, st.ev.Charged = st.res.Verdict, st.res.Reason, st.res.Action, st.charged
	s.hub.Publish(st.tenantID, st.station.ID, st.ev)
	if st.walletCharged {
		s.debited(st.tenantID, st.pupil.PupilID, st.pupil.Available)
	}
}

// debited tells the WalletWatcher, if any, that a committed charge left
// the pupil's wallet with available; it never blocks.
func (s *Service) debited(tenantID, pupilID int64, available decimal.Decimal) {
	if s.debits == nil {
		return
	}
	select {
	case s.debits <- walletDebit{tenantID, pupilID, available}:
	default:
		s.log.Warn("wallet watcher behind: low-balance notice dropped", "pupil", pupilID)
	}
}

// retryable reports whether a failed attempt of a tap may be tried again:
// a rolled-back ledger write, a serialization failure or deadlock, or a
// unique violation (a row written concurrently, e.g. the same tap id by a
// writer that did not take its lock: the next attempt reads it).
func retryable(err error) bool {
	if errors.Is(err, ledger.ErrTxAborted) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01" || pgErr.Code == "23505")
}

// tapLockKey is the advisory lock key of a tap id (class 22; 20 is the
// pupil lock, 21 the kiosk drawer lock). Two ids may share a key: they are
// then applied one after the other, nothing worse.
func tapLockKey(tenantID int64, tapID string) int32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%s", tenantID, tapID)
	return int32(h.Sum32())
}
