package terminal

import (
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"tartine/school"
)

// Event is one tap as a station screen shows it. It carries no amount of
// debt: LowBalance is the only money hint, shown as a discreet mark.
type Event struct {
	Seq          int64 // SSE id, increasing per hub
	TapID        string
	Station      string
	At           time.Time
	UID          string // badge uid (enrolment desk: assign an unknown badge)
	Verdict      string
	Reason       string
	Action       string
	Charged      decimal.Decimal
	PupilID      int64
	Name         string // "Emma D."
	Class        string
	HasPhoto     bool
	Diet         []string
	Allergens    []string
	AllergyNotes string
	Booking      string // canteen: booked | not_booked | free_meal
	LowBalance   bool
}

func (e *Event) fill(p *pupilRow) {
	e.PupilID = p.PupilID
	e.Name = school.DisplayName(p.FirstName, p.LastName)
	e.Class = p.Class
	e.HasPhoto = p.HasPhoto
	e.Diet = p.Diet
	e.Allergens = p.Allergens
	e.AllergyNotes = p.AllergyNotes
}

// Hub fans tap events out to the station screens connected to this server
// process, and keeps the latest events of each station for a screen that
// connects or reconnects (Last-Event-ID).
type Hub struct {
	keep int

	mu     sync.Mutex
	seq    int64
	recent map[hubKey][]Event
	subs   map[hubKey]map[chan Event]struct{}
}

type hubKey struct{ tenant, station int64 }

// NewHub returns a hub that remembers keep events per station.
func NewHub(keep int) *Hub {
	return &Hub{keep: keep, recent: map[hubKey][]Event{}, subs: map[hubKey]map[chan Event]struct{}{}}
}

// Publish records an event of a station and sends it to every subscriber.
// A subscriber too slow to take it loses it (it sees the gap by the ids and
// reloads).
func (h *Hub) Publish(tenantID, stationID int64, e Event) {
	k := hubKey{tenantID, stationID}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	r := append(h.recent[k], e)
	if len(r) > h.keep {
		r = r[len(r)-h.keep:]
	}
	h.recent[k] = r
	for ch := range h.subs[k] {
		select {
		case ch <- e:
		default:
		}
	}
}

// Subscribe returns the station's events after seq (those still kept) and
// a channel of the next ones; cancel ends the subscription.
func (h *Hub) Subscribe(tenantID, stationID, after int64) (backlog []Event, ch <-chan Event, cancel func()) {
	k := hubKey{tenantID, stationID}
	c := make(chan Event, 64)
	h.mu.Lock()
	for _, e := range h.recent[k] {
		if e.Seq > after {
			backlog = append(backlog, e)
		}
	}
	if h.subs[k] == nil {
		h.subs[k] = map[chan Event]struct{}{}
	}
	h.subs[k][c] = struct{}{}
	h.mu.Unlock()
	return backlog, c, func() {
		h.mu.Lock()
		delete(h.subs[k], c)
		h.mu.Unlock()
	}
}

// Recent returns up to n latest events of a station, newest first.
func (h *Hub) Recent(tenantID, stationID int64, n int) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.recent[hubKey{tenantID, stationID}]
	out := make([]Event, 0, min(n, len(r)))
	for i := len(r) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, r[i])
	}
	return out
}
