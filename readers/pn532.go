package readers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"encoding/hex"

	"go.bug.st/serial"
)

// PN532 frame identifiers (TFI) and commands used by the driver.
const (
	pn532HostToChip = 0xD4
	pn532ChipToHost = 0xD5

	pn532CmdSAMConfiguration    = 0x14
	pn532CmdRFConfiguration     = 0x32
	pn532CmdInListPassiveTarget = 0x4A
)

// PN532FrameKind tells the four kinds of PN532 frames apart.
type PN532FrameKind int

// PN532 frame kinds.
const (
	PN532Info  PN532FrameKind = iota + 1 // normal or extended information frame
	PN532Ack                             // 00 00 FF 00 FF 00
	PN532Nack                            // 00 00 FF FF 00 00
	PN532Error                           // application error: 00 00 FF 01 FF 7F 81 00
)

// PN532Frame is one decoded PN532 frame.
type PN532Frame struct {
	Kind PN532FrameKind
	TFI  byte   // D4 host to chip, D5 chip to host (information frames)
	Data []byte // command or response code followed by its parameters
}

// pn532Wakeup wakes a PN532 in HSU mode from power-down before the first command.
var pn532Wakeup = [...]byte{0x55, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// pn532AckFrame is sent by the host to abort a pending command.
var pn532AckFrame = [...]byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}

// EncodePN532Frame returns a normal information frame
// 00 00 FF LEN LCS TFI data… DCS 00. data starts with the command code and
// holds at most 254 bytes. EncodePN532Frame(0xD4, 0x4A, 0x01, 0x00) gives
// 00 00 FF 04 FC D4 4A 01 00 E1 00.
func EncodePN532Frame(tfi byte, data ...byte) []byte {
	if len(data) > 254 {
		panic("readers: PN532 frame data longer than 254 bytes")
	}
	n := byte(len(data) + 1)
	f := make([]byte, 0, len(data)+8)
	f = append(f, 0x00, 0x00, 0xFF, n, -n, tfi)
	f = append(f, data...)
	sum := tfi
	for _, b := range data {
		sum += b
	}
	return append(f, -sum, 0x00)
}

// ErrIncomplete is returned by ParsePN532Frame when the buffer holds the
// beginning of a frame only: read more and try again.
var ErrIncomplete = errors.New("incomplete PN532 frame")

// ParsePN532Frame decodes the frame whose start code 00 FF begins b. It
// returns the frame and the bytes it used (the postamble is left to the
// caller, which skips zero padding between frames). Simulators use it to
// read host commands (TFI D4). It returns ErrIncomplete when b ends too
// early, or an error wrapping ErrChecksum (LCS, DCS) or ErrMalformed; after
// a bad DCS, the int is the length of the rejected frame.
func ParsePN532Frame(b []byte) (PN532Frame, int, error) {
	if len(b) < 2 || b[0] != 0x00 || b[1] != 0xFF {
		return PN532Frame{}, 0, fmt.Errorf("%w: PN532 frame does not start with 00 FF", ErrMalformed)
	}
	if len(b) < 4 {
		return PN532Frame{}, 0, ErrIncomplete
	}
	switch {
	case b[2] == 0x00 && b[3] == 0xFF:
		return PN532Frame{Kind: PN532Ack}, 4, nil
	case b[2] == 0xFF && b[3] == 0x00:
		return PN532Frame{Kind: PN532Nack}, 4, nil
	}
	var length, head int
	if b[2] == 0xFF && b[3] == 0xFF { // extended frame: FF FF LENM LENL LCS
		if len(b) < 7 {
			return PN532Frame{}, 0, ErrIncomplete
		}
		if byte(b[4]+b[5]+b[6]) != 0 {
			return PN532Frame{}, 0, fmt.Errorf("%w: PN532 extended frame LEN %02X%02X LCS %02X", ErrChecksum, b[4], b[5], b[6])
		}
		length, head = int(b[4])<<8|int(b[5]), 7
	} else {
		if byte(b[2]+b[3]) != 0 {
			return PN532Frame{}, 0, fmt.Errorf("%w: PN532 frame LEN %02X LCS %02X", ErrChecksum, b[2], b[3])
		}
		length, head = int(b[2]), 4
	}
	if length == 0 {
		return PN532Frame{}, 0, fmt.Errorf("%w: PN532 frame with LEN 0", ErrMalformed)
	}
	if len(b) < head+length+1 {
		return PN532Frame{}, 0, ErrIncomplete
	}
	body := b[head : head+length]
	var sum byte
	for _, c := range body {
		sum += c
	}
	dcs := b[head+length]
	if sum+dcs != 0 {
		return PN532Frame{}, head + length + 1, fmt.Errorf("%w: PN532 frame % X: DCS %02X, want %02X", ErrChecksum, body, dcs, -sum)
	}
	n := head + length + 1
	if length == 1 && body[0] == 0x7F {
		return PN532Frame{Kind: PN532Error}, n, nil
	}
	return PN532Frame{Kind: PN532Info, TFI: body[0], Data: append([]byte(nil), body[1:]...)}, n, nil
}

