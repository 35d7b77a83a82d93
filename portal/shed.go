package portal

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/internal/password"
)

// Load shedding (issue 17). At 8:00 a few hundred parents open the portal
// at once; the canteen readers must keep their latency. The portal runs at
// most Deps.MaxInFlight requests at once (by default its pool's
// connections); the others wait in line up to Deps.MaxWait, and beyond
// that, or when more than Deps.MaxWaiting wait already, they get at once a
// 503 with Retry-After and a « réessayez dans un instant » page that reads
// nothing from the database.

// Default shedding limits.
const (
	// defaultInFlightPerCPU: the portal's requests are short and mostly
	// CPU (here and in PostgreSQL); more at once only queue on the cores
	// the canteen's taps need.
	defaultInFlightPerCPU = 4
	defaultMaxWait        = 3 * time.Second
	defaultMaxWaiting     = 400
	retryAfterSeconds     = 2
)

// shedder admits at most cap(slots) requests at once.
type shedder struct {
	slots      chan struct{}
	maxWait    time.Duration
	maxWaiting int64
	waiting    atomic.Int64
}

func newShedder(inFlight, waiting int, wait time.Duration) *shedder {
	return &shedder{slots: make(chan struct{}, inFlight), maxWait: wait, maxWaiting: int64(waiting)}
}

// admit waits for a slot; false when the request is shed.
func (s *shedder) admit(c *gin.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.waiting.Add(1) > s.maxWaiting {
		s.waiting.Add(-1)
		return false
	}
	defer s.waiting.Add(-1)
	t := time.NewTimer(s.maxWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-c.Request.Context().Done():
		return false
	}
}

// shed is the portal's first middleware: it admits the request or answers
// with the busy page.
func (a *App) shed(c *gin.Context) {
	if !a.shedder.admit(c) {
		a.busy(c)
		return
	}
	defer func() { <-a.shedder.slots }()
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
	p := page{Lang: a.lang(c, nil), Base: "/portal", Back: back, cat: a.Catalog}
	p.Title = p.T("portal.busy.title")
	c.Status(http.StatusServiceUnavailable)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := a.pages["busy"].ExecuteTemplate(c.Writer, "layout.html", p); err != nil {
		a.Log.Error("render", "page", "busy", "err", err)
	}
	c.Abort()
}

// isBusy reports whether err means the server is saturated (password
// checks), which the person may simply retry.
func isBusy(err error) bool { return errors.Is(err, password.ErrBusy) }
