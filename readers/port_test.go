package readers

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial/enumerator"
)

func TestPortSpecFind(t *testing.T) {
	ports := []*enumerator.PortDetails{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", IsUSB: true, VID: "1A86", PID: "7523", SerialNumber: "A1"},
		{Name: "/dev/ttyUSB1", IsUSB: true, VID: "1a86", PID: "7523", SerialNumber: "B2"},
		{Name: "/dev/ttyACM0", IsUSB: true, VID: "2341", PID: "0043", SerialNumber: "X"},
	}
	list := func() ([]*enumerator.PortDetails, error) { return ports, nil }
	_, tty := newPTY(t)
	link := filepath.Join(t.TempDir(), "usb-Reader_A1-if00-port0")
	if err := os.Symlink(tty, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    PortSpec
		want    string
		wantErr error
	}{
		{"by path", PortSpec{Path: tty}, tty, nil},
		{"by-id link", PortSpec{Path: link}, link, nil},
		{"missing path", PortSpec{Path: "/dev/serial/by-id/nope"}, "", ErrPortNotFound},
		{"vid pid any case, 0x prefix", PortSpec{VID: "0x2341", PID: "0043", List: list}, "/dev/ttyACM0", nil},
		{"serial number", PortSpec{VID: "1a86", PID: "7523", Serial: "B2", List: list}, "/dev/ttyUSB1", nil},
		{"ambiguous", PortSpec{VID: "1A86", PID: "7523", List: list}, "", ErrAmbiguousPort},
		{"none", PortSpec{VID: "0403", PID: "6001", List: list}, "", ErrPortNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.spec.Find(context.Background())
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("Find = %q, %v, want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if err := (PortSpec{VID: "1a86"}).Validate(); err == nil {
		t.Error("Validate accepted a VID without PID")
	}
}

func TestDebouncer(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 11, 52, 0, 0, time.UTC)
	d := NewDebouncer(0)
	tap := func(uid string, ms int) Tap {
		return Tap{UID: uid, Tech: TechEM4100, ReadAt: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	steps := []struct {
		tap  Tap
		want bool
	}{
		{tap("A", 0), true},
		{tap("A", 500), false},  // repeat frame
		{tap("B", 600), true},   // another badge
		{tap("A", 2400), false}, // still in the field: 1.9 s after the last frame
		{tap("A", 4500), true},  // 2.1 s of silence: a new tap
		{Tap{UID: "A", Tech: TechISO14443A, ReadAt: t0.Add(4600 * time.Millisecond)}, true},
	}
	for i, s := range steps {
		if got := d.Allow(s.tap); got != s.want {
			t.Errorf("step %d %s at %v: Allow = %v, want %v", i, s.tap.UID, s.tap.ReadAt.Sub(t0), got, s.want)
		}
	}
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// device is the reader side of one pty for a driver under test.
type device struct {
	master *os.File
	show   func(uid []byte) // presents a badge
}

func TestReaderUnplugReconnect(t *testing.T) {
	line, err := NewLine(LineFormat{Encoding: LineHex, Tech: TechISO14443A})
	if err != nil {
		t.Fatal(err)
	}
	uid5 := []byte{0x01, 0x00, 0xCD, 0xA4, 0xEC}
	uid4 := []byte{0xDE, 0xAD, 0xBE, 0xEF}
	cases := []struct {
		name   string
		uid    []byte
		driver Driver
		plug   func(t *testing.T) (device, string)
	}{
		{"em4100", uid5, NewEM4100(RDM6300), func(t *testing.T) (device, string) {
			m, name := newPTY(t)
			return device{m, func(uid []byte) { _, _ = m.Write(EncodeEM4100(RDM6300, [5]byte(uid))) }}, name
		}},
		{"line", uid4, line, func(t *testing.T) (device, string) {
			m, name := newPTY(t)
			return device{m, func(uid []byte) { _, _ = m.Write([]byte("\r\n" + hexUpper(uid) + "\r\n")) }}, name
		}},
		{"pn532", uid4, fastPN532(), func(t *testing.T) (device, string) {
			m, name := newPTY(t)
			f := startFakePN532(m, false, nil)
			return device{m, f.setCard}, name
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The reader is configured by a stable by-id style link that
			// re-points to the new device on re-plug.
			link := filepath.Join(t.TempDir(), "usb-Tartine_Reader_42-if00")
			relink := func(target string) {
				tmp := link + ".new"
				if err := os.Symlink(target, tmp); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, link); err != nil {
					t.Fatal(err)
				}
			}
			dev1, tty1 := c.plug(t)
			relink(tty1)
			clock := &fakeClock{t: time.Date(2026, 11, 30, 11, 52, 0, 0, time.UTC)}
			var mu sync.Mutex
			var backoffs []time.Duration
			r, err := NewReader(ReaderConfig{
				Name:       "canteen-1",
				Port:       PortSpec{Path: link},
				Driver:     c.driver,
				MinBackoff: 10 * time.Millisecond,
				MaxBackoff: 40 * time.Millisecond,
				Now:        clock.now,
				Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
				Sleep: func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					backoffs = append(backoffs, d)
					mu.Unlock()
					return sleepCtx(ctx, time.Millisecond)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			taps := make(chan Tap, 64)
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx, func(tp Tap) { taps <- tp }) }()

			waitFor(t, "first connection", func() bool { return r.Status().State == StateConnected })
			uidA, want := c.uid, hexUpper(c.uid)
			dev1.show(uidA)
			if tp := waitTap(t, taps); tp.UID != want || !tp.ReadAt.Equal(clock.now()) {
				t.Errorf("tap = %+v, want %s at the injected time", tp, want)
			}
			// The badge stays on the reader: repeated reads are one tap.
			clock.add(time.Second)
			dev1.show(uidA)
			waitFor(t, "a duplicate", func() bool { return r.Stats().Duplicates.Load() >= 1 })

			// Unplug: the device disappears; plug it back as a new tty.
			dev2, tty2 := c.plug(t)
			relink(tty2)
			_ = dev1.master.Close()
			waitFor(t, "reconnection", func() bool {
				s := r.Status()
				return s.State == StateConnected && s.Stats.Connects == 2
			})
			if s := r.Status(); s.LastError == "" || s.Path != link || s.Stats.Disconnects != 1 {
				t.Errorf("status after reconnect = %+v, want last error, path %s, 1 disconnect", s, link)
			}
			clock.add(3 * time.Second)
			dev2.show(uidA) // same badge after the window: a new tap
			if tp := waitTap(t, taps); tp.UID != want {
				t.Errorf("tap after reconnect = %+v", tp)
			}
			select {
			case tp := <-taps:
				t.Errorf("extra tap %+v (debounce failed)", tp)
			default:
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want context.Canceled", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Run did not stop after cancel")
			}
			if s := r.Status(); s.State != StateDisconnected || s.Stats.Taps != 2 {
				t.Errorf("final status = %+v, want disconnected with 2 taps", s)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(backoffs) == 0 || backoffs[0] != 10*time.Millisecond {
				t.Errorf("backoffs = %v, want to start at 10ms", backoffs)
			}
		})
	}
}

func TestReaderBackoffIsBoundedWhilePortMissing(t *testing.T) {
	var backoffs []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := NewReader(ReaderConfig{
		Name:       "door",
		Port:       PortSpec{Path: filepath.Join(t.TempDir(), "missing")},
		Driver:     NewEM4100(EM18),
		MinBackoff: 100 * time.Millisecond,
		MaxBackoff: time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			backoffs = append(backoffs, d)
			if len(backoffs) == 6 {
				cancel()
			}
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, func(Tap) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if len(backoffs) != len(want) {
		t.Fatalf("backoffs = %v, want %v", backoffs, want)
	}
	for i := range want {
		if backoffs[i] != want[i] {
			t.Errorf("backoffs = %v, want %v", backoffs, want)
			break
		}
	}
	if s := r.Status(); s.State != StateDisconnected || !strings.Contains(s.LastError, "not found") {
		t.Errorf("status = %+v, want disconnected with the not-found error", s)
	}
}
