// Package bridgetest is a recording device-API server for tests and
// benchmarks of the bridge: it verifies the HMAC signature exactly as
// DESIGN.md states it (with its own code, not the bridge's Sign), answers
// POST /api/v1/taps idempotently by tap id and GET /api/v1/badges, and
// records every tap it received. It can be stopped and restarted on the same
// address to simulate an outage.
package bridgetest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	bridge "tartine/firmware-bridge"

	"tartine/internal/deviceapi"
)

// Server is a recording device API server on a loopback address.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL  string
	addr string

	devices map[string]string // device id → secret
	now     func() time.Time

	mu        sync.Mutex
	srv       *http.Server
	badges    map[string]bridge.Badge
	results   map[string]bridge.TapResult // first result by tap id
	taps      map[string]bridge.APITap    // first copy by tap id
	order     []string                    // tap ids in first-arrival order
	received  map[string]int              // deliveries per tap id
	requests  int
	authFails int
	delay     time.Duration
	status    int    // when non-zero, every request gets this status
	version   int    // badge list version: the cursor
	maxBatch  int    // taps per request; larger batches get 400 (0: MaxBatch)
	retry     string // Retry-After sent with a SetStatus answer
	tooLarge  int    // batches refused for their size
}

// New starts a server accepting the given devices (id → secret).
func New(devices map[string]string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr:     ln.Addr().String(),
		devices:  devices,
		now:      time.Now,
		badges:   make(map[string]bridge.Badge),
		results:  make(map[string]bridge.TapResult),
		taps:     make(map[string]bridge.APITap),
		received: make(map[string]int),
	}
	s.URL = "http://" + s.addr
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+bridge.PathTaps, s.handleTaps)
	mux.HandleFunc("GET "+bridge.PathBadges, s.handleBadges)
	srv := &http.Server{Handler: mux}
	s.srv = srv
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: the server is down.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Start listens again on the same address after Stop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after Close
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("bridgetest: relisten %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

// Close stops the server for good.
func (s *Server) Close() { s.Stop() }

// SetDelay makes every answer wait d (a slow server).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetStatus makes every request fail with status (0 restores normal answers).
func (s *Server) SetStatus(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// SetMaxBatch sets the most taps a request may carry (0: bridge.MaxBatch,
// as the real server); a larger batch is answered 400 with the real
// server's message.
func (s *Server) SetMaxBatch(n int) {
	s.mu.Lock()
	s.maxBatch = n
	s.mu.Unlock()
}

// SetRetryAfter sets the Retry-After header of the answers forced by
// SetStatus ("" for none).
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	s.retry = v
	s.mu.Unlock()
}

// SetNow sets the clock request timestamps are checked against (±300 s,
// as the real server; default time.Now).
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// SetBadge adds or changes a badge (status active or blocked).
func (s *Server) SetBadge(uid, status, name string) {
	s.mu.Lock()
	s.badges[uid] = bridge.Badge{UID: uid, Status: status, Name: name}
	s.version++
	s.mu.Unlock()
}

// Stats is what the server has seen.
type Stats struct {
	Requests   int
	AuthFails  int
	TooLarge   int // batches refused for their size (400)
	Unique     int // distinct tap ids
	Deliveries int // tap deliveries including replays of the same id
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: s.requests, AuthFails: s.authFails, TooLarge: s.tooLarge, Unique: len(s.order)}
	for _, n := range s.received {
		st.Deliveries += n
	}
	return st
}

