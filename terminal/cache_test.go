package terminal

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestCacheRefreshAhead: an entry expired for less than stale is served
// at once while one background load replaces it; an older one is loaded
// by the caller; a failed background load keeps the old value and is
// tried again.
func TestCacheRefreshAhead(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 11, 59, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	at := func(d time.Duration) { now.Store(t0.Add(d).UnixNano()) }
	c := newTTLCache[string, int](10*time.Second, 50*time.Second, clock)

	var loads atomic.Int32
	release := make(chan struct{})
	var fail atomic.Bool
	load := func(context.Context) (int, error) {
		n := loads.Add(1)
		if n > 1 {
			<-release // a background load waits for the test
		}
		if fail.Load() {
			return 0, errors.New("database away")
		}
		return int(n), nil
	}
	get := func() int {
		t.Helper()
		v, err := c.get(ctx, "k", load)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != 1 {
		t.Fatalf("first get %d, want 1 (loaded by the caller)", v)
	}
	at(15 * time.Second) // expired, within stale
	if v := get(); v != 1 {
		t.Fatalf("expired get %d, want the old 1 at once", v)
	}
	waitFor(t, func() bool { return loads.Load() == 2 })
	if v := get(); v != 1 || loads.Load() != 2 {
		t.Fatalf("second expired get %d after %d loads, want 1 with one background load", v, loads.Load())
	}
	release <- struct{}{}
	waitFor(t, func() bool { return c.peek("k") == 2 })
	if v := get(); v != 2 {
		t.Fatalf("after the refresh %d, want 2", v)
	}

	// A failed refresh keeps the value; the next get tries again.
	at(30 * time.Second)
	fail.Store(true)
	get()
	release <- struct{}{}
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.m["k"].refreshing })
	v := get()
	waitFor(t, func() bool { return loads.Load() == 4 })
	if v != 2 {
		t.Fatalf("after a failed refresh %d after %d loads, want the old 2 and a new try", v, loads.Load())
	}
	fail.Store(false)
	release <- struct{}{}
	waitFor(t, func() bool { return c.peek("k") == 4 })

	// Past ttl and stale: the caller loads, and waits for it.
	at(30*time.Second + 61*time.Second)
	done := make(chan int)
	go func() { v, _ := c.get(ctx, "k", load); done <- v }()
	select {
	case v := <-done:
		t.Fatalf("a long-expired entry was served (%d) without loading", v)
	case <-time.After(50 * time.Millisecond):
	}
	release <- struct{}{}
	if v := <-done; v != 5 {
		t.Fatalf("long-expired get %d, want the new 5", v)
	}
}

// peek is the cached value of k, 0 when absent.
func (c *ttlCache[K, V]) peek(k K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k].v
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWarm: after Warm, the device, every station, the school, today's
// calendar and the P3 meal tariff are cached: a tap reads none of them.
func TestWarm(t *testing.T) {
	f := newFixture(t)
	must(t, f.svc.Warm(f.ctx))
	if _, ok := f.svc.devices.rows.m[devID]; !ok {
		t.Error("device not cached")
	}
	for code := range f.station {
		if st := f.svc.stations.peek(stationKey{f.tenant, code}); st.ID != f.station[code] {
			t.Errorf("station %s cached as %+v", code, st)
		}
	}
	if sc := f.svc.schools.peek(idKey{f.tenant, f.school}); sc.ID != f.school {
		t.Errorf("school cached as %+v", sc)
	}
	day := monday.Format(time.DateOnly)
	if _, ok := f.svc.openDays.m[dayKey{f.tenant, f.school, day}]; !ok {
		t.Errorf("calendar of %s not cached", day)
	}
	if tr := f.svc.mealTariffs.peek(tariffKey{f.tenant, f.school, "repas", "P3", day}); !tr.BookedPrice.Equal(dec("3.70")) {
		t.Errorf("P3 meal tariff cached as %+v", tr)
	}
}
