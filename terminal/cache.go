package terminal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/booking"
	"tartine/internal/policy"
	"tartine/ledger"
	"tartine/school"
)

// ttlCache is a small map with expiry, for rows read on every tap that
// change rarely (stations, schools, shared ledger accounts, tariffs).
//
// Refresh ahead (issue 17): with stale > 0, a value expired for less than
// stale is still returned at once while one background load replaces it
// (a failed load keeps it); only older or missing values are loaded by the
// caller. The taps never wait for a cache that expired while they flowed,
// and the first taps after a quiet spell never wait for all the caches
// that expired meanwhile at once — at 1,000 taps/s under the 8:00 rush,
// 16 devices' first requests waited 70–110 ms together for them. Changes
// are still seen within ttl plus one load.
type ttlCache[K comparable, V any] struct {
	ttl   time.Duration
	stale time.Duration
	now   func() time.Time

	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v          V
	expires    time.Time
	refreshing bool
}

// refreshTimeout bounds a background load.
const refreshTimeout = 5 * time.Second

func newTTLCache[K comparable, V any](ttl, stale time.Duration, now func() time.Time) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, stale: stale, now: now, m: map[K]ttlEntry[V]{}}
}

// get returns the cached value or loads it with load (given ctx, or for a
// background load a context that outlives ctx). Errors are not cached. A
// load that reads in the caller's transaction needs a cache without stale.
func (c *ttlCache[K, V]) get(ctx context.Context, k K, load func(context.Context) (V, error)) (V, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[k]
	if ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.v, nil
	}
	if ok && c.stale > 0 && now.Before(e.expires.Add(c.stale)) {
		if !e.refreshing {
			e.refreshing = true
			c.m[k] = e
			go c.refresh(context.WithoutCancel(ctx), k, load)
		}
		c.mu.Unlock()
		return e.v, nil
	}
	c.mu.Unlock()
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.put(k, v, now)
	return v, nil
}

// refresh loads k in the background for get.
func (c *ttlCache[K, V]) refresh(ctx context.Context, k K, load func(context.Context) (V, error)) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	now := c.now()
	v, err := load(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if err != nil {
		if ok {
			e.refreshing = false
			c.m[k] = e
		}
		return
	}
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
}

// put stores v, loaded at now.
func (c *ttlCache[K, V]) put(k K, v V, now time.Time) {
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
}

