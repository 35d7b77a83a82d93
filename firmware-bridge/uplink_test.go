package bridge_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bridge "tartine/firmware-bridge"
	"tartine/firmware-bridge/bridgetest"
	"tartine/firmware-bridge/sim"
	"tartine/readers"

	"tartine/internal/deviceapi"
)

// logBuffer collects a bridge's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines that contain every one of words.
func (l *logBuffer) lines(words ...string) []string {
	var out []string
	for line := range strings.Lines(l.String()) {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// startLogged runs a bridge whose log goes to the returned buffer.
func startLogged(t *testing.T, cfg bridge.Config, opts bridge.Options) (*bridge.Bridge, *bridge.Store, *logBuffer) {
	t.Helper()
	logs := new(logBuffer)
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := bridge.OpenStore(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(cfg, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
		if t.Failed() {
			t.Logf("bridge log:\n%s", logs.String())
		}
	})
	return b, st, logs
}

func newServer(t *testing.T) *bridgetest.Server {
	t.Helper()
	srv, err := bridgetest.New(map[string]string{testDevice: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestBatchSizeAboveServerLimit: the server takes at most 500 taps per
// request; a larger uplink.batch_size is refused at start, naming the key.
func TestBatchSizeAboveServerLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bridge.toml")
	src := fmt.Sprintf(`device_id = "d1"
secret = %q
server_url = "http://127.0.0.1:1"
data_dir = %q
[uplink]
batch_size = 1000
[[reader]]
name = "r"
station = "canteen-1"
driver = "rdm6300"
path = "/dev/null"
`, testSecret, dir)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := bridge.LoadConfig(path, nil)
	if err == nil || !strings.Contains(err.Error(), "uplink.batch_size") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("LoadConfig with batch_size 1000 = %v, want an error naming uplink.batch_size and the limit 500", err)
	}
	cfg := testConfig(t, "http://127.0.0.1:1", bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "rdm6300", Path: "/dev/null"})
	cfg.Uplink.BatchSize = bridge.MaxBatch + 1
	st, err := bridge.OpenStore(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := bridge.New(cfg, st, bridge.Options{}); err == nil || !strings.Contains(err.Error(), "uplink.batch_size") {
		t.Errorf("New with batch_size %d = %v, want refused", cfg.Uplink.BatchSize, err)
	}
}

// submitOffline stores n taps while the server is down, so that they leave
// the outbox in one batch when it is back.
func submitOffline(t *testing.T, b *bridge.Bridge, st *bridge.Store, srv *bridgetest.Server, n int) {
	t.Helper()
	srv.Stop()
	ctx := context.Background()
	for i := range n {
		if err := b.Submit(ctx, "r", readers.Tap{UID: fmt.Sprintf("AA%06X", i), Tech: readers.TechISO14443A}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "taps stored", func() bool { return st.Depth() == n })
}

// TestUplinkSplitsBatchTooLarge: a server that answers 400 "at most N per
// request" gets smaller batches, and the outbox drains exactly once.
func TestUplinkSplitsBatchTooLarge(t *testing.T) {
	srv := newServer(t)
	srv.SetMaxBatch(40)
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "line-hex", Path: "/nonexistent/tty"})
	b, st, logs := startLogged(t, cfg, bridge.Options{})
	submitOffline(t, b, st, srv, 300)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "outbox drained", func() bool { return st.Depth() == 0 })
	s := srv.Stats()
	if s.Unique != 300 || s.Deliveries != 300 {
		t.Errorf("server has %d taps in %d deliveries, want 300 once each", s.Unique, s.Deliveries)
	}
	if s.TooLarge == 0 {
		t.Error("the server refused no batch: the test did not exercise the split")
	}
	if l := logs.lines("too large", "400"); len(l) == 0 {
		t.Errorf("the 400 was not logged:\n%s", logs.String())
	}
}

// TestUplinkLogsEvery4xx: a server that refuses every batch (422) keeps the
// taps, and each refusal is logged at error level with its status.
func TestUplinkLogsEvery4xx(t *testing.T) {
	srv := newServer(t)
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "line-hex", Path: "/nonexistent/tty"})
	b, st, logs := startLogged(t, cfg, bridge.Options{})
	srv.SetStatus(422)
	if err := b.Submit(context.Background(), "r", readers.Tap{UID: "AABBCCDD", Tech: readers.TechISO14443A}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "three refusals logged", func() bool { return len(logs.lines("level=ERROR", "422")) >= 3 })
	if d := st.Depth(); d != 1 {
		t.Errorf("outbox depth %d, want the tap kept", d)
	}
	srv.SetStatus(0)
	waitFor(t, 5*time.Second, "delivery after the refusals", func() bool { return st.Depth() == 0 && srv.Stats().Unique == 1 })
}

