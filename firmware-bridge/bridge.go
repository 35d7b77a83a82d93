// Package bridge is the edge daemon beside the badge readers: it takes taps
// from serial readers, stores each one durably in an outbox before the reader
// gets any feedback, sends the outbox to the server's device API in order
// (HMAC-signed, batched, with backoff), and decides locally from a badge cache
// when the server does not answer in time. It never talks to the database:
// only to the device API (see api.go for the contract).
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"tartine/firmware-bridge/fwproto"
	"tartine/readers"

	"tartine/internal/deviceapi"
)

// Options are the bridge's injectable dependencies; every field may be zero.
type Options struct {
	Logger     *slog.Logger
	Now        func() time.Time
	HTTPClient *http.Client
	// Jitter returns a random duration in [0, d); math/rand/v2 when nil.
	Jitter func(d time.Duration) time.Duration
}

// Bridge runs the readers, the outbox, the uplink and the badge cache.
type Bridge struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	jitter  func(time.Duration) time.Duration
	store   *Store
	client  *Client
	metrics *metrics

	in   chan submission
	kick chan struct{}

	mu      sync.Mutex
	waiters map[string]chan TapResult

	slots   []*slot
	byName  map[string]*slot
	started time.Time

	lastContact atomic.Int64 // unix nanoseconds of the last good server answer
	lastError   atomic.Pointer[string]
	badgeSync   atomic.Int64 // unix nanoseconds of the last badge refresh
}

// slot is one configured reader.
type slot struct {
	cfg       ReaderConfig
	reader    *readers.Reader             // nil for readers injected with Submit only
	fw        *fwproto.FirmwareDriver     // nil unless driver = tartine
	taps      atomic.Uint64               // taps stored
	resent    atomic.Uint64               // firmware resends recognised
	debounced atomic.Uint64               // firmware reads dropped by debounce
	last      atomic.Pointer[readers.Tap] // last tap stored
}

// sent returns the tap as the server gets it. A decimal line reader
// prints the number on the badge: that number is sent as it is (the server
// finds a badge by its uid or its printed number), not a hex conversion.
// Only ten-digit numbers are printed numbers to the server; a longer
// decimal id is sent as the hex it stands for.
func (s *slot) sent(t readers.Tap) readers.Tap {
	if s.cfg.Driver == "line-dec" && isPrintedNumber(t.Number) {
		t.UID = t.Number
	}
	return t
}

// isPrintedNumber reports whether n is a ten-digit printed badge number.
func isPrintedNumber(n string) bool {
	if len(n) != 10 {
		return false
	}
	for i := range len(n) {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// submission is a tap on its way to the outbox.
type submission struct {
	slot *slot
	tap  readers.Tap
	seen *SeenKey // firmware reads: (reader, boot, seq)
}

// ErrUnknownReader is returned by Submit for a reader name not configured.
var ErrUnknownReader = errors.New("bridge: unknown reader")

// New prepares a bridge on an open store. The reader ports are opened by Run.
func New(cfg Config, store *Store, opts Options) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d)
		}
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Uplink.RequestTimeout}
	}
	client, err := NewClient(cfg.ServerURL, cfg.DeviceID, cfg.Secret, hc, opts.Now)
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg:     cfg,
		log:     opts.Logger,
		now:     opts.Now,
		jitter:  opts.Jitter,
		store:   store,
		client:  client,
		in:      make(chan submission, 4096),
		kick:    make(chan struct{}, 1),
		waiters: make(map[string]chan TapResult),
		byName:  make(map[string]*slot),
		started: opts.Now(),
	}
	for _, rc := range cfg.Readers {
		s := &slot{cfg: rc}
		r, err := b.openReader(s)
		if err != nil {
			return nil, err
		}
		s.reader = r
		b.slots = append(b.slots, s)
		b.byName[rc.Name] = s
	}
	b.metrics = newMetrics(b)
	return b, nil
}

// Run opens the readers and runs until ctx ends. It returns ctx.Err() after a
// clean stop, or the error that prevented start-up (e.g. the status address
// is taken).
func (b *Bridge) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	srvErr := make(chan error, 1)
	if b.cfg.StatusAddr != "off" {
		stop, err := b.serveStatus(ctx, srvErr)
		if err != nil {
			return err
		}
		defer stop()
	}
	start(b.commitLoop)
	start(b.uplinkLoop)
	start(b.badgeLoop)
	for _, s := range b.slots {
		start(func(ctx context.Context) {
			_ = s.reader.Run(ctx, func(t readers.Tap) { b.enqueue(ctx, submission{slot: s, tap: s.sent(t)}) })
		})
	}
	b.log.Info("bridge running", "device", b.cfg.DeviceID, "server", b.cfg.ServerURL, "readers", len(b.slots), "outbox", b.store.Depth())
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case err = <-srvErr:
	}
	cancel()
	wg.Wait()
	return err
}

