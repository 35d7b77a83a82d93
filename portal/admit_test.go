package portal

import (
	"testing"
	"time"
)

// TestLanesLightFirst: when a slot frees up, the longest-waiting request of
// the light lane (home, history) gets it before heavier requests that
// waited longer; each lane keeps its order; a waiter that gives up leaves
// no slot behind.
func TestLanesLightFirst(t *testing.T) {
	l := newLanes(1)
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
	go wait("heavy 1", laneHeavy)
	queued(1)
	go wait("heavy 2", laneHeavy)
	queued(2)
	go wait("light", laneLight)
	queued(3)
	var order []string
	for range 3 {
		l.release()
		order = append(order, <-got)
	}
	if want := []string{"light", "heavy 1", "heavy 2"}; order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("served %v, want %v", order, want)
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
