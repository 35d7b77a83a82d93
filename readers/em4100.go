package readers

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"go.bug.st/serial"
)

// EM4100Variant selects the framing of a 125 kHz EM4100 reader module.
type EM4100Variant int

// EM4100 module variants. All send the 5 data bytes and their XOR checksum
// as 12 ASCII hex digits at 9600 8N1.
const (
	// RDM6300: STX, 10 hex digits, 2 hex checksum digits, ETX (14 bytes).
	RDM6300 EM4100Variant = iota + 1
	// ID12LA covers ID-12LA and ID-20LA: as RDM6300 with CR LF before ETX (16 bytes).
	ID12LA
	// EM18: the 12 hex digits alone, no STX/ETX; CR and LF are tolerated.
	// Frames are told apart by the silence between them: after a bad
	// checksum, digits are skipped until a silence (Idle) or a non-digit.
	EM18
)

const (
	stx = 0x02
	etx = 0x03
)

// String returns the module name.
func (v EM4100Variant) String() string {
	switch v {
	case RDM6300:
		return "RDM6300"
	case ID12LA:
		return "ID-12LA"
	case EM18:
		return "EM-18"
	}
	return fmt.Sprintf("EM4100Variant(%d)", int(v))
}

// EM4100 is the Driver for RDM6300, ID-12LA/ID-20LA and EM-18 modules.
// Taps carry TechEM4100, the 5-byte UID and the printed 10-digit number.
type EM4100 struct {
	Observer
	variant EM4100Variant
	// Idle is the port read timeout; a silence that long drops a partial
	// EM-18 frame. Zero means 50 ms.
	Idle time.Duration
}

// NewEM4100 returns a driver for the given module variant.
func NewEM4100(v EM4100Variant) *EM4100 {
	return &EM4100{variant: v}
}

