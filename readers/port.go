package readers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// PortSpec says where a reader is plugged: a device path, or USB ids that
// are looked up again at every (re)connection because device numbers
// change on re-plug.
type PortSpec struct {
	// Path is a device path such as /dev/ttyUSB0 or, better, a stable
	// /dev/serial/by-id/… link. When set, the USB ids are ignored.
	Path string
	// VID and PID are USB vendor and product ids in hex ("1a86", "0x7523"),
	// compared case-insensitively.
	VID, PID string
	// Serial is the USB serial number; needed when several readers share
	// VID and PID.
	Serial string
	// List enumerates USB serial ports; nil means
	// enumerator.GetDetailedPortsList (for tests).
	List func() ([]*enumerator.PortDetails, error)
}

// Validate reports a spec that names no port.
func (s PortSpec) Validate() error {
	if s.Path == "" && (s.VID == "" || s.PID == "") {
		return errors.New("port: set a path, or both USB VID and PID")
	}
	return nil
}

// Find returns the device path to open. It returns an error wrapping
// ErrPortNotFound when nothing matches and ErrAmbiguousPort when several
// USB ports match.
func (s PortSpec) Find(ctx context.Context) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if s.Path != "" {
		if _, err := os.Stat(s.Path); err != nil { // follows by-id links
			return "", fmt.Errorf("%w: %s: %v", ErrPortNotFound, s.Path, err)
		}
		return s.Path, nil
	}
	list := s.List
	if list == nil {
		list = func() ([]*enumerator.PortDetails, error) { return enumerator.GetDetailedPortsList() }
	}
	ports, err := list()
	if err != nil {
		return "", fmt.Errorf("port: list USB serial ports: %w", err)
	}
	var names []string
	for _, p := range ports {
		if p == nil || !p.IsUSB || !sameHexID(p.VID, s.VID) || !sameHexID(p.PID, s.PID) {
			continue
		}
		if s.Serial != "" && p.SerialNumber != s.Serial {
			continue
		}
		names = append(names, p.Name)
	}
	want := fmt.Sprintf("USB %s:%s", s.VID, s.PID)
	if s.Serial != "" {
		want += " serial " + s.Serial
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrPortNotFound, want)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("%w: %s matches %s; set the serial number", ErrAmbiguousPort, want, strings.Join(names, ", "))
}

// sameHexID compares USB ids case-insensitively, ignoring a 0x prefix.
func sameHexID(a, b string) bool {
	trim := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
			s = s[2:]
		}
		return s
	}
	return strings.EqualFold(trim(a), trim(b))
}

// State is the connection state of a Reader.
type State string

// Reader states.
const (
	StateDisconnected State = "disconnected" // not open: not found yet, or waiting to retry
	StateConnected    State = "connected"    // port open, driver running
)

// Status is a snapshot of a Reader for status pages.
type Status struct {
	Name      string        `json:"name"`
	State     State         `json:"state"`
	Path      string        `json:"path,omitempty"`       // device path of the current or last session
	LastError string        `json:"last_error,omitempty"` // why the last session ended or the last attempt failed
	Since     time.Time     `json:"since"`                // when State last changed
	Stats     StatsSnapshot `json:"stats"`
}

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	// Name identifies the reader in logs and status (e.g. "canteen-1").
	Name string
	// Port says where to find the reader. Ignored when Find is set.
	Port PortSpec
	// Find returns the device path to open; nil means Port.Find.
	Find func(ctx context.Context) (string, error)
	// Driver decodes the reader's protocol. A package driver gets the
	// Reader's Stats, logger and clock; use one driver value per Reader.
	Driver Driver
	// Mode overrides the line settings; nil uses the driver's SerialMode
	// (9600 8N1 when it has none). InitialStatusBits should stay nil.
	Mode *serial.Mode
	// Debounce is the window for the same UID; 0 means DefaultDebounce,
	// negative turns debouncing off.
	Debounce time.Duration
	// MinBackoff and MaxBackoff bound the pause between reconnection
	// attempts, doubling from min to max; 0 means 250 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Sleep waits between attempts; nil sleeps for real (tests inject it).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps taps and status changes; nil means time.Now.
	Now func() time.Time
	// Logger receives connection events (info/warn) and noise (debug).
	Logger *slog.Logger
}

// Reader keeps one serial reader running: it finds and opens the port,
// runs the driver, debounces taps, and on unplug or read error closes the
// port, backs off and finds the reader again, until its context ends.
type Reader struct {
	cfg      ReaderConfig
	mode     serial.Mode
	stats    *Stats
	debounce *Debouncer
	log      *slog.Logger

	mu     sync.Mutex
	status Status
}