// pn532Scanner finds PN532 frames in a byte stream.
type pn532Scanner struct {
	buf []byte
}

// pn532MaxBuffer bounds the scanner buffer; an extended frame could
// otherwise make it wait for 64 KiB.
const pn532MaxBuffer = 300

// scanEvent is one thing the PN532 scanner found.
type scanEvent struct {
	frame  PN532Frame
	kind   resultKind // resFrame, resBadChecksum, resTorn or resGarbage
	n      int        // stray bytes, for resGarbage
	detail string
}

// feed adds bytes and returns what they completed.
func (s *pn532Scanner) feed(p []byte) []scanEvent {
	s.buf = append(s.buf, p...)
	var evs []scanEvent
	for {
		i := indexStart(s.buf)
		if i < 0 {
			// Keep a trailing 00 that may begin a start code.
			keep := 0
			if len(s.buf) > 0 && s.buf[len(s.buf)-1] == 0x00 {
				keep = 1
			}
			if g := countNonZero(s.buf[:len(s.buf)-keep]); g > 0 {
				evs = append(evs, scanEvent{kind: resGarbage, n: g})
			}
			s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
			return evs
		}
		if g := countNonZero(s.buf[:i]); g > 0 {
			evs = append(evs, scanEvent{kind: resGarbage, n: g})
		}
		s.buf = append(s.buf[:0], s.buf[i:]...)
		f, n, err := ParsePN532Frame(s.buf)
		switch {
		case err == nil:
			evs = append(evs, scanEvent{kind: resFrame, frame: f})
			s.buf = append(s.buf[:0], s.buf[n:]...)
		case errors.Is(err, ErrIncomplete):
			if len(s.buf) <= pn532MaxBuffer {
				return evs
			}
			evs = append(evs, scanEvent{kind: resTorn, detail: "frame longer than buffer"})
			s.buf = append(s.buf[:0], s.buf[2:]...)
		default:
			kind := resTorn
			if isChecksum(err) {
				kind = resBadChecksum
			}
			evs = append(evs, scanEvent{kind: kind, detail: err.Error()})
			skip := 2 // skip this start code and resync
			if n > 0 {
				skip = n // the frame was complete: drop it whole
			}
			s.buf = append(s.buf[:0], s.buf[skip:]...)
		}
	}
}

func (s *pn532Scanner) reset() { s.buf = s.buf[:0] }

// indexStart returns the index of the first 00 FF start code, or -1.
func indexStart(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0x00 && b[i+1] == 0xFF {
			return i
		}
	}
	return -1
}

// countNonZero counts bytes that are not zero padding.
func countNonZero(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			n++
		}
	}
	return n
}

