package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestCanteenGauge: the portal sees the canteen busy while a device API
// request is served and just after, not for other requests.
func TestCanteenGauge(t *testing.T) {
	g := &canteenGauge{}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(g.middleware)
	var during bool
	r.POST("/api/v1/taps", func(c *gin.Context) { during = g.busy(); c.Status(http.StatusOK) })
	r.GET("/portal/", func(c *gin.Context) { during = g.busy(); c.Status(http.StatusOK) })
	serve := func(method, path string) {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	if g.busy() {
		t.Fatal("busy before any tap")
	}
	serve(http.MethodGet, "/portal/")
	if during || g.busy() {
		t.Fatal("a portal request made the canteen busy")
	}
	serve(http.MethodPost, "/api/v1/taps")
	if !during {
		t.Error("not busy while taps are served")
	}
	if !g.busy() {
		t.Error("not busy right after taps were served")
	}
}

// TestCanteenHeavy: heavy once device requests were in flight a quarter of
// the last window or more — not for a school's trickle of taps, which
// still makes the canteen busy — and no longer once they stop.
func TestCanteenHeavy(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := t0
	g := &canteenGauge{now: func() time.Time { return now }}
	// request runs a device request of d, then waits gap.
	request := func(d, gap time.Duration) {
		g.begin()
		now = now.Add(d)
		g.end()
		now = now.Add(gap)
	}
	// A tap every 200 ms, 5 ms each (2.5 %), for 3 s.
	for range 15 {
		request(5*time.Millisecond, 195*time.Millisecond)
	}
	if g.heavy() || !g.busy() {
		t.Fatalf("a trickle of taps: heavy %v, busy %v; want busy only", g.heavy(), g.busy())
	}
	// 1,000 taps/s: requests in flight most of the time, for 2 s.
	for range 400 {
		request(4*time.Millisecond, time.Millisecond)
	}
	if !g.heavy() {
		t.Fatal("requests in flight 80 % of the time: not heavy")
	}
	// Then nothing for 2 s.
	now = now.Add(2 * time.Second)
	if g.heavy() || g.busy() {
		t.Fatalf("2 s after the last tap: heavy %v, busy %v; want neither", g.heavy(), g.busy())
	}
	// Two requests overlapping count once: in flight 30 ms of the next 50
	// (not 40).
	g.begin()
	now = now.Add(10 * time.Millisecond)
	g.begin()
	now = now.Add(10 * time.Millisecond)
	g.end()
	now = now.Add(10 * time.Millisecond)
	g.end()
	now = now.Add(20 * time.Millisecond)
	if !g.heavy() || g.share < 0.59 || g.share > 0.61 {
		t.Fatalf("in flight 30 ms of 50: share %.3f, want 0.6 (heavy)", g.share)
	}
}
