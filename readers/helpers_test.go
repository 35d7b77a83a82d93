package readers

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.bug.st/serial"
)

// newPTY opens a pseudo-terminal pair and returns the master (the reader's
// side) and the tty path (the host's side). Both are closed at cleanup.
func newPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	t.Cleanup(func() {
		_ = master.Close()
		_ = tty.Close()
	})
	return master, tty.Name()
}

// openTTY opens the tty end with go.bug.st/serial in the driver's mode.
func openTTY(t *testing.T, name string, drv Driver) serial.Port {
	t.Helper()
	mode := serial.Mode{BaudRate: 9600}
	if m, ok := drv.(modeDriver); ok {
		mode = m.SerialMode()
	}
	p, err := serial.Open(name, &mode)
	if err != nil {
		t.Fatalf("serial.Open(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// running is a driver running over a real pty.
type running struct {
	master *os.File
	taps   chan Tap
	done   chan error
	cancel context.CancelFunc
}

// runDriver opens a pty, runs drv on its tty end and returns the master.
func runDriver(t *testing.T, drv Driver) *running {
	t.Helper()
	master, name := newPTY(t)
	return runOn(t, drv, master, openTTY(t, name, drv))
}

// runOn runs drv on an opened tty whose master is given.
func runOn(t *testing.T, drv Driver, master *os.File, port serial.Port) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{master: master, taps: make(chan Tap, 64), done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- drv.Run(ctx, port, func(tp Tap) { r.taps <- tp }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(2 * time.Second):
			t.Error("driver did not stop after cancel")
		}
	})
	return r
}

// write sends bytes from the reader side.
func (r *running) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := r.master.Write(b); err != nil {
		t.Fatalf("write master: %v", err)
	}
}

// writeSlowly sends bytes one at a time with small pauses, so that the
// driver gets the frame over many reads.
func (r *running) writeSlowly(t *testing.T, b []byte) {
	t.Helper()
	for i := range b {
		r.write(t, b[i:i+1])
		time.Sleep(time.Millisecond)
	}
}

// tap waits for the next tap.
func (r *running) tap(t *testing.T) Tap {
	t.Helper()
	return waitTap(t, r.taps)
}

func waitTap(t *testing.T, ch <-chan Tap) Tap {
	t.Helper()
	select {
	case tp := <-ch:
		return tp
	case <-time.After(3 * time.Second):
		t.Fatal("no tap within 3 s")
		return Tap{}
	}
}

// noMoreTaps fails when a tap is pending.
func (r *running) noMoreTaps(t *testing.T) {
	t.Helper()
	select {
	case tp := <-r.taps:
		t.Errorf("unexpected tap %+v", tp)
	default:
	}
}

// unplug closes the master and checks that Run ends with a port error.
func (r *running) unplug(t *testing.T) {
	t.Helper()
	_ = r.master.Close()
	select {
	case err := <-r.done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Run after unplug = %v, want a port error", err)
		}
		r.done <- err // for cleanup
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not end within 3 s of unplug")
	}
}

// waitFor polls cond until it holds or 3 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
