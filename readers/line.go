package readers

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.bug.st/serial"
)

// LineEncoding says how a line reader writes the badge id.
type LineEncoding int

// Line encodings.
const (
	// LineHex: hexadecimal digits, two per byte (e.g. "04A23B1C" or "0100CDA4EC").
	LineHex LineEncoding = iota + 1
	// LineDecimal: decimal digits of the id read as a big-endian number
	// (e.g. "0013477100").
	LineDecimal
	// LineWiegandBits: the raw Wiegand bits as '0'/'1', 26 or 34 of them,
	// with the leading even and trailing odd parity bits, which are checked.
	LineWiegandBits
)

// LineFormat describes what one line of a line reader holds. Lines end with
// CR, LF or CR LF; empty lines are ignored.
type LineFormat struct {
	Encoding LineEncoding
	// Tech is reported with each tap. Required for LineHex and LineDecimal;
	// LineWiegandBits defaults to TechWiegand.
	Tech Tech
	// Prefix and Suffix are stripped from each line; when set, a line
	// without them is rejected.
	Prefix, Suffix string
	// Lengths lists the accepted numbers of digits (after stripping); empty
	// accepts any (hex: even, 2–20; decimal: 1–20; bits: 26 or 34).
	Lengths []int
	// Reverse reverses the byte order of the decoded id (readers that print
	// the UID least significant byte first).
	Reverse bool
	// Bytes is the width of the id decoded from LineDecimal. Zero picks it
	// from the number of digits: up to 10 → 4, 13 → 5, 17 → 7, else 8.
	Bytes int
	// Baud is the port speed; zero means 9600 (CDC-ACM ports ignore it).
	Baud int
}

// Validate reports a format that cannot work.
func (f LineFormat) Validate() error {
	switch f.Encoding {
	case LineHex, LineDecimal:
		if f.Tech == "" {
			return errors.New("line format: Tech is required for hex and decimal lines")
		}
	case LineWiegandBits:
	default:
		return fmt.Errorf("line format: unknown encoding %d", int(f.Encoding))
	}
	if f.Bytes < 0 || f.Bytes > 8 {
		return fmt.Errorf("line format: Bytes %d out of range 0–8", f.Bytes)
	}
	for _, n := range f.Lengths {
		if n < 1 || n > maxLine {
			return fmt.Errorf("line format: length %d out of range 1–%d", n, maxLine)
		}
	}
	return nil
}

// maxLine bounds a line; longer input is dropped up to the next terminator.
const maxLine = 64

// Parse decodes one line (without its terminator) into a tap with UID,
// Tech and, for TechEM4100 or a decimal line, Number set. It returns an error wrapping
// ErrMalformed, or ErrChecksum for a Wiegand parity error.
func (f LineFormat) Parse(line string) (Tap, error) {
	s := line
	if f.Prefix != "" {
		var ok bool
		if s, ok = strings.CutPrefix(s, f.Prefix); !ok {
			return Tap{}, fmt.Errorf("%w: line %q lacks prefix %q", ErrMalformed, line, f.Prefix)
		}
	}
	if f.Suffix != "" {
		var ok bool
		if s, ok = strings.CutSuffix(s, f.Suffix); !ok {
			return Tap{}, fmt.Errorf("%w: line %q lacks suffix %q", ErrMalformed, line, f.Suffix)
		}
	}
	if len(f.Lengths) > 0 && !slices.Contains(f.Lengths, len(s)) {
		return Tap{}, fmt.Errorf("%w: line %q has %d digits, want one of %v", ErrMalformed, line, len(s), f.Lengths)
	}
	var (
		id   []byte
		err  error
		tech = f.Tech
	)
	switch f.Encoding {
	case LineHex:
		id, err = parseHexID(s)
	case LineDecimal:
		id, err = parseDecimalID(s, f.Bytes)
	case LineWiegandBits:
		id, err = ParseWiegand(s)
		if tech == "" {
			tech = TechWiegand
		}
	default:
		err = fmt.Errorf("%w: unknown line encoding %d", ErrMalformed, int(f.Encoding))
	}
	if err != nil {
		return Tap{}, fmt.Errorf("line %q: %w", line, err)
	}
	if tech == TechEM4100 && len(id) != 4 && len(id) != 5 {
		return Tap{}, fmt.Errorf("%w: line %q: an EM4100 id has 4 or 5 bytes, got %d", ErrMalformed, line, len(id))
	}
	if f.Reverse {
		slices.Reverse(id)
	}
	t := Tap{UID: strings.ToUpper(hex.EncodeToString(id)), Tech: tech}
	switch {
	case tech == TechEM4100:
		t.Number = em4100Number(id)
	case f.Encoding == LineDecimal:
		t.Number = s // what the reader printed, as on the badge
	}
	return t, nil
}

