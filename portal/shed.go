package portal

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/internal/password"
	"tartine/internal/web"
)

// Load shedding (issue 17). At 8:00 a few hundred parents open the portal
// at once; the canteen readers must keep their latency. The portal runs at
// most Deps.MaxInFlight requests at once (by default four per processor),
// and only Deps.MaxInFlightBusy (one per two processors) while
// Deps.CanteenBusy says taps are being served: the canteen comes first.
// The others wait in line up to Deps.MaxWait, and beyond that, or when
// more than Deps.MaxWaiting wait already, they get at once a 503 with
// Retry-After and a « réessayez dans un instant » page that reads nothing
// from the database.

// Default shedding limits.
const (
	// While taps are served the portal's requests (short, mostly CPU here
	// and in PostgreSQL) run one per two processors at most (portal.New):
	// more at once take the cores the taps need. Measured with 200 parents
	// and taps at 1,000/s on 2 cores (PERFORMANCE.md): 8 portal requests at
	// once, tap p99 13 s; 2, 1.0–2.4 s; 1, 0.36 s (taps alone: 36 ms).
	// defaultInFlightPerCPU: otherwise four per processor. Measured with
	// 200 parents on 2 cores (PERFORMANCE.md): 8 at once, 525 requests/s
	// and p99 ≤ 1 s; 32 (the pool), 354/s and p99 up to 2.2 s.
	defaultInFlightPerCPU = 4
	defaultMaxWait        = 3 * time.Second
	defaultMaxWaiting     = 400
	retryAfterSeconds     = 2
)

// shedder admits at most slots.size requests at once (light pages first
// when they wait: admit.go), and at most cap(busySlots) while busy reports
// the canteen busy.
type shedder struct {
	slots      *lanes
	busySlots  chan struct{}
	busy       func() bool
	maxWait    time.Duration
	maxWaiting int64
	waiting    atomic.Int64
}

func newShedder(inFlight, inFlightBusy, waiting int, wait time.Duration, busy func() bool) *shedder {
	return &shedder{slots: newLanes(inFlight), busySlots: make(chan struct{}, inFlightBusy), busy: busy,
		maxWait: wait, maxWaiting: int64(waiting)}
}

// admit waits for a slot (and, while the canteen is busy, a busy slot),
// MaxWait in all; false when the request is shed. The caller releases
// what it got.
func (s *shedder) admit(c *gin.Context) (admitted, busySlot bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
			s.waiting.Add(-1)
		}
	}()
	inLine := func() bool {
		if timer == nil {
			if s.waiting.Add(1) > s.maxWaiting {
				s.waiting.Add(-1)
				return false
			}
			timer = time.NewTimer(s.maxWait)
		}
		return true
	}
	take := func(ch chan struct{}) bool {
		select {
		case ch <- struct{}{}:
			return true
		default:
		}
		if !inLine() {
			return false
		}
		select {
		case ch <- struct{}{}:
			return true
		case <-timer.C:
			return false
		case <-c.Request.Context().Done():
			return false
		}
	}
	if !s.slots.tryAcquire() && (!inLine() || !s.slots.acquire(laneOf(c), timer.C, c.Request.Context().Done())) {
		return false, false
	}
	if s.busy == nil || !s.busy() {
		return true, false
	}
	if !take(s.busySlots) {
		s.slots.release()
		return false, false
	}
	return true, true
}

// shed is the portal's first middleware: it admits the request or answers
// with the busy page.
func (a *App) shed(c *gin.Context) {
	if c.Request.Method == http.MethodPost && c.Request.URL.Path == "/portal/login" {
		// A login spends its time in the password check, which has its
		// own bound (password.Shared): holding a slot meanwhile would
		// stall the pages of parents already logged in.
		c.Next()
		return
	}
	ok, busySlot := a.shedder.admit(c)
	if !ok {
		a.busy(c)
		return
	}
	defer func() {
		if busySlot {
			<-a.shedder.busySlots
		}
		a.shedder.slots.release()
	}()
	c.Next()
}

// busy answers 503 with Retry-After and the « réessayez dans un instant »
// page, without reading the session or anything else from the database.
func (a *App) busy(c *gin.Context) {
	c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
	c.Header("Cache-Control", "no-store")
	back := "/portal/"
	if c.Request.Method == http.MethodGet {
		back = c.Request.URL.RequestURI()
	}
	p := page{Page: web.Page{Lang: a.lang(c, nil), Cat: a.Catalog}, Base: "/portal", Back: back}
	p.Title = p.T("portal.busy.title")
	if err := web.Render(c, http.StatusServiceUnavailable, a.pages["busy"], "layout.html", p); err != nil {
		a.Log.Error("render", "page", "busy", "err", err)
		c.String(http.StatusServiceUnavailable, "%s", p.Title)
	}
	c.Abort()
}

// isBusy reports whether err means the server is saturated (password
// checks), which the person may simply retry.
func isBusy(err error) bool { return errors.Is(err, password.ErrBusy) }