// parseInListPassiveTarget reads the response parameters of
// InListPassiveTarget at 106 kbps type A (after the D5 4B code): NbTg, then
// Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID1, optional ATS. It returns
// the UID of the first target, or nil when no card answered.
func parseInListPassiveTarget(p []byte) ([]byte, error) {
	if len(p) < 1 {
		return nil, fmt.Errorf("%w: InListPassiveTarget response is empty", ErrMalformed)
	}
	if p[0] == 0 {
		return nil, nil
	}
	if len(p) < 6 {
		return nil, fmt.Errorf("%w: InListPassiveTarget response % X is too short", ErrMalformed, p)
	}
	n := int(p[5])
	if n != 4 && n != 7 && n != 10 {
		return nil, fmt.Errorf("%w: InListPassiveTarget UID length %d, want 4, 7 or 10", ErrMalformed, n)
	}
	if len(p) < 6+n {
		return nil, fmt.Errorf("%w: InListPassiveTarget response % X ends inside the %d-byte UID", ErrMalformed, p, n)
	}
	return append([]byte(nil), p[6:6+n]...), nil
}

// PN532 is the Driver for an NXP PN532 on its UART (HSU) interface at
// 115200 8N1, reading ISO 14443A cards (MIFARE, NTAG) with 4-, 7- or
// 10-byte UIDs. It wakes the chip, sends SAMConfiguration, bounds the
// activation retries with RFConfiguration and polls with
// InListPassiveTarget. Protocol trouble (timeouts, NACK, error frames, bad
// LCS/DCS) is counted and retried, re-initialising the chip after repeated
// failures; only a port error ends Run.
type PN532 struct {
	Observer
	// Retries is MxRtyPassiveActivation: how often the chip retries card
	// activation per poll. 0 means 0x10; 0xFF (forever) is replaced by 0x10.
	Retries byte
	// PollInterval is the pause between two polls. Zero means 100 ms.
	PollInterval time.Duration
	// AckTimeout bounds the wait for the ACK of a command. Zero means 100 ms.
	AckTimeout time.Duration
	// ResponseTimeout bounds the wait for a response after the ACK; the
	// command is then aborted with an ACK. Zero means 1 s.
	ResponseTimeout time.Duration
	// ReinitDelay is the first pause before re-initialising a chip that
	// stopped answering; it doubles up to 5 s. Zero means 200 ms.
	ReinitDelay time.Duration
}

// NewPN532 returns a PN532 driver with default timings.
func NewPN532() *PN532 { return &PN532{} }

// SerialMode returns 115200 8N1, the PN532 HSU default.
func (d *PN532) SerialMode() serial.Mode {
	return serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
}

// pn532Timeout and friends are protocol failures: counted, never returned by Run.
var (
	errPN532Timeout    = errors.New("pn532: no answer in time")
	errPN532Nack       = errors.New("pn532: NACK")
	errPN532AppError   = errors.New("pn532: application error frame")
	errPN532Unexpected = errors.New("pn532: unexpected response")
	// errPN532Corrupt: a frame arrived damaged (bad LCS/DCS, torn); the
	// waiter may ask for it again with a NACK.
	errPN532Corrupt = errors.New("pn532: corrupted frame")
)

// pn532NackFrame asks the chip to send its last response frame again.
var pn532NackFrame = [...]byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}

// pn532MaxNacks bounds the NACKs sent for one response.
const pn532MaxNacks = 3

func isPN532Protocol(err error) bool {
	return errors.Is(err, errPN532Timeout) || errors.Is(err, errPN532Nack) ||
		errors.Is(err, errPN532AppError) || errors.Is(err, errPN532Unexpected) || errors.Is(err, ErrMalformed)
}

// pn532Session holds the state of one Run.
type pn532Session struct {
	d       *PN532
	o       Observer
	port    io.ReadWriter
	src     source
	sc      pn532Scanner
	pending []PN532Frame
	awake   bool
	corrupt bool // a damaged frame came since the last wait
}