// Taps returns each distinct tap once, in first-arrival order.
func (s *Server) Taps() []bridge.APITap {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bridge.APITap, len(s.order))
	for i, id := range s.order {
		out[i] = s.taps[id]
	}
	return out
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate checks the Authorization header as DESIGN.md specifies.
func (s *Server) authenticate(r *http.Request, body []byte) error {
	h := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, "Tartine-HMAC ")
	if !ok {
		return errors.New("missing Tartine-HMAC authorization")
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("malformed authorization field %q", kv)
		}
		fields[k] = v
	}
	secret, ok := s.devices[fields["device"]]
	if !ok {
		return fmt.Errorf("unknown device %q", fields["device"])
	}
	ts, err := strconv.ParseInt(fields["ts"], 10, 64)
	if err != nil {
		return errors.New("bad ts")
	}
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	if d := now().Unix() - ts; d > 300 || d < -300 {
		return fmt.Errorf("timestamp %d s off", d)
	}
	bodySum := sha256.Sum256(body)
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + fields["ts"] + "\n" + hex.EncodeToString(bodySum[:])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg))
	want := mac.Sum(nil)
	got, err := hex.DecodeString(fields["sig"])
	if err != nil || !hmac.Equal(got, want) {
		return errors.New("bad signature")
	}
	return nil
}

func (s *Server) begin(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"unreadable body"})
		return nil, false
	}
	s.mu.Lock()
	s.requests++
	delay, status, retry := s.delay, s.status, s.retry
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return nil, false
		}
	}
	if status != 0 {
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		writeJSON(w, status, apiError{http.StatusText(status)})
		return nil, false
	}
	if err := s.authenticate(r, body); err != nil {
		s.mu.Lock()
		s.authFails++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, apiError{err.Error()})
		return nil, false
	}
	return body, true
}

func (s *Server) handleTaps(w http.ResponseWriter, r *http.Request) {
	body, ok := s.begin(w, r)
	if !ok {
		return
	}
	var batch bridge.TapBatch
	if err := json.Unmarshal(body, &batch); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"malformed JSON: " + err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.maxBatch
	if limit == 0 {
		limit = bridge.MaxBatch
	}
	if len(batch.Taps) > limit {
		s.tooLarge++
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("terminal: malformed batch: %d taps, at most %d per request", len(batch.Taps), limit)})
		return
	}
	res := bridge.TapResults{Results: make([]bridge.TapResult, 0, len(batch.Taps))}
	for _, t := range batch.Taps {
		if first, ok := s.results[t.ID]; ok {
			s.received[t.ID]++
			res.Results = append(res.Results, first)
			continue
		}
		r := bridge.TapResult{ID: t.ID, Charged: "0.00"}
		b, known := s.badges[t.UID]
		switch {
		case t.ID == "" || t.UID == "" || t.Station == "" || t.ReadAt.IsZero():
			r.Verdict, r.Reason, r.Feedback = deviceapi.VerdictRefused, "invalid", deviceapi.FeedbackDeny
		case !known:
			r.Verdict, r.Reason, r.Feedback = deviceapi.VerdictRefused, "unknown_badge", deviceapi.FeedbackWarn
		case b.Status == deviceapi.BadgeBlocked:
			r.Verdict, r.Reason, r.Feedback = deviceapi.VerdictRefused, "blocked_badge", deviceapi.FeedbackDeny
		default:
			r.Verdict, r.Feedback, r.Charged = deviceapi.VerdictAccepted, deviceapi.FeedbackOK, "3.70"
			r.Display = &bridge.TapDisplay{Name: b.Name, Class: "P3A", Flags: []string{}}
		}
		if t.ID != "" {
			s.results[t.ID] = r
			s.taps[t.ID] = t
			s.order = append(s.order, t.ID)
			s.received[t.ID]++
		}
		res.Results = append(res.Results, r)
	}
	writeJSON(w, http.StatusOK, res)
}

// handleBadges returns every badge, or nothing when since is the current
// version (the cursor).
func (s *Server) handleBadges(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.begin(w, r); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := strconv.Itoa(s.version)
	d := bridge.BadgeDelta{Cursor: cur, Badges: []bridge.Badge{}}
	if r.URL.Query().Get("since") != cur {
		for _, b := range s.badges {
			d.Badges = append(d.Badges, b)
		}
	}
	writeJSON(w, http.StatusOK, d)
}