// TestReplayStartsOnNewTap: after an outage, with the uplink backing off
// for 20 s, a new tap brings the next try forward: the backlog is sent
// within a second or so, and the status page forgets the outage's error.
func TestReplayStartsOnNewTap(t *testing.T) {
	srv := newServer(t)
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "line-hex", Path: "/nonexistent/tty"})
	cfg.Uplink.MinBackoff, cfg.Uplink.MaxBackoff = 20*time.Second, 20*time.Second
	cfg.Offline.BadgeRefresh = time.Hour // only the new tap may bring the replay forward
	full := func(d time.Duration) time.Duration { return d }
	b, st, _ := startLogged(t, cfg, bridge.Options{Jitter: full})
	waitFor(t, 5*time.Second, "first badge sync", func() bool { return b.Status().BadgeSync != nil })

	srv.Stop()
	ctx := context.Background()
	if err := b.Submit(ctx, "r", readers.Tap{UID: "AA000001", Tech: readers.TechISO14443A}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a failed send", func() bool { return b.Status().LastError != "" })
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Submit(ctx, "r", readers.Tap{UID: "AA000002", Tech: readers.TechISO14443A}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the backlog replayed after the new tap", func() bool { return st.Depth() == 0 && srv.Stats().Unique == 2 })
	if s := b.Status(); s.LastError != "" {
		t.Errorf("status still shows %q after the server answered again", s.LastError)
	}
}

// TestLineReaderConfig: through the bridge, a Wiegand reader reports tech
// wiegand; a decimal reader sends the printed number, which the offline
// cache also knows; a line-hex reader takes only the configured lengths.
func TestLineReaderConfig(t *testing.T) {
	srv := newServer(t)
	srv.SetBadge("0100CDA4EC", deviceapi.BadgeActive, "Emma D.")
	open := func(f sim.Format) *sim.Reader {
		r, err := sim.Open(f, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	wg, dec, hx := open(sim.FormatLineHex), open(sim.FormatLineDec), open(sim.FormatLineHex)
	cfg := testConfig(t, srv.URL,
		bridge.ReaderConfig{Name: "wg", Station: "canteen-1", Driver: "wiegand", Path: wg.Path()},
		bridge.ReaderConfig{Name: "dec", Station: "canteen-2", Driver: "line-dec", Tech: "em4100", Path: dec.Path()},
		bridge.ReaderConfig{Name: "hex", Station: "canteen-3", Driver: "line-hex", Lengths: []int{8}, Path: hx.Path()},
	)
	cfg.SetDefaults()
	b, st, _ := startLogged(t, cfg, bridge.Options{})
	waitFor(t, 5*time.Second, "readers connected and badges cached", func() bool {
		s := b.Status()
		for _, r := range s.Readers {
			if r.State != readers.StateConnected {
				return false
			}
		}
		return s.BadgesCached == 1
	})
	// A terminator first: a line reader takes the first line after a
	// silence or a line end (the port may open mid-line).
	for _, r := range []*sim.Reader{wg, dec, hx} {
		if err := r.WriteRaw([]byte("\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := wg.WriteRaw([]byte(readers.EncodeWiegand([]byte{0x12, 0x34, 0x56}) + "\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := dec.Tap(ctx, []byte{0x01, 0x00, 0xCD, 0xA4, 0xEC}); err != nil { // prints 0013477100
		t.Fatal(err)
	}
	if err := hx.Tap(ctx, []byte{0x01, 0x00, 0xCD, 0xA4, 0xEC}); err != nil { // 10 digits: not a configured length
		t.Fatal(err)
	}
	if err := hx.Tap(ctx, []byte{0x04, 0xA2, 0x3B, 0x1C}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "three taps delivered", func() bool { return srv.Stats().Unique == 3 && st.Depth() == 0 })
	time.Sleep(100 * time.Millisecond)
	got := map[string]string{}
	for _, tp := range srv.Taps() {
		got[tp.Station] = tp.UID + " " + tp.Tech
	}
	want := map[string]string{"canteen-1": "123456 wiegand", "canteen-2": "0013477100 em4100", "canteen-3": "04A23B1C iso14443a"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("station %s: server got %q, want %q", k, got[k], w)
		}
	}
	if n := srv.Stats().Unique; n != 3 {
		t.Errorf("server has %d taps, want 3 (a 10-digit hex line is not a tap when lengths = [8])", n)
	}
	if bd, ok, err := st.Badge("0013477100"); err != nil || !ok || bd.Name != "Emma D." {
		t.Errorf("offline cache lookup of the printed number = %+v, %v, %v, want Emma D.'s badge", bd, ok, err)
	}
}

// TestUplinkHonoursRetryAfter: a server that answers 503 with Retry-After
// is not asked again sooner, even while new taps arrive; then everything
// is delivered.
func TestUplinkHonoursRetryAfter(t *testing.T) {
	srv := newServer(t)
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "line-hex", Path: "/nonexistent/tty"})
	cfg.Offline.BadgeRefresh = time.Hour
	b, st, _ := startLogged(t, cfg, bridge.Options{})
	waitFor(t, 5*time.Second, "first badge sync", func() bool { return b.Status().BadgeSync != nil })
	srv.SetStatus(503)
	srv.SetRetryAfter("2")
	ctx := context.Background()
	before := srv.Stats().Requests
	if err := b.Submit(ctx, "r", readers.Tap{UID: "AA000000", Tech: readers.TechISO14443A}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first refusal", func() bool { return srv.Stats().Requests == before+1 })
	first := time.Now()
	for i := 1; time.Since(first) < 1500*time.Millisecond; i++ {
		if err := b.Submit(ctx, "r", readers.Tap{UID: fmt.Sprintf("AA%06X", i), Tech: readers.TechISO14443A}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := srv.Stats().Requests - before; n != 1 {
		t.Errorf("%d requests within 1.5 s of a 503 with Retry-After: 2, want 1", n)
	}
	srv.SetStatus(0)
	waitFor(t, 5*time.Second, "delivery after the Retry-After", func() bool { return st.Depth() == 0 })
}