// Run talks to the chip until ctx is cancelled or the port fails.
func (d *PN532) Run(ctx context.Context, port io.ReadWriter, emit func(Tap)) error {
	const tick = 10 * time.Millisecond
	if err := setReadTimeout(port, tick); err != nil {
		return fmt.Errorf("pn532: set read timeout: %w", err)
	}
	s := &pn532Session{d: d, o: d.Observer.withDefaults(), port: port, src: source{r: port, idle: tick}}
	delay := orDefault(d.ReinitDelay, 200*time.Millisecond)
	for {
		err := s.init(ctx)
		if err == nil {
			delay = orDefault(d.ReinitDelay, 200*time.Millisecond)
			err = s.poll(ctx, emit)
		}
		if !isPN532Protocol(err) {
			return err
		}
		s.o.Logger.Debug("pn532 re-initialising", "err", err, "delay", delay)
		s.awake = false
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// init wakes the chip and configures it.
func (s *pn532Session) init(ctx context.Context) error {
	s.sc.reset()
	s.pending = nil
	// Normal mode, virtual card timeout 1 s, use IRQ.
	if _, err := s.transceive(ctx, pn532CmdSAMConfiguration, 0x01, 0x14, 0x01); err != nil {
		return fmt.Errorf("pn532: SAMConfiguration: %w", err)
	}
	retries := s.d.Retries
	if retries == 0 || retries == 0xFF {
		retries = 0x10
	}
	// CfgItem 5 (MaxRetries): MxRtyATR, MxRtyPSL, MxRtyPassiveActivation.
	if _, err := s.transceive(ctx, pn532CmdRFConfiguration, 0x05, 0xFF, 0x01, retries); err != nil {
		return fmt.Errorf("pn532: RFConfiguration: %w", err)
	}
	return nil
}

// poll reads cards until the port fails or the chip misbehaves three times in a row.
func (s *pn532Session) poll(ctx context.Context, emit func(Tap)) error {
	failures := 0
	for {
		// One target, 106 kbps type A.
		resp, err := s.transceive(ctx, pn532CmdInListPassiveTarget, 0x01, 0x00)
		var uid []byte
		if err == nil {
			uid, err = parseInListPassiveTarget(resp)
			if err != nil {
				s.o.Stats.Torn.Add(1)
				s.o.Logger.Debug("pn532 bad target data", "err", err)
			}
		}
		switch {
		case err == nil:
			failures = 0
			if uid != nil {
				s.o.Stats.Frames.Add(1)
				emit(Tap{UID: strings.ToUpper(hex.EncodeToString(uid)), Tech: TechISO14443A, ReadAt: s.o.Now()})
			}
		case isPN532Protocol(err):
			failures++
			if failures >= 3 {
				return fmt.Errorf("pn532: InListPassiveTarget: %w", err)
			}
		default:
			return err
		}
		if err := sleepCtx(ctx, orDefault(s.d.PollInterval, 100*time.Millisecond)); err != nil {
			return err
		}
	}
}

// transceive sends one command and returns its response parameters (after
// the response code). A NACK makes it resend the command twice at most; a
// damaged response is asked for again with a NACK (three times at most); a
// missing response is aborted with an ACK.
func (s *pn532Session) transceive(ctx context.Context, cmd byte, params ...byte) ([]byte, error) {
	frame := EncodePN532Frame(pn532HostToChip, append([]byte{cmd}, params...)...)
	if !s.awake {
		frame = append(pn532Wakeup[:len(pn532Wakeup):len(pn532Wakeup)], frame...)
	}
send:
	for attempt := 0; ; attempt++ {
		// Answers to earlier, abandoned commands are stale now.
		s.pending = nil
		s.corrupt = false
		s.sc.reset()
		if _, err := s.port.Write(frame); err != nil {
			return nil, fmt.Errorf("pn532: write: %w", err)
		}
		ackBy := time.Now().Add(orDefault(s.d.AckTimeout, 100*time.Millisecond))
		for {
			f, err := s.wait(ctx, ackBy)
			if errors.Is(err, errPN532Corrupt) {
				continue // a damaged ACK: the response may still come
			}
			if errors.Is(err, errPN532Timeout) {
				_, _ = s.port.Write(pn532AckFrame[:]) // abort, in case it was only late
			}
			if err != nil {
				return nil, err
			}
			switch f.Kind {
			case PN532Ack:
				break send
			case PN532Nack:
				s.o.Stats.Protocol.Add(1)
				s.o.Logger.Debug("pn532 NACK", "cmd", cmd)
				if attempt < 2 {
					continue send
				}
				return nil, errPN532Nack
			case PN532Error:
				s.o.Stats.Protocol.Add(1)
				s.o.Logger.Debug("pn532 error frame", "cmd", cmd)
				return nil, errPN532AppError
			case PN532Info: // some clones answer without an ACK
				if resp, ok := s.response(f, cmd); ok {
					s.awake = true
					return resp, nil
				}
			}
		}
	}
	s.awake = true
	respBy := time.Now().Add(orDefault(s.d.ResponseTimeout, time.Second))
	nacks := 0
	for {
		f, err := s.wait(ctx, respBy)
		if errors.Is(err, errPN532Corrupt) {
			// The response arrived damaged: ask for it again at once
			// rather than wait for the timeout.
			if nacks++; nacks <= pn532MaxNacks {
				s.o.Logger.Debug("pn532 corrupted response, sending NACK", "cmd", cmd, "nack", nacks)
				if _, err := s.port.Write(pn532NackFrame[:]); err != nil {
					return nil, fmt.Errorf("pn532: write: %w", err)
				}
			}
			continue
		}
		if errors.Is(err, errPN532Timeout) {
			_, _ = s.port.Write(pn532AckFrame[:]) // abort the command
		}
		if err != nil {
			return nil, err
		}
		switch f.Kind {
		case PN532Error:
			s.o.Stats.Protocol.Add(1)
			s.o.Logger.Debug("pn532 error frame", "cmd", cmd)
			return nil, errPN532AppError
		case PN532Info:
			if resp, ok := s.response(f, cmd); ok {
				return resp, nil
			}
		default:
			s.o.Stats.Protocol.Add(1)
			s.o.Logger.Debug("pn532 unexpected frame while waiting for a response", "cmd", cmd, "kind", f.Kind)
		}
	}
}

// response returns the parameters of f when it answers cmd; anything else is counted.
func (s *pn532Session) response(f PN532Frame, cmd byte) ([]byte, bool) {
	if f.TFI == pn532ChipToHost && len(f.Data) > 0 && f.Data[0] == cmd+1 {
		return f.Data[1:], true
	}
	s.o.Stats.Protocol.Add(1)
	s.o.Logger.Debug("pn532 unexpected frame", "cmd", cmd, "tfi", f.TFI, "data", fmt.Sprintf("% X", f.Data))
	return nil, false
}

// wait returns the next frame, errPN532Corrupt when a damaged frame came
// and no good frame is waiting, or errPN532Timeout once deadline has
// passed. Bad frames and stray bytes are counted on the way.
func (s *pn532Session) wait(ctx context.Context, deadline time.Time) (PN532Frame, error) {
	for {
		if s.corrupt && len(s.pending) == 0 {
			s.corrupt = false
			return PN532Frame{}, errPN532Corrupt
		}
		if len(s.pending) > 0 {
			f := s.pending[0]
			s.pending = s.pending[1:]
			return f, nil
		}
		if time.Now().After(deadline) {
			s.o.Stats.Timeouts.Add(1)
			s.o.Logger.Debug("pn532 timeout")
			return PN532Frame{}, errPN532Timeout
		}
		chunk, err := s.src.read(ctx)
		if err != nil {
			return PN532Frame{}, err
		}
		for _, ev := range s.sc.feed(chunk) {
			switch ev.kind {
			case resFrame:
				s.pending = append(s.pending, ev.frame)
			case resGarbage:
				s.o.Stats.Garbage.Add(uint64(ev.n))
				s.o.Logger.Debug("pn532 garbage", "bytes", ev.n)
			case resBadChecksum:
				s.o.Stats.BadChecksum.Add(1)
				s.o.Logger.Debug("pn532 bad checksum", "err", ev.detail)
				s.corrupt = true
			case resTorn:
				s.o.Stats.Torn.Add(1)
				s.o.Logger.Debug("pn532 torn frame", "err", ev.detail)
				s.corrupt = true
			}
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
