package bridge

import (
	"context"
	"fmt"
	"io"

	"go.bug.st/serial"

	"tartine/firmware-bridge/fwproto"
	"tartine/readers"
)

// openReader builds the readers.Reader for one configured reader.
func (b *Bridge) openReader(s *slot) (*readers.Reader, error) {
	rc := s.cfg
	drv, err := b.driver(s)
	if err != nil {
		return nil, fmt.Errorf("reader %q: %w", rc.Name, err)
	}
	cfg := readers.ReaderConfig{
		Name:     rc.Name,
		Port:     readers.PortSpec{Path: rc.Path, VID: rc.VID, PID: rc.PID, Serial: rc.Serial},
		Driver:   drv,
		Debounce: b.cfg.Debounce,
		Logger:   b.log,
		Now:      b.now,
	}
	if rc.Baud > 0 {
		mode := serial.Mode{BaudRate: rc.Baud, DataBits: 8}
		cfg.Mode = &mode
	}
	r, err := readers.NewReader(cfg)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	return r, nil
}

func (b *Bridge) driver(s *slot) (readers.Driver, error) {
	rc := s.cfg
	line := func(enc readers.LineEncoding) (readers.Driver, error) {
		return readers.NewLine(readers.LineFormat{
			Encoding: enc, Tech: readers.Tech(rc.Tech), Lengths: rc.Lengths,
			Prefix: rc.Prefix, Suffix: rc.Suffix, Reverse: rc.Reverse, Baud: rc.Baud,
		})
	}
	switch rc.Driver {
	case "tartine":
		s.fw = fwproto.NewFirmwareDriver(b.log.With("reader", rc.Name), b.now)
		return &firmwareAdapter{b: b, s: s, debounce: readers.NewDebouncer(b.cfg.Debounce)}, nil
	case "rdm6300":
		return readers.NewEM4100(readers.RDM6300), nil
	case "id12la":
		return readers.NewEM4100(readers.ID12LA), nil
	case "em18":
		return readers.NewEM4100(readers.EM18), nil
	case "pn532":
		return readers.NewPN532(), nil
	case "line-hex":
		return line(readers.LineHex)
	case "line-dec":
		return line(readers.LineDecimal)
	case "wiegand":
		return line(readers.LineWiegandBits)
	}
	return nil, fmt.Errorf("unknown driver %q", rc.Driver)
}

// firmwareAdapter runs the Tartine firmware driver under a readers.Reader
// (which finds, opens and re-opens the port) but sends reads straight to the
// bridge with their (boot, seq) so that the ack is sent only after the tap is
// stored, and a resend after a bridge crash is recognised.
type firmwareAdapter struct {
	b        *Bridge
	s        *slot
	debounce *readers.Debouncer
	recent   map[SeenKey]bool // reads seen on this run → debounced
	order    []SeenKey
}

// SerialMode is the firmware's line speed.
func (a *firmwareAdapter) SerialMode() serial.Mode {
	return serial.Mode{BaudRate: 115200, DataBits: 8}
}

// Run implements readers.Driver.
func (a *firmwareAdapter) Run(ctx context.Context, port io.ReadWriter, _ func(readers.Tap)) error {
	if a.recent == nil {
		a.recent = make(map[SeenKey]bool)
	}
	return a.s.fw.RunReads(ctx, port, func(r fwproto.Read) {
		k := SeenKey{Reader: a.s.cfg.Name, Boot: r.Boot, Seq: r.Seq}
		debounced, known := a.recent[k]
		if !known {
			debounced = !a.debounce.Allow(r.Tap)
			a.remember(k, debounced)
			if debounced {
				a.s.debounced.Add(1)
				a.b.metrics.debounced.WithLabelValues(a.s.cfg.Name).Inc()
			}
		}
		if debounced {
			// Same badge again within the debounce window: one tap. Ack
			// so the firmware stops resending.
			_ = a.s.fw.Ack(r.Boot, r.Seq)
			return
		}
		// New read or resend: the commit loop stores it once (by key) and acks.
		a.b.enqueue(ctx, submission{slot: a.s, tap: r.Tap, seen: &k})
	})
}

func (a *firmwareAdapter) remember(k SeenKey, debounced bool) {
	a.recent[k] = debounced
	a.order = append(a.order, k)
	if len(a.order) > 4096 {
		delete(a.recent, a.order[0])
		a.order = a.order[1:]
	}
}
