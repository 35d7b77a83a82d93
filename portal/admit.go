package portal

import (
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Admission in two lanes (issue 17), earliest deadline first. Each
// request that has to wait gets a deadline: its arrival plus its lane's
// budget — short for the light lane, pages that read a few rows (home,
// history, the forms), longer for the others (the month's calendar,
// bookings and every write, files). A freed slot goes to the waiter whose
// deadline comes first; each lane keeps its arrival order. At the 8:00
// rush, with 200 parents and no think time, the line is long: served
// strictly light first, a home page no longer waited behind calendars and
// bookings, but those then waited for every light page that came in after
// them and their tail went far past their goal while the light pages had
// time to spare. With deadlines, a light page still overtakes a booking
// that has just arrived, not one that has waited most of its budget: the
// waiting is shared as the goals share it (home and history p99 ≤ 250 ms,
// bookings page and book/cancel ≤ 500 ms). The budgets only order the
// line; nobody is refused for missing one (MaxWait does that).

const (
	laneLight = iota
	laneHeavy
	nLanes
)

// laneBudget is how long a request of each lane may wait before it comes
// first: a little under the lane's goal, the rest being its own work.
var laneBudget = [nLanes]time.Duration{laneLight: 150 * time.Millisecond, laneHeavy: 400 * time.Millisecond}

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

// lanes is a counting semaphore whose waiters are served earliest
// deadline first, each lane in arrival order.
type lanes struct {
	mu      sync.Mutex
	size    int
	free    int
	now     func() time.Time
	waiting [nLanes][]waiter
}

type waiter struct {
	ch  chan struct{}
	due time.Time
}

func newLanes(n int) *lanes { return &lanes{size: n, free: n, now: time.Now} }

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
	l.waiting[lane] = append(l.waiting[lane], waiter{ch: ch, due: l.now().Add(laneBudget[lane])})
	l.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-timeout:
	case <-done:
	}
	l.mu.Lock()
	for i, w := range l.waiting[lane] {
		if w.ch == ch {
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

// release frees a slot: to the waiter whose deadline comes first (the
// head of one of the lanes), else back to the pool.
func (l *lanes) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := -1
	for lane, w := range l.waiting {
		if len(w) > 0 && (first < 0 || w[0].due.Before(l.waiting[first][0].due)) {
			first = lane
		}
	}
	if first >= 0 {
		w := l.waiting[first]
		l.waiting[first] = w[1:]
		w[0].ch <- struct{}{}
		return
	}
	if l.free < l.size {
		l.free++
	}
}