// SerialMode returns 9600 8N1, the line settings of every EM4100 module.
func (d *EM4100) SerialMode() serial.Mode {
	return serial.Mode{BaudRate: 9600, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
}

// Validate reports an unknown variant.
func (d *EM4100) Validate() error {
	if d.variant < RDM6300 || d.variant > EM18 {
		return fmt.Errorf("em4100: unknown variant %d", int(d.variant))
	}
	return nil
}

// Run decodes frames from port until ctx is cancelled or the port fails.
// It returns the Validate error at once for an unknown variant.
func (d *EM4100) Run(ctx context.Context, port io.ReadWriter, emit func(Tap)) error {
	if err := d.Validate(); err != nil {
		return err
	}
	o := d.Observer.withDefaults()
	idle := d.Idle
	if idle <= 0 {
		idle = 50 * time.Millisecond
	}
	if err := setReadTimeout(port, idle); err != nil {
		return fmt.Errorf("em4100: set read timeout: %w", err)
	}
	src := source{r: port, idle: idle}
	sc := em4100Scanner{variant: d.variant}
	handle := func(r scanResult) {
		switch r.kind {
		case resFrame:
			o.Stats.Frames.Add(1)
			emit(Tap{UID: r.uid, Tech: TechEM4100, ReadAt: o.Now(), Number: em4100Number(r.raw)})
		case resBadChecksum:
			o.Stats.BadChecksum.Add(1)
			o.Logger.Debug("em4100 bad checksum", "variant", d.variant.String(), "frame", r.detail)
		case resTorn:
			o.Stats.Torn.Add(1)
			o.Logger.Debug("em4100 torn frame", "variant", d.variant.String(), "frame", r.detail)
		}
	}
	for {
		chunk, err := src.read(ctx)
		if err != nil {
			return err
		}
		if chunk == nil {
			handle(sc.idle())
			continue
		}
		garbage := 0
		for _, b := range chunk {
			r := sc.feed(b)
			if r.kind == resGarbage {
				// Counted at once, before any tap that follows in this
				// chunk is emitted: a reader of the counters never sees a
				// later tap without the garbage that preceded it.
				o.Stats.Garbage.Add(1)
				garbage++
				continue
			}
			handle(r)
		}
		if garbage > 0 {
			o.Logger.Debug("em4100 garbage", "variant", d.variant.String(), "bytes", garbage)
		}
	}
}

// resultKind says what a scanner made of its input.
type resultKind int

const (
	resNone        resultKind = iota // nothing yet
	resFrame                         // a valid frame
	resBadChecksum                   // a complete frame with a wrong checksum
	resTorn                          // an incomplete or malformed frame was dropped
	resGarbage                       // one stray byte
)

// scanResult is what a scanner step produced.
type scanResult struct {
	kind   resultKind
	uid    string // canonical upper-case hex, for resFrame
	raw    []byte // decoded bytes, for resFrame
	detail string // quoted input, for logs
}

// em4100Scanner turns a byte stream into EM4100 frames, one byte at a time.
type em4100Scanner struct {
	variant   EM4100Variant
	buf       []byte
	inFrame   bool // STX seen (framed variants)
	resyncing bool // EM-18: a 12-digit window failed; skip digits until a silence
}

// feed consumes one byte.
func (s *em4100Scanner) feed(b byte) scanResult {
	if s.variant == EM18 {
		return s.feedEM18(b)
	}
	if !s.inFrame {
		if b == stx {
			s.inFrame = true
			s.buf = s.buf[:0]
			return scanResult{}
		}
		return scanResult{kind: resGarbage}
	}
	switch b {
	case stx: // a new frame starts before this one ended
		r := scanResult{kind: resTorn, detail: fmt.Sprintf("%q", s.buf)}
		s.buf = s.buf[:0]
		return r
	case etx:
		s.inFrame = false
		uid, raw, err := DecodeEM4100(s.variant, s.framed())
		switch {
		case err == nil:
			return scanResult{kind: resFrame, uid: uid, raw: raw}
		case isChecksum(err):
			return scanResult{kind: resBadChecksum, detail: err.Error()}
		default:
			return scanResult{kind: resTorn, detail: err.Error()}
		}
	}
	s.buf = append(s.buf, b)
	if len(s.buf) > 14 { // longer than any valid frame body
		s.inFrame = false
		return scanResult{kind: resTorn, detail: fmt.Sprintf("%q…", s.buf)}
	}
	return scanResult{}
}

// framed rebuilds the full frame around the collected body.
func (s *em4100Scanner) framed() []byte {
	f := make([]byte, 0, len(s.buf)+2)
	f = append(f, stx)
	f = append(f, s.buf...)
	return append(f, etx)
}

func (s *em4100Scanner) feedEM18(b byte) scanResult {
	if !isHexDigit(b) {
		r := scanResult{}
		if b != '\r' && b != '\n' {
			r.kind = resGarbage
		}
		if len(s.buf) > 0 && !s.resyncing {
			r = scanResult{kind: resTorn, detail: fmt.Sprintf("%q", s.buf)}
		}
		s.buf = s.buf[:0]
		s.resyncing = false
		return r
	}
	if s.resyncing {
		return scanResult{}
	}
	s.buf = append(s.buf, b)
	if len(s.buf) < 12 {
		return scanResult{}
	}
	uid, raw, err := DecodeEM4100(EM18, s.buf)
	s.buf = s.buf[:0]
	if err == nil {
		return scanResult{kind: resFrame, uid: uid, raw: raw}
	}
	// Without framing bytes there is no safe way to find the next frame
	// inside a digit stream: sliding a window finds false frames (a torn
	// "0100CD" glued to "0100CDA4EC84" gives the valid "0100CD0100CD").
	// Skip digits until a silence or a non-digit byte.
	s.resyncing = true
	return scanResult{kind: resBadChecksum, detail: err.Error()}
}

// idle reports a silence on the line: an EM-18 partial frame is dropped.
func (s *em4100Scanner) idle() scanResult {
	r := scanResult{}
	if s.variant == EM18 && len(s.buf) > 0 {
		r = scanResult{kind: resTorn, detail: fmt.Sprintf("%q", s.buf)}
	}
	s.buf = s.buf[:0]
	s.resyncing = false
	return r
}

// DecodeEM4100 checks one complete frame of the given variant (with its
// STX/ETX or CR LF where the variant has them) and returns the canonical
// upper-case hex UID and the 5 data bytes. It returns an error wrapping
// ErrMalformed or ErrChecksum that says what is wrong.
func DecodeEM4100(v EM4100Variant, frame []byte) (uid string, data []byte, err error) {
	var body []byte
	switch v {
	case RDM6300:
		if len(frame) != 14 || frame[0] != stx || frame[13] != etx {
			return "", nil, fmt.Errorf("%w: RDM6300 frame is STX + 12 hex digits + ETX (14 bytes), got %d bytes %q", ErrMalformed, len(frame), frame)
		}
		body = frame[1:13]
	case ID12LA:
		if len(frame) != 16 || frame[0] != stx || frame[13] != '\r' || frame[14] != '\n' || frame[15] != etx {
			return "", nil, fmt.Errorf("%w: ID-12LA frame is STX + 12 hex digits + CR LF + ETX (16 bytes), got %d bytes %q", ErrMalformed, len(frame), frame)
		}
		body = frame[1:13]
	case EM18:
		if len(frame) != 12 {
			return "", nil, fmt.Errorf("%w: EM-18 frame is 12 hex digits, got %d bytes %q", ErrMalformed, len(frame), frame)
		}
		body = frame
	default:
		return "", nil, fmt.Errorf("%w: unknown EM4100 variant %d", ErrMalformed, int(v))
	}
	var b [6]byte
	if _, err := hex.Decode(b[:], body); err != nil {
		return "", nil, fmt.Errorf("%w: %s frame %q: %v", ErrMalformed, v, frame, err)
	}
	sum := b[0] ^ b[1] ^ b[2] ^ b[3] ^ b[4]
	if sum != b[5] {
		return "", nil, fmt.Errorf("%w: %s frame %q: checksum %02X, data gives %02X", ErrChecksum, v, frame, b[5], sum)
	}
	return strings.ToUpper(hex.EncodeToString(b[:5])), b[:5:5], nil
}

// EncodeEM4100 returns the frame a module of variant v sends for the 5-byte
// id, e.g. for simulators. It panics on an unknown variant.
func EncodeEM4100(v EM4100Variant, id [5]byte) []byte {
	sum := id[0] ^ id[1] ^ id[2] ^ id[3] ^ id[4]
	digits := strings.ToUpper(hex.EncodeToString(append(id[:], sum)))
	switch v {
	case RDM6300:
		return []byte("\x02" + digits + "\x03")
	case ID12LA:
		return []byte("\x02" + digits + "\r\n\x03")
	case EM18:
		return []byte(digits)
	}
	panic(fmt.Sprintf("readers: unknown EM4100 variant %d", int(v)))
}

// em4100Number is the number printed on fobs: the last 4 bytes in decimal.
func em4100Number(data []byte) string {
	if len(data) < 4 {
		return ""
	}
	return fmt.Sprintf("%010d", binary.BigEndian.Uint32(data[len(data)-4:]))
}

func isHexDigit(b byte) bool {
	return '0' <= b && b <= '9' || 'A' <= b && b <= 'F' || 'a' <= b && b <= 'f'
}
