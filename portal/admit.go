package portal

import (
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Admission in two lanes (issue 17). When every slot is taken, a freed
// slot goes to the longest-waiting request of the light lane first —
// pages that read a few rows (home, history, the forms) — and only then to
// the others (the month's calendar, bookings and every write, files). The
// shortest first: at the 8:00 rush, with 200 parents and no think time,
// the line is long, and a home page waiting behind calendars and bookings
// took as long as they did. The heavy lane never starves in practice: a
// parent waits for each answer before asking the next, so the light lane
// holds at most the parents that are not waiting in the other.

const (
	laneLight = iota
	laneHeavy
	nLanes
)

// lightRoutes are the GET routes of the light lane.
var lightRoutes = map[string]bool{
	"/portal":                          true,
	"/portal/":                         true,
	"/portal/login":                    true,
	"/portal/register":                 true,
	"/portal/forgot":                   true,
	"/portal/settings":                 true,
	"/portal/link":                     true,
	"/portal/c/:tenant/:pupil/history": true,
	"/portal/c/:tenant/:pupil/history/chart.svg": true,
}

// laneOf is the request's lane.
func laneOf(c *gin.Context) int {
	if (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) && lightRoutes[c.FullPath()] {
		return laneLight
	}
	return laneHeavy
}

// lanes is a counting semaphore whose waiters are served lane by lane,
// each lane in arrival order.
type lanes struct {
	mu      sync.Mutex
	size    int
	free    int
	waiting [nLanes][]chan struct{}
}

func newLanes(n int) *lanes { return &lanes{size: n, free: n} }

// tryAcquire takes a slot if one is free and nobody waits.
func (l *lanes) tryAcquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free > 0 && l.queued() == 0 {
		l.free--
		return true
	}
	return false
}

func (l *lanes) queued() int {
	n := 0
	for _, w := range l.waiting {
		n += len(w)
	}
	return n
}

// acquire waits in lane for a slot until timeout or done; true with a slot.
func (l *lanes) acquire(lane int, timeout <-chan time.Time, done <-chan struct{}) bool {
	l.mu.Lock()
	if l.free > 0 && l.queued() == 0 {
		l.free--
		l.mu.Unlock()
		return true
	}
	ch := make(chan struct{}, 1)
	l.waiting[lane] = append(l.waiting[lane], ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-timeout:
	case <-done:
	}
	l.mu.Lock()
	for i, w := range l.waiting[lane] {
		if w == ch {
			l.waiting[lane] = append(l.waiting[lane][:i], l.waiting[lane][i+1:]...)
			l.mu.Unlock()
			return false
		}
	}
	l.mu.Unlock()
	// Granted meanwhile: hand it on.
	<-ch
	l.release()
	return false
}

// release frees a slot: to the first waiter of the first lane that has
// one, else back to the pool.
func (l *lanes) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for lane := range l.waiting {
		if w := l.waiting[lane]; len(w) > 0 {
			l.waiting[lane] = w[1:]
			w[0] <- struct{}{}
			return
		}
	}
	if l.free < l.size {
		l.free++
	}
}