func parseHexID(s string) ([]byte, error) {
	if len(s) < 2 || len(s) > 20 || len(s)%2 != 0 {
		return nil, fmt.Errorf("%w: %d hex digits, want an even number from 2 to 20", ErrMalformed, len(s))
	}
	id, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return id, nil
}

func parseDecimalID(s string, width int) ([]byte, error) {
	if len(s) < 1 || len(s) > 20 {
		return nil, fmt.Errorf("%w: %d decimal digits, want 1 to 20", ErrMalformed, len(s))
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return nil, fmt.Errorf("%w: %q at position %d is not a decimal digit", ErrMalformed, s[i], i+1)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if width == 0 {
		switch {
		case len(s) <= 10:
			width = 4
		case len(s) <= 13:
			width = 5
		case len(s) <= 17:
			width = 7
		default:
			width = 8
		}
	}
	if width < 8 && v>>(8*width) != 0 {
		return nil, fmt.Errorf("%w: %s does not fit in %d bytes", ErrMalformed, s, width)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[8-width:], nil
}

// ParseWiegand checks a Wiegand 26 or 34 frame given as '0'/'1' characters,
// most significant bit first: an even parity bit over the first half of
// the data, the data bits (24 or 32), an odd parity bit over the second
// half. It returns the data bytes (3 or 4). Errors wrap ErrMalformed or,
// for a parity error, ErrChecksum.
func ParseWiegand(bits string) ([]byte, error) {
	if len(bits) != 26 && len(bits) != 34 {
		return nil, fmt.Errorf("%w: Wiegand frame of %d bits, want 26 or 34", ErrMalformed, len(bits))
	}
	var v uint64
	for i := range len(bits) {
		switch bits[i] {
		case '0':
			v <<= 1
		case '1':
			v = v<<1 | 1
		default:
			return nil, fmt.Errorf("%w: Wiegand bit %d is %q, want 0 or 1", ErrMalformed, i+1, bits[i])
		}
	}
	n := len(bits) - 2 // data bits
	data := v >> 1 & (1<<n - 1)
	half := n / 2
	even := uint(v>>(len(bits)-1)) & 1
	odd := uint(v & 1)
	if (countOnes(data>>half)+even)%2 != 0 {
		return nil, fmt.Errorf("%w: Wiegand %d even parity (first bit) does not match", ErrChecksum, len(bits))
	}
	if (countOnes(data&(1<<half-1))+odd)%2 != 1 {
		return nil, fmt.Errorf("%w: Wiegand %d odd parity (last bit) does not match", ErrChecksum, len(bits))
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], data)
	return b[8-n/8:], nil
}

// EncodeWiegand returns the '0'/'1' Wiegand frame with parity bits for 3
// data bytes (26 bits) or 4 (34 bits), e.g. for simulators. It panics on
// another length.
func EncodeWiegand(data []byte) string {
	if len(data) != 3 && len(data) != 4 {
		panic("readers: Wiegand data must be 3 or 4 bytes")
	}
	var v uint64
	for _, c := range data {
		v = v<<8 | uint64(c)
	}
	n := 8 * len(data)
	half := n / 2
	even := countOnes(v>>half) % 2
	odd := 1 - countOnes(v&(1<<half-1))%2
	full := uint64(even)<<(n+1) | v<<1 | uint64(odd)
	s := strconv.FormatUint(full, 2)
	return strings.Repeat("0", n+2-len(s)) + s
}

func countOnes(v uint64) uint {
	n := uint(0)
	for ; v != 0; v &= v - 1 {
		n++
	}
	return n
}

// Line is the Driver for readers that print one badge per text line:
// CDC-ACM "keyboard-wedge style" readers and Wiegand-to-RS232 converters.
//
// A tap only comes from a whole line, from its first byte to its
// terminator: a line cut by a silence is dropped with its rest (see
// lineScanner), and noise bytes directly before a line are skipped (see
// parse).
// Set the format's Lengths: they are what tells a shorter id from a whole
// one.
type Line struct {
	Observer
	format LineFormat
	// Idle is the port read timeout; a silence that long inside a line
	// drops the line. Zero means 50 ms.
	Idle time.Duration
}

// NewLine returns a line driver for format f, or the Validate error.
func NewLine(f LineFormat) (*Line, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &Line{format: f}, nil
}

// Validate reports an unusable format.
func (d *Line) Validate() error { return d.format.Validate() }

// SerialMode returns the format's baud rate (9600 by default), 8N1.
func (d *Line) SerialMode() serial.Mode {
	baud := d.format.Baud
	if baud == 0 {
		baud = 9600
	}
	return serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
}

// lineResync is how long a silence must last, after a line was cut by a
// shorter one, before the next byte may start a line: the bytes that come
// back sooner are the rest of the cut line and are dropped up to its
// terminator.
const lineResync = 500 * time.Millisecond

// lineScanner splits a byte stream into lines ended by CR, LF or CR LF.
//
// It only hands out whole lines. It starts unsynchronised (the port may
// open in the middle of a line): bytes are dropped until a terminator or a
// silence. A silence inside a line drops what came before it and the rest
// of that line, up to its terminator, unless the silence lasts lineResync;
// noise cut by a silence (bytes no line of the format starts with) is
// dropped alone.
type lineScanner struct {
	buf       []byte
	overflow  bool      // the current line is too long and is being skipped
	synced    bool      // the next byte starts a line
	skipUntil time.Time // while !synced: a silence lasting until then resynchronises
	// lineLike tells the start of a line from noise (nil: everything may
	// start a line). Noise cut by a silence is dropped alone: the line
	// that follows it is whole.
	lineLike func(partial []byte) bool
}

// feed consumes one byte and returns a complete line (nil otherwise) and
// whether a too long line was just dropped.
func (s *lineScanner) feed(b byte) (line []byte, dropped bool) {
	if b == '\r' || b == '\n' {
		dropped = s.overflow
		s.overflow = false
		synced := s.synced
		s.synced = true
		if len(s.buf) == 0 || dropped || !synced {
			s.buf = s.buf[:0]
			return nil, dropped
		}
		line, s.buf = s.buf, nil
		return line, false
	}
	if !s.synced || s.overflow {
		return nil, false
	}
	if len(s.buf) >= maxLine {
		s.overflow = true
		s.buf = s.buf[:0]
		return nil, false
	}
	s.buf = append(s.buf, b)
	return nil, false
}

// idle reports a silence at time now; it reports whether a partial line
// (or noise) was dropped. The rest of a cut line will be dropped too.
func (s *lineScanner) idle(now time.Time) bool {
	partial := len(s.buf) > 0 || s.overflow
	cut := len(s.buf) > 0 && !s.overflow && (s.lineLike == nil || s.lineLike(s.buf))
	s.buf = s.buf[:0]
	s.overflow = false
	switch {
	case cut:
		s.synced = false
		s.skipUntil = now.Add(lineResync)
	case !s.synced && !now.Before(s.skipUntil):
		s.synced = true
	}
	return partial
}

// parse decodes a whole line. When the line does not parse, noise may have
// come directly before the reader's line: the line is taken from its last
// Prefix, or, without one, from after the last byte that cannot be part of
// an id (a non-digit for decimal lines, non-hex for hex, not 0/1 for
// Wiegand bits). Digits are never skipped: noise made of digits cannot be
// told from the id. It returns the number of bytes skipped; the error is
// the whole line's.
func (d *Line) parse(line string) (t Tap, noise int, err error) {
	t, err = d.format.Parse(line)
	if err == nil {
		return t, 0, nil
	}
	f := d.format
	start := 0
	if f.Prefix != "" {
		start = max(strings.LastIndex(line, f.Prefix), 0)
	} else {
		body := strings.TrimSuffix(line, f.Suffix)
		for i := len(body) - 1; i >= 0; i-- {
			if !f.idByte(body[i]) {
				start = i + 1
				break
			}
		}
	}
	if start == 0 || start >= len(line) {
		return Tap{}, 0, err
	}
	tail, terr := f.Parse(line[start:])
	if terr != nil {
		return Tap{}, 0, err
	}
	return tail, start, nil
}

// lineLike reports whether partial may be the start of one of this
// format's lines: id bytes, and bytes of the prefix and suffix.
func (f LineFormat) lineLike(partial []byte) bool {
	for _, c := range partial {
		if !f.idByte(c) && strings.IndexByte(f.Prefix, c) < 0 && strings.IndexByte(f.Suffix, c) < 0 {
			return false
		}
	}
	return true
}

// idByte reports whether c may be part of an id of this format.
func (f LineFormat) idByte(c byte) bool {
	switch f.Encoding {
	case LineHex:
		return isHexDigit(c)
	case LineDecimal:
		return '0' <= c && c <= '9'
	case LineWiegandBits:
		return c == '0' || c == '1'
	}
	return false
}

// Run decodes lines from port until ctx is cancelled or the port fails.
func (d *Line) Run(ctx context.Context, port io.ReadWriter, emit func(Tap)) error {
	if err := d.format.Validate(); err != nil {
		return err
	}
	o := d.Observer.withDefaults()
	idle := orDefault(d.Idle, 50*time.Millisecond)
	if err := setReadTimeout(port, idle); err != nil {
		return fmt.Errorf("line reader: set read timeout: %w", err)
	}
	src := source{r: port, idle: idle}
	// The port may have opened in the middle of a line: a silence or a
	// terminator comes first.
	sc := lineScanner{skipUntil: time.Now(), lineLike: d.format.lineLike}
	for {
		chunk, err := src.read(ctx)
		if err != nil {
			return err
		}
		if chunk == nil {
			if sc.idle(time.Now()) {
				o.Stats.Torn.Add(1)
				o.Logger.Debug("line reader partial line dropped after silence")
			}
			continue
		}
		for _, b := range chunk {
			line, dropped := sc.feed(b)
			if dropped {
				o.Stats.Torn.Add(1)
				o.Logger.Debug("line reader line too long", "max", maxLine)
			}
			if line == nil {
				continue
			}
			t, noise, err := d.parse(string(line))
			if err != nil {
				if isChecksum(err) {
					o.Stats.BadChecksum.Add(1)
				} else {
					o.Stats.Garbage.Add(1)
				}
				o.Logger.Debug("line reader bad line", "err", err)
				continue
			}
			if noise > 0 {
				o.Stats.Garbage.Add(1)
				o.Logger.Debug("line reader noise before a line", "bytes", noise, "line", fmt.Sprintf("%q", line))
			}
			o.Stats.Frames.Add(1)
			t.ReadAt = o.Now()
			emit(t)
		}
	}
}
