package fwproto

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tartine/readers"
)

// ErrNotConnected is returned by the send methods of a FirmwareDriver that is
// not running on a port.
var ErrNotConnected = errors.New("fwproto: reader not connected")

// Read is a card read with the identifiers the firmware uses to resend it.
type Read struct {
	Tap  readers.Tap
	Boot uint32
	Seq  uint32
}

// FirmwareDriver is the readers.Driver for the Tartine reference firmware.
// Besides decoding reads it writes back to the reader: Ack ("recorded"),
// Feedback (LED/beep) and Display (text line).
//
// A FirmwareDriver serves one port at a time; the send methods write to the
// port of the current Run and return ErrNotConnected between runs.
type FirmwareDriver struct {
	log *slog.Logger
	now func() time.Time

	mu sync.Mutex // guards w and serialises frame writes
	w  io.Writer

	heartbeat atomic.Pointer[Heartbeat]
	lastSeen  atomic.Int64 // unix nanoseconds of the last good frame
	stats     struct {
		sync.Mutex
		s Stats
	}
}

// NewFirmwareDriver returns a driver that logs malformed input at debug
// level on log. now is the clock for tap times (time.Now when nil).
func NewFirmwareDriver(log *slog.Logger, now func() time.Time) *FirmwareDriver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &FirmwareDriver{log: log, now: now}
}

// Run implements readers.Driver: each new read is passed to emit and then
// acknowledged to the firmware (emit is synchronous, so the caller must have
// stored the tap when it returns). Resends of a read already emitted during
// this Run are acknowledged again but not emitted twice.
func (d *FirmwareDriver) Run(ctx context.Context, port io.ReadWriter, emit func(readers.Tap)) error {
	type key struct{ boot, seq uint32 }
	seen := make(map[key]bool)
	var order []key
	return d.RunReads(ctx, port, func(r Read) {
		k := key{r.Boot, r.Seq}
		if !seen[k] {
			emit(r.Tap)
			seen[k] = true
			order = append(order, k)
			if len(order) > 256 {
				delete(seen, order[0])
				order = order[1:]
			}
		}
		if err := d.Ack(r.Boot, r.Seq); err != nil {
			d.log.Debug("firmware ack failed", "err", err)
		}
	})
}

// RunReads reads frames from port until ctx is cancelled or the port fails
// and calls onRead for every card read, including resends (the caller
// deduplicates by Boot and Seq and calls Ack once the read is stored).
// Heartbeats and firmware errors are recorded and logged; malformed input is
// counted and logged at debug level. It returns the port's error or ctx.Err().
func (d *FirmwareDriver) RunReads(ctx context.Context, port io.ReadWriter, onRead func(Read)) error {
	d.mu.Lock()
	d.w = port
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.w = nil
		d.mu.Unlock()
	}()

	var dec Decoder
	buf := make([]byte, 256)
	zero := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := port.Read(buf)
		if n > 0 {
			zero = 0
			dec.Feed(buf[:n])
			d.drain(&dec, onRead)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("fwproto: read: %w", err)
		}
		if n == 0 {
			// A port with a read timeout returns (0, nil): back off a
			// little so a misbehaving port cannot make us spin.
			zero++
			t := time.NewTimer(time.Duration(min(zero, 50)) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

func (d *FirmwareDriver) drain(dec *Decoder, onRead func(Read)) {
	defer func() {
		d.stats.Lock()
		d.stats.s = dec.Stats()
		d.stats.Unlock()
	}()
	for {
		m, err := dec.Next()
		if errors.Is(err, ErrShort) {
			return
		}
		if err != nil {
			d.log.Debug("firmware frame dropped", "err", err)
			continue
		}
		d.lastSeen.Store(d.now().UnixNano())
		switch m := m.(type) {
		case CardRead:
			tech := readers.TechISO14443A
			if m.Tech == TechEM4100 {
				tech = readers.TechEM4100
			}
			tap := readers.Tap{UID: strings.ToUpper(hex.EncodeToString(m.UID)), Tech: tech, ReadAt: d.now()}
			if tech == readers.TechEM4100 && len(m.UID) == 5 {
				v := uint32(m.UID[1])<<24 | uint32(m.UID[2])<<16 | uint32(m.UID[3])<<8 | uint32(m.UID[4])
				tap.Number = fmt.Sprintf("%010d", v)
			}
			onRead(Read{Tap: tap, Boot: m.Boot, Seq: m.Seq})
		case Heartbeat:
			d.heartbeat.Store(&m)
		case FirmwareError:
			d.log.Warn("reader firmware error", "code", m.Code, "text", m.Text)
		default:
			d.log.Debug("firmware sent a bridge-to-device message", "type", m.Type())
		}
	}
}

// Send writes one message to the connected reader.
func (d *FirmwareDriver) Send(m Message) error {
	b, err := Marshal(m)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return ErrNotConnected
	}
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("fwproto: write %s: %w", m.Type(), err)
	}
	return nil
}

// Ack tells the firmware that read (boot, seq) is stored.
func (d *FirmwareDriver) Ack(boot, seq uint32) error {
	return d.Send(Ack{Boot: boot, Seq: seq})
}

// Feedback shows a verdict (LED colour and beeps) for read (boot, seq) and,
// when text is not empty, writes it on display line 0.
func (d *FirmwareDriver) Feedback(boot, seq uint32, level Level, text string) error {
	if err := d.Send(Feedback{Boot: boot, Seq: seq, Level: level}); err != nil {
		return err
	}
	if text == "" {
		return nil
	}
	return d.Send(Display{Line: 0, Text: text})
}

// LastHeartbeat returns the last heartbeat received, if any.
func (d *FirmwareDriver) LastHeartbeat() (Heartbeat, bool) {
	h := d.heartbeat.Load()
	if h == nil {
		return Heartbeat{}, false
	}
	return *h, true
}

// LastSeen returns when the last well-formed frame arrived (zero if never).
func (d *FirmwareDriver) LastSeen() time.Time {
	ns := d.lastSeen.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Stats returns the decoder counters of the current (or last) run.
func (d *FirmwareDriver) Stats() Stats {
	d.stats.Lock()
	defer d.stats.Unlock()
	return d.stats.s
}
