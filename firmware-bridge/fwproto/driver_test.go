package fwproto_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"

	"tartine/firmware-bridge/fwproto"
	"tartine/firmware-bridge/sim"
	"tartine/readers"
)

// TestFirmwareDriverOverPTY runs the driver on a real pseudo-terminal opened
// through go.bug.st/serial, with a virtual firmware on the other side.
func TestFirmwareDriverOverPTY(t *testing.T) {
	vr, err := sim.Open(sim.FormatTartine, sim.Options{Resend: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	port, err := serial.Open(vr.Path(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var mu sync.Mutex
	var taps []readers.Tap
	drv := fwproto.NewFirmwareDriver(nil, nil)
	runErr := make(chan error, 1)
	go func() {
		runErr <- drv.Run(ctx, port, func(tp readers.Tap) {
			mu.Lock()
			taps = append(taps, tp)
			mu.Unlock()
		})
	}()

	// Garbage and a torn frame first: they must not produce taps.
	if err := vr.WriteRaw([]byte("\x00\xa5\x01\x01\x0f\x01garbage")); err != nil {
		t.Fatal(err)
	}
	uids := [][]byte{{0x01, 0x00, 0xCD, 0xA4, 0xEC}, {0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, {0xDE, 0xAD, 0xBE, 0xEF}}
	for _, u := range uids {
		if err := vr.Tap(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := vr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := drv.Feedback(1, 1, fwproto.LevelOK, "Emma D. P3A"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (vr.Counts().Feedbacks[fwproto.LevelOK] == 0 || len(vr.Counts().Texts) == 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c := vr.Counts()
	if c.Feedbacks[fwproto.LevelOK] != 1 || len(c.Texts) != 1 || c.Texts[0] != "Emma D. P3A" {
		t.Errorf("reader got feedback %v texts %q, want one ok and the text", c.Feedbacks, c.Texts)
	}

	mu.Lock()
	got := fmt.Sprint(len(taps))
	want := []struct {
		uid, number string
		tech        readers.Tech
	}{{"0100CDA4EC", "0013477100", readers.TechEM4100}, {"04112233445566", "", readers.TechISO14443A}, {"DEADBEEF", "", readers.TechISO14443A}}
	if len(taps) != len(want) {
		t.Fatalf("got %s taps, want %d: %+v", got, len(want), taps)
	}
	for i, w := range want {
		if taps[i].UID != w.uid || taps[i].Number != w.number || taps[i].Tech != w.tech {
			t.Errorf("tap %d = %+v, want %+v", i, taps[i], w)
		}
	}
	mu.Unlock()

	// Unplug: closing the reader makes Run return a read error.
	vr.Close()
	select {
	case err := <-runErr:
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run after unplug returned %v, want a read error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after unplug")
	}
	port.Close()
	if err := drv.Ack(1, 1); !errors.Is(err, fwproto.ErrNotConnected) {
		t.Errorf("Ack after Run = %v, want ErrNotConnected", err)
	}
}
