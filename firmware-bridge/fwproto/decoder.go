package fwproto

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrShort is returned by Decoder.Next when no complete frame is buffered;
// feed more bytes and call Next again.
var ErrShort = errors.New("fwproto: need more bytes")

// ErrCRC is wrapped by the error Decoder.Next returns for a frame whose CRC
// does not match.
var ErrCRC = errors.New("fwproto: bad crc")

// Stats counts what a Decoder has seen.
type Stats struct {
	Frames     uint64 // well-formed messages returned
	Garbage    uint64 // bytes skipped while looking for a frame start
	BadCRC     uint64 // candidate frames dropped for a CRC mismatch
	BadPayload uint64 // frames with a good CRC but a malformed payload
	Unknown    uint64 // frames of an unknown type (skipped)
}

// Decoder is a streaming frame decoder. Feed it bytes as they arrive, in any
// split, and call Next until it returns ErrShort.
//
// Resynchronisation: the decoder looks for SOF, checks VER and LEN, waits for
// LEN+2 more bytes and checks the CRC. On any mismatch it drops only the SOF
// byte and searches again from the next byte, so a real frame hidden behind
// garbage (even garbage containing 0xA5) is still found. A false SOF with a
// plausible length can hold back the following frame until enough bytes
// arrive to disprove it (at most MaxFrame bytes; the firmware heartbeat
// supplies them within a second).
//
// The zero value is ready to use. A Decoder is not safe for concurrent use.
type Decoder struct {
	buf   []byte
	stats Stats
}

// Feed appends bytes received from the wire.
func (d *Decoder) Feed(p []byte) {
	d.buf = append(d.buf, p...)
}

// Buffered returns the number of bytes held waiting for a complete frame.
func (d *Decoder) Buffered() int { return len(d.buf) }

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

func (d *Decoder) drop(n int) {
	// Copy down rather than reslice so the backing array does not grow
	// without bound on a long-lived stream.
	m := copy(d.buf, d.buf[n:])
	d.buf = d.buf[:m]
}

// Next returns the next message. It returns ErrShort when more bytes are
// needed, an error wrapping ErrCRC, ErrPayload or ErrUnknownType for a frame
// it dropped (the caller logs it and calls Next again), or a Message.
func (d *Decoder) Next() (Message, error) {
	for {
		i := bytes.IndexByte(d.buf, SOF)
		if i < 0 {
			d.stats.Garbage += uint64(len(d.buf))
			d.buf = d.buf[:0]
			return nil, ErrShort
		}
		if i > 0 {
			d.stats.Garbage += uint64(i)
			d.drop(i)
		}
		if len(d.buf) >= 2 && d.buf[1] != Version {
			d.stats.Garbage++
			d.drop(1)
			continue
		}
		if len(d.buf) < headerLen {
			return nil, ErrShort
		}
		n := int(d.buf[3])
		if n > MaxPayload {
			d.stats.Garbage++
			d.drop(1)
			continue
		}
		total := headerLen + n + crcLen
		if len(d.buf) < total {
			return nil, ErrShort
		}
		want := uint16(d.buf[total-2])<<8 | uint16(d.buf[total-1])
		if got := CRC16(d.buf[1 : total-2]); got != want {
			d.stats.BadCRC++
			t := Type(d.buf[2])
			d.drop(1)
			return nil, fmt.Errorf("%w: %s frame crc 0x%04x, computed 0x%04x", ErrCRC, t, want, got)
		}
		t := Type(d.buf[2])
		m, err := parsePayload(t, d.buf[headerLen:headerLen+n])
		d.drop(total)
		if err != nil {
			if errors.Is(err, ErrUnknownType) {
				d.stats.Unknown++
			} else {
				d.stats.BadPayload++
			}
			return nil, err
		}
		d.stats.Frames++
		return m, nil
	}
}

// Unmarshal decodes exactly one frame. It returns an error if b holds
// anything else (garbage, a partial frame, trailing bytes).
func Unmarshal(b []byte) (Message, error) {
	var d Decoder
	d.Feed(b)
	m, err := d.Next()
	if errors.Is(err, ErrShort) {
		return nil, fmt.Errorf("fwproto: incomplete frame (%d bytes)", len(b))
	}
	if err != nil {
		return nil, err
	}
	if d.stats.Garbage > 0 || d.Buffered() > 0 {
		return nil, fmt.Errorf("fwproto: %d stray bytes around the frame", d.stats.Garbage+uint64(d.Buffered()))
	}
	return m, nil
}