// Submit injects a tap as if reader name had read it (manual entry, tests,
// benchmarks). It returns once the tap is queued for the outbox, or
// ErrUnknownReader.
func (b *Bridge) Submit(ctx context.Context, name string, t readers.Tap) error {
	s, ok := b.byName[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownReader, name)
	}
	if t.ReadAt.IsZero() {
		t.ReadAt = b.now()
	}
	b.enqueue(ctx, submission{slot: s, tap: s.sent(t)})
	return ctx.Err()
}

func (b *Bridge) enqueue(ctx context.Context, s submission) {
	select {
	case b.in <- s:
	case <-ctx.Done():
	}
}

// commitLoop stores queued taps: everything waiting is written in one
// fsync'd transaction (group commit), then acknowledged and decided.
func (b *Bridge) commitLoop(ctx context.Context) {
	batch := make([]submission, 0, 512)
	for {
		batch = batch[:0]
		select {
		case s := <-b.in:
			batch = append(batch, s)
		case <-ctx.Done():
			return
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case s := <-b.in:
				batch = append(batch, s)
			default:
				break drain
			}
		}
		b.commit(ctx, batch)
	}
}

func (b *Bridge) commit(ctx context.Context, batch []submission) {
	entries := make([]Entry, len(batch))
	chans := make([]chan TapResult, len(batch))
	ids := make([]string, len(batch))
	b.mu.Lock()
	for i, s := range batch {
		id, err := uuid.NewV7()
		if err != nil { // only when the system random source fails
			id = uuid.New()
		}
		ids[i] = id.String()
		entries[i] = Entry{Seen: s.seen, Record: &Record{
			ID: ids[i], Station: s.slot.cfg.Station, Reader: s.slot.cfg.Name,
			UID: s.tap.UID, Tech: string(s.tap.Tech), ReadAt: s.tap.ReadAt,
		}}
		// Register before the commit: the uplink may send the tap as soon
		// as it is stored.
		chans[i] = make(chan TapResult, 1)
		b.waiters[ids[i]] = chans[i]
	}
	b.mu.Unlock()

	t0 := time.Now()
	dup, err := b.store.Append(entries, b.now())
	b.metrics.commitSeconds.Observe(time.Since(t0).Seconds())
	if err != nil {
		b.mu.Lock()
		for _, id := range ids {
			delete(b.waiters, id)
		}
		b.mu.Unlock()
		b.metrics.storeErrors.Inc()
		// No ack and no feedback: the firmware resends; other readers'
		// children see no light and tap again.
		b.log.Error("taps not stored", "err", err, "taps", len(batch))
		return
	}
	b.kickUplink()
	for i, s := range batch {
		if s.slot.fw != nil && s.seen != nil {
			if err := s.slot.fw.Ack(s.seen.Boot, s.seen.Seq); err != nil {
				b.log.Debug("ack not sent", "reader", s.slot.cfg.Name, "err", err)
			}
		}
		if dup[i] {
			b.mu.Lock()
			delete(b.waiters, ids[i])
			b.mu.Unlock()
			s.slot.resent.Add(1)
			b.metrics.resent.WithLabelValues(s.slot.cfg.Name).Inc()
			continue
		}
		s.slot.taps.Add(1)
		tap := s.tap
		s.slot.last.Store(&tap)
		b.metrics.taps.WithLabelValues(s.slot.cfg.Name).Inc()
		go b.decide(ctx, s, *entries[i].Record, chans[i])
	}
}

func (b *Bridge) kickUplink() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// decide waits for the server's verdict up to the offline deadline, then
// decides from the badge cache, and gives the reader its feedback.
func (b *Bridge) decide(ctx context.Context, s submission, rec Record, ch chan TapResult) {
	t := time.NewTimer(b.cfg.Offline.Deadline)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case res := <-ch:
		b.metrics.decisions.WithLabelValues("online", res.Feedback).Inc()
		b.feedback(s, res.Feedback, displayText(res))
	case <-t.C:
		b.mu.Lock()
		delete(b.waiters, rec.ID)
		b.mu.Unlock()
		level, text := b.localDecision(rec.UID)
		if err := b.store.MarkOffline(rec.Seq, level); err != nil {
			b.log.Error("offline mark not stored", "tap", rec.ID, "err", err)
		}
		b.metrics.decisions.WithLabelValues("offline", level).Inc()
		b.feedback(s, level, text)
	}
}

