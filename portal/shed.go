package portal

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
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
// While the taps need the processors (Deps.CanteenHeavy: device requests in
// flight a quarter of the time or more, as at 1,000 taps/s — not a school's
// lunch line), each portal request is also followed by busyIdleRatio times
// its own duration without portal work (at most busyIdleMax): one at a
// time, the portal still took all the processor time the taps left, and
// its processes crowded the taps' (see busyIdleRatio).
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
	// busyIdleRatio: while the taps need the processors, the portal works
	// at most a quarter of the time. Measured with 200 parents and taps at
	// 1,000/s on 2 cores (PERFORMANCE.md, portal rush, seventh pass): one
	// request at a time and no pause, the taps' requests p99 21–45 ms each
	// second after the first; with a pause of 3× each request, 12–20 ms
	// (the portal served 496–589 requests/s over the run instead of 711).
	busyIdleRatio = 3
	busyIdleMax   = 500 * time.Millisecond
)

// shedder admits at most slots.size requests at once (light pages first
// when they wait: admit.go), and at most cap(busySlots) while busy reports
// the canteen busy.
type shedder struct {
	slots      *lanes
	busySlots  chan struct{}
	busy       func() bool
	heavy      func() bool
	maxWait    time.Duration
	maxWaiting int64
	waiting    atomic.Int64

	mu        sync.Mutex
	nextStart time.Time // while busy, no portal request starts before
}

func newShedder(inFlight, inFlightBusy, waiting int, wait time.Duration, busy, heavy func() bool) *shedder {
	return &shedder{slots: newLanes(inFlight), busySlots: make(chan struct{}, inFlightBusy), busy: busy, heavy: heavy,
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
	if s.heavy == nil || !s.heavy() {
		return true, true
	}
	s.mu.Lock()
	pause := time.Until(s.nextStart)
	s.mu.Unlock()
	if pause > 0 {
		if !inLine() {
			s.releaseBusy(time.Time{})
			return false, false
		}
		t := time.NewTimer(pause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-timer.C:
			s.releaseBusy(time.Time{})
			return false, false
		case <-c.Request.Context().Done():
			s.releaseBusy(time.Time{})
			return false, false
		}
	}
	return true, true
}

// releaseBusy frees a busy slot and the slot, the request having started
// at start (zero: never started): the next busy one starts busyIdleRatio
// times its duration later (at most busyIdleMax).
func (s *shedder) releaseBusy(start time.Time) {
	if !start.IsZero() {
		now := time.Now()
		s.mu.Lock()
		s.nextStart = now.Add(min(now.Sub(start)*busyIdleRatio, busyIdleMax))
		s.mu.Unlock()
	}
	<-s.busySlots
	s.slots.release()
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
	if busySlot {
		defer a.shedder.releaseBusy(time.Now())
	} else {
		defer a.shedder.slots.release()
	}
	c.Next()
}

// busy answers 503 with Retry-After and the « réessayez dans un instant »
// page, without reading the session or anything else from the database.
func (a *App) busy(c *gin.Context) {
	web.Shed(c)
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
