package terminal

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Group commit of taps: the execution strategy of the taps that arrive
// together. They are applied in one tap transaction (unit.go) whatever
// their number, from all requests and devices; a tap that cannot be
// decided in its group, and every tap of a group that failed, is applied
// alone by the same path (applyAlone), after the group.
//
// Ordering: the taps of one request and badge uid are submitted one after
// the other (ApplyBatch), and a group holds at most one tap per uid and per
// tap id, so a uid's taps keep their order.

// Tuning of the group commit.
const (
	// maxGroup bounds the taps of one group.
	maxGroup = 128
	// groupsInFlight bounds the groups running at once. One runs as a
	// rule: a group's statements, locks and commit cost the database about
	// the same whatever its size, and two groups at once contend for the
	// same index pages and locks; with one, groups are about twice as large
	// and a tap costs a quarter less CPU, server and database
	// (docs/PERFORMANCE-terminal.md, "Third pass"). A second one runs while
	// more than a full group waits (a bridge's backlog): its groups are
	// full either way, and the backlog goes through faster.
	groupsInFlight = 2
	// maxQueued bounds the taps waiting for a group (the queue's memory):
	// past it a request is refused with ErrBusy (503, Retry-After) before
	// anything of it is queued, unless the queue is empty. A bridge keeps
	// such taps in its outbox and sends them again.
	maxQueued = 4096
)

// ErrBusy is returned when more taps wait for a group than the server
// queues (maxQueued): the device API answers 503 with Retry-After.
var ErrBusy = errors.New("terminal: too many taps waiting, retry later")

type groupOutcome struct {
	res   Result
	alone bool // apply it alone (applyAlone)
}

// GroupStats counts the work of the group commit since the Service
// started.
type GroupStats struct {
	Groups  int64 // groups committed
	Failed  int64 // groups rolled back (their taps applied alone)
	Grouped int64 // taps applied in a committed group
	Alone   int64 // taps that left their group
	Largest int64 // taps in the largest group
	Shed    int64 // taps refused with ErrBusy (queue full)
	Peak    int64 // most taps waiting at once
}

// GroupStats returns the counters of the group commit.
func (s *Service) GroupStats() GroupStats {
	g := s.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// grouper collects taps into groups.
type grouper struct {
	s     *Service
	stats GroupStats // under mu

	mu      sync.Mutex
	queue   []*unitTap
	running int // run loops
	max     int // maxQueued; tests set less
}

// submit queues taps for the next groups, all at once, and waits for
// their outcomes.
func (g *grouper) submit(ctx context.Context, gts ...*unitTap) ([]groupOutcome, error) {
	for _, gt := range gts {
		gt.done = make(chan groupOutcome, 1)
	}
	g.mu.Lock()
	if len(g.queue) > 0 && len(g.queue)+len(gts) > g.max {
		g.stats.Shed += int64(len(gts))
		g.mu.Unlock()
		return nil, ErrBusy
	}
	g.queue = append(g.queue, gts...)
	g.stats.Peak = max(g.stats.Peak, int64(len(g.queue)))
	// One run loop as a rule, a second while more than a full group waits.
	loops := 0
	if g.running == 0 {
		loops++
	}
	if g.running+loops < groupsInFlight && len(g.queue) > maxGroup {
		loops++
	}
	g.running += loops
	g.mu.Unlock()
	for range loops {
		go g.run()
	}
	outs := make([]groupOutcome, len(gts))
	for i, gt := range gts {
		select {
		case outs[i] = <-gt.done:
		case <-ctx.Done():
			// The taps may still be applied by their groups: a retry of
			// the request gets the same answers (idempotent per tap id).
			return nil, ctx.Err()
		}
	}
	return outs, nil
}

// run runs groups while taps are waiting; of two run loops, one stops
// once less than half a group waits.
func (g *grouper) run() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 || (g.running > 1 && len(g.queue) < maxGroup/2) {
			g.running--
			g.mu.Unlock()
			return
		}
		taps := g.take()
		g.mu.Unlock()
		g.s.runGroup(taps)
	}
}

// take removes the next group from the queue (g.mu held): queued taps of
// the first tap's tenant, in order, at most one per uid and per tap id, at
// most maxGroup. The others keep their place.
func (g *grouper) take() []*unitTap {
	tenant := g.queue[0].tenantID
	uids, ids := map[string]bool{}, map[string]bool{}
	var out []*unitTap
	rest := g.queue[:0]
	for _, gt := range g.queue {
		if len(out) < maxGroup && gt.tenantID == tenant && !uids[gt.tap.UID] && !ids[gt.tap.ID] {
			uids[gt.tap.UID], ids[gt.tap.ID] = true, true
			out = append(out, gt)
			continue
		}
		rest = append(rest, gt)
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	return out
}

// groupTimeout bounds a group's work; its taps are then applied alone.
const groupTimeout = 30 * time.Second

// runGroup applies taps (of one tenant, distinct uids and ids) in one
// transaction (applyUnit) and answers each of them.
func (s *Service) runGroup(taps []*unitTap) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	states, err := s.applyUnit(ctx, taps, false)
	committed := err == nil
	if err != nil {
		s.log.Debug("tap group failed: its taps are applied alone", "taps", len(taps), "err", err)
	}
	var grouped, alone int64
	for i, gt := range taps {
		if committed && states[i] != nil {
			st := states[i]
			gt.done <- groupOutcome{res: st.res}
			grouped++
		} else {
			gt.done <- groupOutcome{alone: true}
			alone++
		}
	}
	g := s.groups
	g.mu.Lock()
	if committed {
		g.stats.Groups++
	} else if grouped+alone > 0 {
		g.stats.Failed++
	}
	g.stats.Grouped += grouped
	g.stats.Alone += alone
	g.stats.Largest = max(g.stats.Largest, int64(len(taps)))
	g.mu.Unlock()
}