// localDecision: known active badge → ok, blocked → deny, unknown → the
// configured offline.unknown (warn by default).
func (b *Bridge) localDecision(uid string) (level, text string) {
	bd, ok, err := b.store.Badge(uid)
	switch {
	case err != nil:
		b.log.Error("badge cache lookup failed", "err", err)
		return b.cfg.Offline.Unknown, "Hors ligne"
	case !ok:
		return b.cfg.Offline.Unknown, "Badge inconnu"
	case bd.Status == deviceapi.BadgeBlocked:
		return deviceapi.FeedbackDeny, "Voir le personnel"
	default:
		return deviceapi.FeedbackOK, bd.Name
	}
}

// displayText is the reader display line for a server result; it never
// shows a refusal reason (debts are never shown to pupils).
func displayText(r TapResult) string {
	if r.Display == nil || r.Display.Name == "" {
		if r.Feedback == deviceapi.FeedbackDeny {
			return "Voir le personnel"
		}
		return ""
	}
	if r.Display.Class != "" {
		return r.Display.Name + " " + r.Display.Class
	}
	return r.Display.Name
}

func (b *Bridge) feedback(s submission, word, text string) {
	if s.slot.fw == nil || s.seen == nil {
		return
	}
	level, err := fwproto.ParseLevel(word)
	if err != nil {
		b.log.Warn("server feedback not understood", "feedback", word)
		level = fwproto.LevelWarn
	}
	if err := s.slot.fw.Feedback(s.seen.Boot, s.seen.Seq, level, text); err != nil {
		b.log.Debug("feedback not sent", "reader", s.slot.cfg.Name, "err", err)
	}
}

// uplinkLoop sends the outbox in order, batch by batch, until ctx ends.
//
// After a failure it waits with a bounded exponential backoff (jittered,
// and never less than the server's Retry-After), but a new tap stored
// meanwhile brings the next try forward (to a second after the failed one,
// or the Retry-After): the first tap after an outage is sent as soon as it
// is read, and the backlog with it. A batch the server refuses
// as too large (413, or 400 "… per request") is split: the batch size is
// halved for the rest of the run. Every 4xx is logged.
func (b *Bridge) uplinkLoop(ctx context.Context) {
	backoff := b.cfg.Uplink.MinBackoff
	limit := b.cfg.Uplink.BatchSize
	failing := false
	for {
		recs, err := b.store.Head(limit)
		if err != nil {
			b.log.Error("outbox unreadable", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-b.kick:
			}
			continue
		}
		tried := time.Now()
		err = b.send(ctx, recs)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			msg := err.Error()
			b.lastError.Store(&msg)
			var se *StatusError
			isStatus := errors.As(err, &se)
			switch {
			case isStatus && se.TooLarge() && len(recs) > 1:
				limit = max(1, len(recs)/2)
				b.metrics.requests.WithLabelValues("too_large").Inc()
				b.log.Warn("server refused the batch as too large; sending smaller batches", "err", err, "taps", len(recs), "batch_size", limit)
				continue // at once: nothing is wrong but the size
			case isStatus && se.Auth():
				b.metrics.requests.WithLabelValues("auth").Inc()
				b.log.Error("server refused the device credentials; taps are kept", "err", err, "outbox", b.store.Depth())
			case isStatus && se.Status >= 400 && se.Status < 500:
				b.metrics.requests.WithLabelValues("refused").Inc()
				b.log.Error("server refused the batch; taps are kept and sent again", "err", err, "taps", len(recs), "outbox", b.store.Depth())
			default:
				b.metrics.requests.WithLabelValues("error").Inc()
				if !failing {
					b.log.Warn("server unreachable; taps are kept and replayed", "err", err, "outbox", b.store.Depth())
				}
			}
			failing = true
			// Bounded exponential backoff with jitter: wait in [backoff/2,
			// backoff), and never less than the server's Retry-After.
			var floor time.Duration
			if isStatus {
				floor = se.RetryAfter
			}
			if !b.backoffWait(ctx, tried, max(backoff/2+b.jitter(backoff/2), floor), floor) {
				return
			}
			backoff = min(2*backoff, b.cfg.Uplink.MaxBackoff)
			continue
		}
		if failing {
			b.log.Info("server reachable again", "outbox", b.store.Depth())
		}
		failing = false
		b.lastError.Store(nil)
		backoff = b.cfg.Uplink.MinBackoff
		b.metrics.requests.WithLabelValues("ok").Inc()
	}
}

