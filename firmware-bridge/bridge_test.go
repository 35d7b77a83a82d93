package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	bridge "tartine/firmware-bridge"
	"tartine/firmware-bridge/bridgetest"
	"tartine/firmware-bridge/fwproto"
	"tartine/firmware-bridge/sim"
	"tartine/readers"

	"tartine/internal/deviceapi"
)

const (
	testDevice = "bridge-test"
	testSecret = "0123456789abcdef0123"
)

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testConfig(t *testing.T, serverURL string, rs ...bridge.ReaderConfig) bridge.Config {
	t.Helper()
	c := bridge.Config{
		DeviceID: testDevice, Secret: testSecret, ServerURL: serverURL,
		DataDir: t.TempDir(), StatusAddr: "off",
		Uplink:  bridge.UplinkConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, RequestTimeout: 2 * time.Second},
		Offline: bridge.OfflineConfig{BadgeRefresh: time.Second},
		Readers: rs,
	}
	c.SetDefaults()
	return c
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startBridge opens the store and runs the bridge until the test ends.
func startBridge(t *testing.T, cfg bridge.Config) (*bridge.Bridge, *bridge.Store) {
	t.Helper()
	st, err := bridge.OpenStore(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(cfg, st, bridge.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
		st.Close()
	})
	return b, st
}

func uid5(i int) []byte { return []byte{0x10, byte(i >> 16), byte(i >> 8), byte(i), 0x42} }

func hexUID(b []byte) string { return strings.ToUpper(fmt.Sprintf("%x", b)) }

