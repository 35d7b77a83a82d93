package portal

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestLanesLightFirst: when a slot frees up, a request of the light lane
// (home, history) gets it before heavier requests that arrived a little
// earlier; each lane keeps its order; a heavy request that has waited most
// of its budget goes before a light one that has just come; a waiter that
// gives up leaves no slot behind.
func TestLanesLightFirst(t *testing.T) {
	l := newLanes(1)
	var mu sync.Mutex
	clock := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	if !l.tryAcquire() {
		t.Fatal("a free slot refused")
	}
	never := make(chan time.Time)
	got := make(chan string, 3)
	wait := func(name string, lane int) {
		if l.acquire(lane, never, nil) {
			got <- name
		}
	}
	queued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			l.mu.Lock()
			q := l.queued()
			l.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiting, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	serve := func(n int) []string {
		var order []string
		for range n {
			l.release()
			order = append(order, <-got)
		}
		return order
	}
	go wait("heavy 1", laneHeavy)
	queued(1)
	advance(10 * time.Millisecond)
	go wait("heavy 2", laneHeavy)
	queued(2)
	advance(100 * time.Millisecond)
	go wait("light", laneLight)
	queued(3)
	if got, want := serve(3), []string{"light", "heavy 1", "heavy 2"}; !slices.Equal(got, want) {
		t.Errorf("served %v, want %v", got, want)
	}
	// A booking that has waited 300 ms of its 400 goes before a home page
	// that has just come (its 150 ms end later), not before one that has
	// waited too.
	go wait("heavy 3", laneHeavy)
	queued(1)
	advance(300 * time.Millisecond)
	go wait("light 2", laneLight)
	queued(2)
	go wait("heavy 4", laneHeavy)
	queued(3)
	advance(200 * time.Millisecond)
	go wait("light 3", laneLight)
	queued(4)
	if got, want := serve(4), []string{"heavy 3", "light 2", "light 3", "heavy 4"}; !slices.Equal(got, want) {
		t.Errorf("served %v, want %v", got, want)
	}
	l.release()
	// A waiter that times out leaves the slot count whole.
	if !l.tryAcquire() {
		t.Fatal("slot lost")
	}
	timeout := make(chan time.Time, 1)
	timeout <- time.Time{}
	if l.acquire(laneLight, timeout, nil) {
		t.Fatal("acquired a taken slot")
	}
	l.release()
	if !l.tryAcquire() || l.tryAcquire() {
		t.Error("after a timed-out waiter: want exactly one free slot")
	}
}
