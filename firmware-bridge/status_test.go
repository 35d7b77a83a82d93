package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bridge "tartine/firmware-bridge"
	"tartine/firmware-bridge/sim"
	"tartine/internal/testclock"
	"tartine/readers"
)

// TestStatusReaders: the status page shows a firmware reader's counters,
// shows a firmware reader that sends nothing (no heartbeat) as silent, not
// connected, and forgets a reader's old error once it is connected again.
func TestStatusReaders(t *testing.T) {
	srv := newServer(t)
	open := func(f sim.Format, opts sim.Options) *sim.Reader {
		r, err := sim.Open(f, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	mute := open(sim.FormatTartine, sim.Options{Heartbeat: -1})
	alive := open(sim.FormatTartine, sim.Options{Heartbeat: 100 * time.Millisecond})
	late := open(sim.FormatRDM6300, sim.Options{})
	link := filepath.Join(t.TempDir(), "usb-reader-late")
	cfg := testConfig(t, srv.URL,
		bridge.ReaderConfig{Name: "mute", Station: "canteen-1", Driver: "tartine", Path: mute.Path(), HeartbeatTimeout: time.Second},
		bridge.ReaderConfig{Name: "alive", Station: "canteen-2", Driver: "tartine", Path: alive.Path(), HeartbeatTimeout: time.Second},
		bridge.ReaderConfig{Name: "late", Station: "canteen-3", Driver: "rdm6300", Path: link},
	)
	b, _, _ := startLogged(t, cfg, bridge.Options{})
	reader := func(name string) bridge.ReaderStatus {
		for _, r := range b.Status().Readers {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("no reader %s on the status page", name)
		return bridge.ReaderStatus{}
	}
	waitFor(t, 5*time.Second, "firmware readers connected, late reader missing", func() bool {
		return reader("mute").State != readers.StateDisconnected && reader("alive").State == readers.StateConnected && reader("late").LastError != ""
	})

	// Counters of a firmware reader: reads, noise, taps.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mute.WriteRaw([]byte{0x13, 0x37, 0x00}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := mute.Tap(ctx, []byte{0x10, 0, 0, 0, byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := mute.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "firmware counters", func() bool {
		s := reader("mute").Stats
		return s.Frames >= 3 && s.Garbage >= 3 && s.Taps == 3
	})
	r := reader("mute")
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	cells := fmt.Sprintf("<td>%d</td><td>%d</td><td>%d</td><td>%d</td>", r.Taps, r.Stats.Frames, r.Stats.Duplicates, r.Noise())
	if body := rec.Body.String(); !strings.Contains(body, cells) {
		t.Errorf("status page lacks the firmware reader's taps, reads, repeats and noise %s:\n%s", cells, body)
	}

	// The late reader is plugged in: connected, its old error gone.
	if err := os.Symlink(late.Path(), link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "late reader connected", func() bool { return reader("late").State == readers.StateConnected })
	if r := reader("late"); r.LastError != "" {
		t.Errorf("connected reader still shows the error %q", r.LastError)
	}

	// No frame from the mute reader since its taps: silent, not connected.
	waitFor(t, 5*time.Second, "mute reader silent", func() bool { return reader("mute").State == bridge.StateSilent })
	if r := reader("alive"); r.State != readers.StateConnected {
		t.Errorf("reader with a heartbeat is %s, want connected", r.State)
	}
	rec = httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status?format=json", nil))
	var st bridge.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Readers[0].State != bridge.StateSilent || !strings.Contains(st.Readers[0].LastError, "heartbeat") {
		t.Errorf("JSON status of the mute reader = %+v, want silent with the reason", st.Readers[0])
	}
	rec = httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "tartine_bridge_readers_connected 2") {
		t.Errorf("metrics: want 2 readers connected (alive, late), not the silent one:\n%s", body)
	}
}

// TestStatusAgesOnTheBridgeClock: the status page counts ages from the
// bridge's own clock (the demo's bridge runs on the demo's day), not from
// the machine's: a contact just made shows seconds, not the clocks' gap.
func TestStatusAgesOnTheBridgeClock(t *testing.T) {
	srv := newServer(t)
	srv.SetNow(testclock.Now) // the server on the tests' clock, the bridge 2 minutes behind it
	behind := func() time.Time { return testclock.Now().Add(-2 * time.Minute) }
	r, err := sim.Open(sim.FormatTartine, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cfg := testConfig(t, srv.URL, bridge.ReaderConfig{Name: "line", Station: "canteen-1", Driver: "tartine", Path: r.Path()})
	b, _, _ := startLogged(t, cfg, bridge.Options{Now: behind})
	waitFor(t, 5*time.Second, "a contact with the server", func() bool { return b.Status().LastContact != nil })
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	body := rec.Body.String()
	i := strings.Index(body, "last contact: ")
	if i < 0 {
		t.Fatalf("no last contact on the status page:\n%s", body)
	}
	line, _, _ := strings.Cut(body[i:], "<br>")
	if strings.Contains(line, "m") && !strings.Contains(line, "ms") {
		t.Errorf("last contact shown %q, want an age of seconds on the bridge's clock", line)
	}
}