// TestEndToEndOutage: simulated readers on ptys → bridge → recording server,
// with the server down for the middle part of the run. Every tap must reach
// the server exactly once by id, in order per reader, offline ones flagged.
func TestEndToEndOutage(t *testing.T) {
	srv, err := bridgetest.New(map[string]string{testDevice: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fw, err := sim.Open(sim.FormatTartine, sim.Options{Resend: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	em, err := sim.Open(sim.FormatRDM6300, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()

	const perPhase = 40
	for i := range 3 * perPhase {
		srv.SetBadge(hexUID(uid5(i)), deviceapi.BadgeActive, fmt.Sprintf("Pupil %d", i))
	}
	cfg := testConfig(t, srv.URL,
		bridge.ReaderConfig{Name: "fw", Station: "canteen-1", Driver: "tartine", Path: fw.Path()},
		bridge.ReaderConfig{Name: "em", Station: "canteen-2", Driver: "rdm6300", Path: em.Path()},
	)
	b, st := startBridge(t, cfg)
	waitFor(t, 10*time.Second, "badge cache and readers", func() bool {
		s := b.Status()
		return s.BadgesCached == 3*perPhase && s.Readers[0].State == readers.StateConnected && s.Readers[1].State == readers.StateConnected
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wantFW, wantEM []string
	tapPhase := func(phase int) {
		for i := phase * perPhase; i < (phase+1)*perPhase; i++ {
			u := uid5(i)
			if err := fw.Tap(ctx, u); err != nil {
				t.Fatal(err)
			}
			wantFW = append(wantFW, hexUID(u))
			if i%4 == 0 { // EM readers have no acks: pace them like real badges
				emUID := []byte{0x20, 0, 0, byte(i >> 8), byte(i)}
				if err := em.Tap(ctx, emUID); err != nil {
					t.Fatal(err)
				}
				wantEM = append(wantEM, hexUID(emUID))
				time.Sleep(5 * time.Millisecond)
			}
		}
		if err := fw.Flush(ctx); err != nil { // every read acked = stored
			t.Fatal(err)
		}
	}

	tapPhase(0)
	waitFor(t, 10*time.Second, "phase 0 delivered", func() bool { return st.Depth() == 0 && srv.Stats().Unique == len(wantFW)+len(wantEM) })

	srv.Stop()
	tapPhase(1)
	waitFor(t, 10*time.Second, "phase 1 stored", func() bool { return st.Depth() == perPhase+perPhase/4 })
	if got := srv.Stats().Unique; got != perPhase+perPhase/4 {
		t.Fatalf("server has %d taps after the outage phase, want only the %d of phase 0", got, perPhase+perPhase/4)
	}
	// The fw reader still got feedback, decided offline from the badge cache.
	waitFor(t, 5*time.Second, "offline feedback", func() bool { return fw.Counts().Feedbacks[fwproto.LevelOK] == 2*perPhase })

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	tapPhase(2)
	total := len(wantFW) + len(wantEM)
	waitFor(t, 15*time.Second, "everything delivered", func() bool { return st.Depth() == 0 && srv.Stats().Unique == total })

	var gotFW, gotEM []string
	offline := 0
	for _, tp := range srv.Taps() {
		switch tp.Station {
		case "canteen-1":
			gotFW = append(gotFW, tp.UID)
		case "canteen-2":
			gotEM = append(gotEM, tp.UID)
		}
		if tp.Offline {
			offline++
		}
		if tp.ReadAt.IsZero() || len(tp.ID) != 36 {
			t.Errorf("tap %+v lacks read_at or id", tp)
		}
	}
	if strings.Join(gotFW, ",") != strings.Join(wantFW, ",") {
		t.Errorf("firmware reader taps at server (in arrival order):\n%v\nwant\n%v", gotFW, wantFW)
	}
	if strings.Join(gotEM, ",") != strings.Join(wantEM, ",") {
		t.Errorf("rdm6300 taps at server:\n%v\nwant\n%v", gotEM, wantEM)
	}
	if offline < perPhase {
		t.Errorf("%d taps flagged offline, want at least the %d taps of the outage", offline, perPhase)
	}
	waitFor(t, 5*time.Second, "all feedback", func() bool { return fw.Counts().Feedbacks[fwproto.LevelOK] == 3*perPhase })
	if s := srv.Stats(); s.AuthFails != 0 {
		t.Errorf("server auth failures: %d", s.AuthFails)
	}
}

// TestOfflineDecisions: a slow server makes the bridge decide from its badge
// cache: active → ok, blocked → deny, unknown → warn; the taps reach the
// server later with offline=true.
func TestOfflineDecisions(t *testing.T) {
	srv, err := bridgetest.New(map[string]string{testDevice: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetBadge("1000000001", deviceapi.BadgeActive, "Emma D.")
	srv.SetBadge("1000000002", deviceapi.BadgeBlocked, "Noah B.")
	srv.SetBadge("1000000004", deviceapi.BadgeActive, "Lina M.")
	fw, err := sim.Open(sim.FormatTartine, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "fw", Station: "canteen-1", Driver: "tartine", Path: fw.Path()})
	cfg.StatusAddr = "127.0.0.1:0"
	b, _ := startBridge(t, cfg)
	waitFor(t, 10*time.Second, "badge cache", func() bool {
		s := b.Status()
		return s.BadgesCached == 3 && s.Readers[0].State == readers.StateConnected
	})

	// Online first: the server's verdict and display text reach the reader.
	ctx := context.Background()
	if err := fw.Tap(ctx, []byte{0x10, 0, 0, 0, 0x01}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "online feedback", func() bool { return fw.Counts().Feedbacks[fwproto.LevelOK] == 1 })
	if txt := fw.Counts().Texts; len(txt) != 1 || txt[0] != "Emma D. P3A" {
		t.Errorf("display %q, want the server's name and class", txt)
	}

	// A slow server: the reader gets the cache's answer after the deadline.
	srv.SetDelay(1500 * time.Millisecond)
	if err := fw.Tap(ctx, []byte{0x10, 0, 0, 0, 0x05}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "offline feedback from a slow server", func() bool { return fw.Counts().Feedbacks[fwproto.LevelWarn] == 1 })
	srv.SetDelay(0)
	waitFor(t, 5*time.Second, "slow tap delivered", func() bool { return srv.Stats().Unique == 2 && b.Status().OutboxDepth == 0 })

	// A server that is down: decisions from the cache, taps flagged offline
	// when they are finally sent.
	srv.Stop()
	for _, u := range [][]byte{{0x10, 0, 0, 0, 0x02}, {0x10, 0, 0, 0, 0x03}, {0x10, 0, 0, 0, 0x04}} {
		if err := fw.Tap(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "offline feedback", func() bool {
		c := fw.Counts()
		return c.Feedbacks[fwproto.LevelOK] == 2 && c.Feedbacks[fwproto.LevelDeny] == 1 && c.Feedbacks[fwproto.LevelWarn] == 2
	})
	c := fw.Counts()
	texts := c.Texts[2:]
	slices.Sort(texts) // decided concurrently
	if got := strings.Join(texts, "|"); got != "Badge inconnu|Lina M.|Voir le personnel" {
		t.Errorf("offline display texts %q", got)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery", func() bool { return srv.Stats().Unique == 5 && b.Status().OutboxDepth == 0 })
	taps := srv.Taps()
	if taps[0].Offline {
		t.Errorf("online tap flagged offline")
	}
	for _, tp := range taps[2:] {
		if !tp.Offline {
			t.Errorf("tap %s decided locally while the server was down but not flagged offline", tp.UID)
		}
	}
}

// TestAuthFailureKeepsTaps: a wrong secret gets 401s; the taps stay in the
// outbox and the status page says why.
func TestAuthFailureKeepsTaps(t *testing.T) {
	srv, err := bridgetest.New(map[string]string{testDevice: "another-secret-entirely"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "line-hex", Path: "/nonexistent/tty"})
	b, st := startBridge(t, cfg)
	ctx := context.Background()
	for i := range 5 {
		if err := b.Submit(ctx, "r", readers.Tap{UID: fmt.Sprintf("AA%02d", i), Tech: readers.TechISO14443A}); err != nil {
			t.Fatal(err)
		}
	}
	// The taps are committed by the outbox's group-commit loop, possibly
	// after the first refused upload: wait for both, then none may be gone.
	waitFor(t, 5*time.Second, "auth failures and 5 taps kept", func() bool { return srv.Stats().AuthFails >= 2 && st.Depth() == 5 })
	time.Sleep(100 * time.Millisecond)
	if d := st.Depth(); d != 5 {
		t.Errorf("outbox depth %d, want 5 taps kept", d)
	}
	if s := b.Status(); !strings.Contains(s.LastError, "401") {
		t.Errorf("status last error %q, want the 401", s.LastError)
	}
	if err := b.Submit(ctx, "nope", readers.Tap{UID: "AA"}); err == nil {
		t.Error("Submit to an unknown reader succeeded")
	}
}

func TestStatusPage(t *testing.T) {
	srv, err := bridgetest.New(map[string]string{testDevice: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "r", Station: "canteen-1", Driver: "tartine", Path: "/nonexistent/tty"})
	b, _ := startBridge(t, cfg)
	if err := b.Submit(context.Background(), "r", readers.Tap{UID: "AABB", Tech: readers.TechISO14443A}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "delivery", func() bool { return srv.Stats().Unique == 1 && b.Status().OutboxDepth == 0 })
	h := b.Handler()
	get := func(path string, accept string) (int, string) {
		req, _ := http.NewRequest("GET", path, nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := get("/status", "text/html")
	if code != 200 || !strings.Contains(body, "canteen-1") || !strings.Contains(body, "disconnected") {
		t.Errorf("GET /status = %d %s", code, body)
	}
	code, body = get("/status?format=json", "")
	var st bridge.Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st.TapsStored != 1 || st.LastContact == nil {
		t.Errorf("GET /status json = %d %v %+v", code, err, st)
	}
	code, body = get("/metrics", "")
	if code != 200 || !strings.Contains(body, `tartine_bridge_taps_delivered_total{verdict="refused"} 1`) || !strings.Contains(body, "tartine_bridge_outbox_depth 0") {
		t.Errorf("GET /metrics = %d\n%s", code, body)
	}
}
