package terminal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/policy"
	"tartine/school"
)

// ttlCache is a small map with expiry, for rows read on every tap that
// change rarely (stations, schools, shared ledger accounts, tariffs).
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, now func() time.Time) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, now: now, m: map[K]ttlEntry[V]{}}
}

// get returns the cached value or loads it. Errors are not cached.
func (c *ttlCache[K, V]) get(k K, load func() (V, error)) (V, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, nil
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
	st, err := s.stations.get(stationKey{tenantID, code}, func() (Station, error) {
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
	return s.schools.get(idKey{tenantID, schoolID}, func() (schoolInfo, error) {
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
	return s.accounts.get(codeKey{tenantID, code}, func() (int64, error) {
		a, err := s.ledger.AccountByCodeTx(ctx, tx, tenantID, code)
		if err != nil {
			return 0, fmt.Errorf("account %s: %w", code, err)
		}
		return a.ID, nil
	})
}