// kickedRetry bounds how soon after a failed try a new tap brings the next
// try forward.
const kickedRetry = time.Second

// backoffWait waits until wait after tried, or — when a new tap is stored
// meanwhile — until min(wait, kickedRetry) after tried, but never less
// than floor (the server's Retry-After). It returns false when ctx ends.
func (b *Bridge) backoffWait(ctx context.Context, tried time.Time, wait, floor time.Duration) bool {
	t := time.NewTimer(time.Until(tried.Add(wait)))
	defer t.Stop()
	kick := b.kick
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-kick:
			kick = nil // one is enough
			if early := tried.Add(max(min(wait, kickedRetry), floor)); early.Before(tried.Add(wait)) {
				t.Reset(time.Until(early))
			}
		}
	}
}

// send posts one batch and removes the taps the server answered for.
func (b *Bridge) send(ctx context.Context, recs []Record) error {
	taps := make([]APITap, len(recs))
	for i, r := range recs {
		taps[i] = r.API()
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Uplink.RequestTimeout)
	defer cancel()
	results, err := b.client.PostTaps(ctx, taps)
	if err != nil {
		return err
	}
	b.lastContact.Store(b.now().UnixNano())
	done := make([]uint64, 0, len(results))
	for _, r := range recs {
		res, ok := results[r.ID]
		if !ok {
			continue
		}
		done = append(done, r.Seq)
		b.metrics.delivered.WithLabelValues(res.Verdict).Inc()
		if r.Offline && r.Local != "" && r.Local != res.Feedback {
			b.metrics.overridden.Inc()
			b.log.Info("server verdict differs from the offline decision", "tap", r.ID, "uid", r.UID,
				"offline", r.Local, "server", res.Feedback, "verdict", res.Verdict, "reason", res.Reason)
		}
	}
	if err := b.store.Remove(done); err != nil {
		return err
	}
	b.mu.Lock()
	for _, r := range recs {
		if res, ok := results[r.ID]; ok {
			if ch, ok := b.waiters[r.ID]; ok {
				ch <- res
				delete(b.waiters, r.ID)
			}
		}
	}
	b.mu.Unlock()
	if len(done) < len(recs) {
		b.log.Warn("server answered for part of the batch; the rest is sent again", "sent", len(recs), "answered", len(done))
	}
	return nil
}

// badgeLoop refreshes the offline badge cache and prunes the firmware read
// index.
func (b *Bridge) badgeLoop(ctx context.Context) {
	lastPrune := time.Time{}
	for {
		if err := b.RefreshBadges(ctx); err != nil && ctx.Err() == nil {
			var se *StatusError
			if errors.As(err, &se) && se.Auth() {
				b.log.Error("badge refresh refused: check device id and secret", "err", err)
			} else {
				b.log.Warn("badge refresh failed", "err", err)
			}
		}
		if b.now().Sub(lastPrune) > time.Hour {
			if n, err := b.store.PruneSeen(b.now().Add(-24 * time.Hour)); err != nil {
				b.log.Error("prune failed", "err", err)
			} else if n > 0 {
				b.log.Debug("pruned firmware read index", "entries", n)
			}
			lastPrune = b.now()
		}
		if !sleepCtx(ctx, b.cfg.Offline.BadgeRefresh) {
			return
		}
	}
}

// RefreshBadges fetches badge deltas until the server has no more and stores
// them with the new cursor.
func (b *Bridge) RefreshBadges(ctx context.Context) error {
	for range 1000 {
		cursor, _, err := b.store.BadgeCursor()
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, b.cfg.Uplink.RequestTimeout)
		d, err := b.client.Badges(rctx, cursor)
		cancel()
		if err != nil {
			return err
		}
		b.lastContact.Store(b.now().UnixNano())
		if err := b.store.ApplyBadges(d); err != nil {
			return err
		}
		if !d.More {
			b.badgeSync.Store(b.now().UnixNano())
			if b.store.Depth() > 0 {
				b.kickUplink() // the server answers: replay now
			}
			return nil
		}
	}
	return errors.New("bridge: badge delta did not end after 1000 pages")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
