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
	// A frame ends at a silence (Idle), a CR/LF or another non-digit byte;
	// see em4100Scanner.
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
	// Idle is the port read timeout; a silence that long ends an EM-18
	// frame (its taps are emitted then). Zero means 50 ms.
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
	garbage := 0
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
		case resGarbage:
			// Counted at once, before any tap that follows in this chunk
			// is emitted: a reader of the counters never sees a later tap
			// without the garbage that preceded it.
			o.Stats.Garbage.Add(1)
			garbage++
		}
	}
	for {
		chunk, err := src.read(ctx)
		if err != nil {
			return err
		}
		if chunk == nil {
			sc.idle(handle)
			continue
		}
		garbage = 0
		for _, b := range chunk {
			sc.feed(b, handle)
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

// em18MaxRun bounds the digits an EM-18 scanner keeps from one run: four
// frames. Longer runs drop whole frames from the front, which keeps the
// alignment on the run's end.
const em18MaxRun = 4 * 12

// em4100Scanner turns a byte stream into EM4100 frames, one byte at a time.
//
// Framed variants (RDM6300, ID-12LA) are cut by STX and ETX. An EM-18 has
// no framing bytes: its frames are told apart by what ends them. A run of
// hex digits ends at a silence (idle), a CR or LF, or any other non-digit;
// a module sends whole frames, so the run's end is a frame's end and the
// run is cut into 12-digit frames from its end. Digits left over at the
// start (the tail of a frame cut by the port opening, or noise just before
// a frame) are dropped; a 12-digit window is never slid over the run, so
// a window that straddles two frames and passes the checksum by chance is
// never taken for a card.
//
// A run that begins after a silence or a CR/LF should begin with a frame:
// its frames are taken as each completes, from its start (a module that
// repeats its frame while the badge stays in the field makes one long
// run), as long as each has a good checksum; what follows the last good
// one is cut from the run's end. The first
// run after the port opened, or one after a stray byte, is only cut from
// its end.
type em4100Scanner struct {
	variant EM4100Variant
	buf     []byte
	inFrame bool // STX seen (framed variants)
	// EM-18: the current run began at a frame boundary (silence, CR/LF);
	// done digits of it, from its start, are frames already reported.
	aligned bool
	done    int
}

// feed consumes one byte and reports what it completed to out.
func (s *em4100Scanner) feed(b byte, out func(scanResult)) {
	if s.variant == EM18 {
		s.feedEM18(b, out)
		return
	}
	if !s.inFrame {
		if b == stx {
			s.inFrame = true
			s.buf = s.buf[:0]
			return
		}
		out(scanResult{kind: resGarbage})
		return
	}
	switch b {
	case stx: // a new frame starts before this one ended
		out(scanResult{kind: resTorn, detail: fmt.Sprintf("%q", s.buf)})
		s.buf = s.buf[:0]
		return
	case etx:
		s.inFrame = false
		out(decoded(DecodeEM4100(s.variant, s.framed())))
		return
	}
	s.buf = append(s.buf, b)
	if len(s.buf) > 14 { // longer than any valid frame body
		s.inFrame = false
		out(scanResult{kind: resTorn, detail: fmt.Sprintf("%q…", s.buf)})
	}
}

// framed rebuilds the full frame around the collected body.
func (s *em4100Scanner) framed() []byte {
	f := make([]byte, 0, len(s.buf)+2)
	f = append(f, stx)
	f = append(f, s.buf...)
	return append(f, etx)
}

func (s *em4100Scanner) feedEM18(b byte, out func(scanResult)) {
	if isHexDigit(b) {
		if len(s.buf) == em18MaxRun {
			if s.done < 12 {
				out(scanResult{kind: resTorn, detail: fmt.Sprintf("%q…", s.buf[:12])})
			}
			s.buf = append(s.buf[:0], s.buf[12:]...)
			s.done = max(s.done-12, 0)
		}
		s.buf = append(s.buf, b)
		if s.aligned && len(s.buf)%12 == 0 {
			uid, raw, err := DecodeEM4100(EM18, s.buf[len(s.buf)-12:])
			if err != nil {
				// Not a frame after all (noise before it?): leave the
				// rest of the run to be cut from its end.
				s.aligned = false
				return
			}
			out(scanResult{kind: resFrame, uid: uid, raw: raw})
			s.done = len(s.buf)
		}
		return
	}
	s.endRun(out)
	s.aligned = b == '\r' || b == '\n'
	if !s.aligned {
		out(scanResult{kind: resGarbage})
	}
}

// block reports one 12-digit EM-18 frame.
func (s *em4100Scanner) block(b []byte, out func(scanResult)) {
	out(decoded(DecodeEM4100(EM18, b)))
}

// decoded is what DecodeEM4100 made of a whole frame: its badge, a bad
// checksum or a torn frame.
func decoded(uid string, raw []byte, err error) scanResult {
	switch {
	case err == nil:
		return scanResult{kind: resFrame, uid: uid, raw: raw}
	case isChecksum(err):
		return scanResult{kind: resBadChecksum, detail: err.Error()}
	default:
		return scanResult{kind: resTorn, detail: err.Error()}
	}
}

// endRun reports what is left of the EM-18 digit run that just ended: the
// digits after the frames already reported, cut into frames from the end.
func (s *em4100Scanner) endRun(out func(scanResult)) {
	run := s.buf[s.done:]
	s.buf, s.done = s.buf[:0], 0
	if len(run) == 0 {
		return
	}
	lead := len(run) % 12
	if lead > 0 {
		out(scanResult{kind: resTorn, detail: fmt.Sprintf("%q", run[:lead])})
	}
	for i := lead; i+12 <= len(run); i += 12 {
		s.block(run[i:i+12], out)
	}
}

// idle reports a silence on the line: it ends an EM-18 run, and the next
// one begins with a frame. A framed variant keeps waiting for its ETX.
func (s *em4100Scanner) idle(out func(scanResult)) {
	if s.variant == EM18 {
		s.endRun(out)
		s.aligned = true
	}
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