// drop removes k.
func (c *ttlCache[K, V]) drop(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

func (c *ttlCache[K, V]) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// Station is a place where taps happen.
type Station struct {
	TenantID      int64
	ID            int64
	SchoolID      int64
	Code          string
	Name          string
	Kind          string // canteen | daycare | kiosk | enrolment
	CashAccountID int64  // kiosk drawer account; 0 when none
}

// Station kinds.
const (
	KindCanteen   = "canteen"
	KindDaycare   = "daycare"
	KindKiosk     = "kiosk"
	KindEnrolment = "enrolment"
)

// ErrNotFound is returned when a station, pupil or receipt does not exist in
// the tenant.
var ErrNotFound = errors.New("terminal: not found")

type stationKey struct {
	tenant int64
	code   string
}

// station returns the tenant's station with this code (cached), or
// ErrNotFound. A missing station is cached too, briefly, so that a
// misconfigured bridge does not cost a query per tap.
func (s *Service) station(ctx context.Context, tenantID int64, code string) (Station, error) {
	st, err := s.stations.get(ctx, stationKey{tenantID, code}, func(ctx context.Context) (Station, error) {
		st, err := s.store.StationByCode(ctx, tenantID, code)
		if errors.Is(err, school.ErrNotFound) {
			return Station{}, nil
		}
		if err != nil {
			return Station{}, fmt.Errorf("read station %q: %w", code, err)
		}
		return stationOf(st), nil
	})
	if err != nil {
		return Station{}, err
	}
	if st.ID == 0 {
		return Station{}, fmt.Errorf("%w: station %q", ErrNotFound, code)
	}
	return st, nil
}

// stationByID returns a station by id (not cached: staff pages only).
func (s *Service) stationByID(ctx context.Context, tenantID, id int64) (Station, error) {
	st, err := s.store.Station(ctx, tenantID, id)
	if errors.Is(err, school.ErrNotFound) {
		return Station{}, fmt.Errorf("%w: station %d", ErrNotFound, id)
	}
	if err != nil {
		return Station{}, fmt.Errorf("read station %d: %w", id, err)
	}
	return stationOf(st), nil
}

func stationOf(st school.Station) Station {
	return Station{TenantID: st.TenantID, ID: st.ID, SchoolID: st.SchoolID, Code: st.Code, Name: st.Name, Kind: string(st.Kind),
		CashAccountID: st.CashAccountID}
}

// schoolInfo is what the pipeline needs of a school.
type schoolInfo struct {
	ID        int64
	Name      string
	Loc       *time.Location
	Policy    policy.Policy
	FreeMeals bool
}

type idKey struct{ tenant, id int64 }

func (s *Service) schoolOf(ctx context.Context, tenantID, schoolID int64) (schoolInfo, error) {
	return s.schools.get(ctx, idKey{tenantID, schoolID}, func(ctx context.Context) (schoolInfo, error) {
		sc, err := s.store.School(ctx, tenantID, schoolID)
		if err != nil {
			return schoolInfo{}, fmt.Errorf("read school %d: %w", schoolID, err)
		}
		if sc.PolicyErr != nil {
			// Keep serving with the safe defaults; say so once per reload.
			s.log.Warn("school settings unusable, using defaults", "tenant_id", tenantID, "school_id", schoolID, "err", sc.PolicyErr)
		}
		return schoolInfo{ID: sc.ID, Name: sc.Name, Loc: sc.Location(), Policy: sc.Policy, FreeMeals: sc.FreeMeals}, nil
	})
}

type codeKey struct {
	tenant int64
	code   string
}

// accountID returns the id of a shared ledger account (revenue:meals …),
// cached; read in tx (the tap's transaction) on a miss.
func (s *Service) accountID(ctx context.Context, tx pgx.Tx, tenantID int64, code string) (int64, error) {
	return s.accounts.get(ctx, codeKey{tenantID, code}, func(ctx context.Context) (int64, error) {
		a, err := s.ledger.AccountByCodeTx(ctx, tx, tenantID, code)
		if err != nil {
			return 0, fmt.Errorf("account %s: %w", code, err)
		}
		return a.ID, nil
	})
}

// Warm fills the caches that every tap reads — each tenant's devices and
// stations, their schools, the tenant's default meal and revenue accounts,
// today's calendar and the day's meal and daycare tariffs of every level —
// so that the first
// taps after the server starts do not wait for them one after the other
// (issue 17: 16 devices' first requests waited 70–110 ms together under
// the 8:00 rush). Run it once the pool is open, beside the server; the
// caches then stay warm as taps come (refresh ahead: ttlCache). A tariff
// a level does not have is skipped; any other error stops the warm-up,
// the taps then loading what is missing themselves.
func (s *Service) Warm(ctx context.Context) error {
	tenants, err := s.ledger.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("terminal: warm-up: %w", err)
	}
	levels := append(school.Levels(), "") // "": a pupil whose class has no level
	for _, tn := range tenants {
		devs, err := s.store.Devices(ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
		}
		now := s.now()
		for _, d := range devs {
			s.devices.rows.put(d.ID, cachedDevice{dev: Device{ID: d.ID, TenantID: d.TenantID, SchoolID: d.SchoolID, Name: d.Name,
				secret: d.Secret, Revoked: d.Revoked()}, found: true}, now)
		}
		sts, err := s.store.Stations(ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
		}
		mt, err := s.defaultMealType(ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
		}
		for _, code := range []string{booking.AccountRevenueMeals, booking.AccountSubsidyMeals, AccountRevenueDaycare} {
			a, err := s.ledger.AccountByCode(ctx, tn.ID, code)
			if errors.Is(err, ledger.ErrUnknownAccount) {
				continue // made by the first tap that needs it
			}
			if err != nil {
				return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
			}
			s.accounts.put(codeKey{tn.ID, code}, a.ID, now)
		}
		warmed := map[int64]bool{}
		for _, st := range sts {
			s.stations.put(stationKey{tn.ID, st.Code}, stationOf(st), now)
			if warmed[st.SchoolID] {
				continue
			}
			warmed[st.SchoolID] = true
			sc, err := s.schoolOf(ctx, tn.ID, st.SchoolID)
			if err != nil {
				return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
			}
			y, m, d := now.In(sc.Loc).Date()
			day := time.Date(y, m, d, 0, 0, 0, 0, sc.Loc)
			if _, err := s.isOpen(ctx, tn.ID, st.SchoolID, day); err != nil {
				return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
			}
			for _, lv := range levels {
				if mt.Code != "" {
					if _, err := s.mealTariff(ctx, tn.ID, st.SchoolID, mt.Code, lv, day); err != nil && !errors.Is(err, booking.ErrNoTariff) {
						return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
					}
				}
				if _, err := s.daycareTariff(ctx, tn.ID, st.SchoolID, lv, day); err != nil && !errors.Is(err, booking.ErrNoTariff) {
					return fmt.Errorf("terminal: warm-up of tenant %d: %w", tn.ID, err)
				}
			}
		}
	}
	return nil
}