// modeDriver is implemented by drivers that know their line settings.
type modeDriver interface {
	SerialMode() serial.Mode
}

// NewReader checks cfg (including the driver's Validate method, when it
// has one) and returns a Reader that is not running yet.
func NewReader(cfg ReaderConfig) (*Reader, error) {
	if cfg.Driver == nil {
		return nil, fmt.Errorf("reader %q: no driver", cfg.Name)
	}
	if v, ok := cfg.Driver.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("reader %q: %w", cfg.Name, err)
		}
	}
	if cfg.Find == nil {
		if err := cfg.Port.Validate(); err != nil {
			return nil, fmt.Errorf("reader %q: %w", cfg.Name, err)
		}
		cfg.Find = cfg.Port.Find
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Reader{cfg: cfg, stats: new(Stats), log: cfg.Logger.With("reader", cfg.Name)}
	switch {
	case cfg.Mode != nil:
		r.mode = *cfg.Mode
	default:
		r.mode = serial.Mode{BaudRate: 9600, DataBits: 8}
		if m, ok := cfg.Driver.(modeDriver); ok {
			r.mode = m.SerialMode()
		}
	}
	if cfg.Debounce >= 0 {
		r.debounce = NewDebouncer(cfg.Debounce)
	}
	if d, ok := cfg.Driver.(interface{ observer() *Observer }); ok {
		*d.observer() = Observer{Stats: r.stats, Logger: r.log, Now: cfg.Now}
	}
	r.status = Status{Name: cfg.Name, State: StateDisconnected, Since: cfg.Now()}
	return r, nil
}

// Stats returns the live counters of this reader.
func (r *Reader) Stats() *Stats { return r.stats }

// Status returns the current state, last error and counters.
func (r *Reader) Status() Status {
	r.mu.Lock()
	s := r.status
	r.mu.Unlock()
	s.Stats = r.stats.Snapshot()
	return s
}

func (r *Reader) setState(st State, path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.State != st {
		r.status.Since = r.cfg.Now()
	}
	r.status.State = st
	if path != "" {
		r.status.Path = path
	}
	if err != nil {
		r.status.LastError = err.Error()
	}
}

// Run keeps the reader going until ctx is cancelled, calling emit for each
// debounced tap from Run's goroutine. It returns ctx.Err(); every other
// trouble (port missing, unplugged, driver error) is retried with backoff
// and shown in Status.
func (r *Reader) Run(ctx context.Context, emit func(Tap)) error {
	backoff := r.cfg.MinBackoff
	var lastErr string
	for {
		path, err := r.cfg.Find(ctx)
		if err == nil {
			var opened bool
			opened, err = r.session(ctx, path, emit)
			if opened {
				backoff = r.cfg.MinBackoff
			}
		}
		if ctx.Err() != nil {
			r.setState(StateDisconnected, "", nil)
			return ctx.Err()
		}
		r.setState(StateDisconnected, "", err)
		if err.Error() != lastErr { // log each new trouble once, not every retry
			r.log.Warn("reader unavailable", "err", err, "retry_in", backoff)
			lastErr = err.Error()
		} else {
			r.log.Debug("reader still unavailable", "err", err, "retry_in", backoff)
		}
		if err := r.cfg.Sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// session opens path and runs the driver until the port fails.
func (r *Reader) session(ctx context.Context, path string, emit func(Tap)) (opened bool, err error) {
	mode := r.mode
	port, err := serial.Open(path, &mode)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", path, err)
	}
	r.stats.Connects.Add(1)
	r.setState(StateConnected, path, nil)
	r.log.Info("reader connected", "path", path)
	// Closing the port unblocks a driver stuck in Read.
	stop := context.AfterFunc(ctx, func() { _ = port.Close() })
	err = r.cfg.Driver.Run(ctx, port, func(t Tap) { r.deliver(t, emit) })
	stop()
	_ = port.Close()
	r.stats.Disconnects.Add(1)
	if ctx.Err() == nil {
		r.log.Info("reader disconnected", "path", path, "err", err)
	}
	if err == nil {
		err = errors.New("driver stopped")
	}
	return true, fmt.Errorf("%s: %w", path, err)
}

// deliver debounces and forwards one tap.
func (r *Reader) deliver(t Tap, emit func(Tap)) {
	if r.debounce != nil && !r.debounce.Allow(t) {
		r.stats.Duplicates.Add(1)
		return
	}
	r.stats.Taps.Add(1)
	emit(t)
}
