package main

import (
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// canteenGauge tells the portal when the canteen's readers are being
// served, so that it yields the cores to them (issue 17: the canteen comes
// first): busy while a device API request is in flight or one ended within
// the last half second; heavy while, over the last measured window
// (heavyWindow or more), device API requests were in flight at least
// heavyShare of the time — the taps then need the processors, as at 1,000 taps/s beside the
// 8:00 rush, and the portal pauses between its requests (portal/shed.go).
// A canteen line of a real school (a few taps a second, each request a few
// milliseconds) keeps the portal busy-mode all lunch long but never heavy.
type canteenGauge struct {
	now func() time.Time // time.Now when nil

	mu        sync.Mutex
	inFlight  int
	since     time.Time     // when inFlight last went from 0 to 1
	busyTotal time.Duration // time with a request in flight, before since
	last      time.Time     // when the last request ended
	winStart  time.Time     // the current measuring window
	winBusy   time.Duration // busyTotal at winStart
	share     float64       // of the last complete window
}

// devicePrefix is where the device API's routes live (deviceapi.PathTaps …).
const devicePrefix = "/api/v1/"

const (
	// busyAfter is how long after a device request the canteen stays busy.
	busyAfter = 500 * time.Millisecond
	// heavyShare and heavyWindow: see canteenGauge. At 1,000 taps/s from
	// 16 devices requests are in flight 90–100 % of the time; a school's
	// 16 readers at a tap a second each, about 5 %. A short window: the
	// portal pauses within 50 ms of a tap load's start, when its first
	// groups are slowest (with a window of 250 ms, the first second of
	// taps beside the rush had a p99 of 128 ms against 75 without the
	// gate). A slow tap of a school's trickle may make one window heavy:
	// the portal then pauses once, briefly.
	heavyShare  = 0.25
	heavyWindow = 50 * time.Millisecond
)

func (g *canteenGauge) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// middleware counts the device API's requests; others pass untouched.
func (g *canteenGauge) middleware(c *gin.Context) {
	if !strings.HasPrefix(c.Request.URL.Path, devicePrefix) {
		c.Next()
		return
	}
	g.begin()
	defer g.end()
	c.Next()
}

func (g *canteenGauge) begin() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock()
	g.roll(now)
	if g.inFlight == 0 {
		g.since = now
	}
	g.inFlight++
}

func (g *canteenGauge) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock()
	g.inFlight--
	if g.inFlight == 0 {
		g.busyTotal += now.Sub(g.since)
	}
	g.last = now
	g.roll(now)
}

// roll closes the measuring window once it is heavyWindow old (g.mu held).
func (g *canteenGauge) roll(now time.Time) {
	if g.winStart.IsZero() {
		g.winStart = now
		return
	}
	span := now.Sub(g.winStart)
	if span < heavyWindow {
		return
	}
	busy := g.busyTotal
	if g.inFlight > 0 {
		busy += now.Sub(g.since)
	}
	g.share = float64(busy-g.winBusy) / float64(span)
	g.winStart, g.winBusy = now, busy
}

// busy reports whether taps are being served.
func (g *canteenGauge) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight > 0 || (!g.last.IsZero() && g.clock().Sub(g.last) < busyAfter)
}

// heavy reports whether the taps need the processors (see canteenGauge).
func (g *canteenGauge) heavy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(g.clock())
	return g.share >= heavyShare
}
