// Package fwproto is the serial protocol between the Tartine reference reader
// firmware (a microcontroller with an MFRC522 or PN532) and the bridge.
//
// A frame is
//
//	SOF(0xA5) VER(0x01) TYPE LEN PAYLOAD[LEN] CRC16_HI CRC16_LO
//
// where the CRC is CRC-16/CCITT-FALSE over VER..PAYLOAD. There is no byte
// stuffing: a receiver resynchronises by the length and the CRC (see Decoder).
// PROTOCOL.md in the parent folder is the full description.
package fwproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Framing constants.
const (
	SOF        byte = 0xA5 // start of frame
	Version    byte = 0x01 // protocol version carried in every frame
	MaxPayload      = 64   // longest payload a frame may carry
	headerLen       = 4    // SOF VER TYPE LEN
	crcLen          = 2
	// MaxFrame is the longest frame on the wire.
	MaxFrame = headerLen + MaxPayload + crcLen
)

// Limits of message fields.
const (
	MaxUID          = 10 // ISO 14443 triple-size UID
	MaxDisplayText  = 32 // bytes (Latin-1) of one display line
	MaxErrorText    = MaxPayload - 1
	MaxFirmwareText = MaxPayload - 8
	DisplayLines    = 4
)

// Type identifies a message. Device→bridge types are below 0x80, bridge→device
// types have the high bit set.
type Type byte

// Message types.
const (
	TypeCardRead  Type = 0x01 // device→bridge: a card was read
	TypeHeartbeat Type = 0x02 // device→bridge: periodic liveness
	TypeError     Type = 0x03 // device→bridge: the firmware reports a fault
	TypeAck       Type = 0x81 // bridge→device: the read is recorded durably
	TypeFeedback  Type = 0x82 // bridge→device: verdict LED/beep
	TypeDisplay   Type = 0x83 // bridge→device: one text line for a small display
)

func (t Type) String() string {
	switch t {
	case TypeCardRead:
		return "card_read"
	case TypeHeartbeat:
		return "heartbeat"
	case TypeError:
		return "error"
	case TypeAck:
		return "ack"
	case TypeFeedback:
		return "feedback"
	case TypeDisplay:
		return "display"
	}
	return fmt.Sprintf("type_0x%02x", byte(t))
}

// Tech is the card technology code carried in a CardRead.
type Tech byte

// Technology codes.
const (
	TechEM4100    Tech = 0x01
	TechISO14443A Tech = 0x02
)

// Level is the verdict shown by the reader: the firmware maps it to an LED
// colour and a beep pattern (ok: green, one short beep; warn: amber, two short
// beeps; deny: red, one long beep).
type Level byte

// Feedback levels.
const (
	LevelOK   Level = 0x01
	LevelWarn Level = 0x02
	LevelDeny Level = 0x03
)

// ParseLevel maps the device API feedback words ("ok", "warn", "deny") to a
// Level. It returns an error for any other word.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "ok":
		return LevelOK, nil
	case "warn":
		return LevelWarn, nil
	case "deny":
		return LevelDeny, nil
	}
	return 0, fmt.Errorf("fwproto: unknown feedback level %q (want ok, warn or deny)", s)
}

func (l Level) String() string {
	switch l {
	case LevelOK:
		return "ok"
	case LevelWarn:
		return "warn"
	case LevelDeny:
		return "deny"
	}
	return fmt.Sprintf("level_0x%02x", byte(l))
}

// Message is one protocol message. The concrete types are CardRead,
// Heartbeat, FirmwareError, Ack, Feedback and Display.
type Message interface {
	Type() Type
	appendPayload(dst []byte) ([]byte, error)
}

// CardRead reports a card in the field. Boot is a random number the firmware
// draws at power-up and Seq counts reads since then: together they identify a
// read across retransmissions (the firmware resends a read until it gets an Ack).
type CardRead struct {
	Boot uint32
	Seq  uint32
	Tech Tech
	UID  []byte // 1..MaxUID bytes
}

// Heartbeat is sent by the firmware about once per second.
type Heartbeat struct {
	Boot     uint32
	Uptime   time.Duration // millisecond resolution on the wire
	Firmware string        // firmware version, ASCII
}

// FirmwareError is a fault reported by the firmware (e.g. the RF chip does
// not answer). Code values are firmware-defined; Text is ASCII.
type FirmwareError struct {
	Code byte
	Text string
}

// Ack tells the firmware that read (Boot, Seq) is stored durably; the
// firmware stops resending it.
type Ack struct {
	Boot uint32
	Seq  uint32
}

// Feedback gives the verdict for read (Boot, Seq); Seq 0 means "not tied to
// a read" (e.g. a test pattern).
type Feedback struct {
	Boot  uint32
	Seq   uint32
	Level Level
}

// Display writes one line (0..DisplayLines-1) of a small character display.
// Text is sent as Latin-1; characters outside Latin-1 become '?', and the
// text is cut to MaxDisplayText bytes.
type Display struct {
	Line byte
	Text string
}

// Type implements Message.
func (CardRead) Type() Type { return TypeCardRead }

// Type implements Message.
func (Heartbeat) Type() Type { return TypeHeartbeat }

// Type implements Message.
func (FirmwareError) Type() Type { return TypeError }

// Type implements Message.
func (Ack) Type() Type { return TypeAck }

// Type implements Message.
func (Feedback) Type() Type { return TypeFeedback }

// Type implements Message.
func (Display) Type() Type { return TypeDisplay }

// Error implements error so a FirmwareError can be logged or returned as is.
func (e FirmwareError) Error() string {
	return fmt.Sprintf("firmware error %d: %s", e.Code, e.Text)
}

func (m CardRead) appendPayload(dst []byte) ([]byte, error) {
	if len(m.UID) == 0 || len(m.UID) > MaxUID {
		return dst, fmt.Errorf("fwproto: card read uid length %d out of range 1..%d", len(m.UID), MaxUID)
	}
	dst = binary.BigEndian.AppendUint32(dst, m.Boot)
	dst = binary.BigEndian.AppendUint32(dst, m.Seq)
	dst = append(dst, byte(m.Tech), byte(len(m.UID)))
	return append(dst, m.UID...), nil
}

func (m Heartbeat) appendPayload(dst []byte) ([]byte, error) {
	if len(m.Firmware) > MaxFirmwareText {
		return dst, fmt.Errorf("fwproto: heartbeat firmware version longer than %d bytes", MaxFirmwareText)
	}
	dst = binary.BigEndian.AppendUint32(dst, m.Boot)
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.Uptime/time.Millisecond))
	return append(dst, m.Firmware...), nil
}

func (m FirmwareError) appendPayload(dst []byte) ([]byte, error) {
	if len(m.Text) > MaxErrorText {
		return dst, fmt.Errorf("fwproto: error text longer than %d bytes", MaxErrorText)
	}
	dst = append(dst, m.Code)
	return append(dst, m.Text...), nil
}

func (m Ack) appendPayload(dst []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint32(dst, m.Boot)
	return binary.BigEndian.AppendUint32(dst, m.Seq), nil
}

func (m Feedback) appendPayload(dst []byte) ([]byte, error) {
	if m.Level < LevelOK || m.Level > LevelDeny {
		return dst, fmt.Errorf("fwproto: feedback level 0x%02x unknown", byte(m.Level))
	}
	dst = binary.BigEndian.AppendUint32(dst, m.Boot)
	dst = binary.BigEndian.AppendUint32(dst, m.Seq)
	return append(dst, byte(m.Level)), nil
}

func (m Display) appendPayload(dst []byte) ([]byte, error) {
	if m.Line >= DisplayLines {
		return dst, fmt.Errorf("fwproto: display line %d out of range 0..%d", m.Line, DisplayLines-1)
	}
	dst = append(dst, m.Line)
	return append(dst, ToLatin1(m.Text, MaxDisplayText)...), nil
}

// ToLatin1 converts s to Latin-1 bytes, replacing characters outside Latin-1
// with '?' and control characters with ' ', and cuts the result to max bytes.
func ToLatin1(s string, max int) []byte {
	out := make([]byte, 0, min(len(s), max))
	for _, r := range s {
		if len(out) == max {
			break
		}
		switch {
		case r < 0x20 || (r >= 0x7F && r < 0xA0):
			out = append(out, ' ')
		case r < 0x100:
			out = append(out, byte(r))
		default:
			out = append(out, '?')
		}
	}
	return out
}

func fromLatin1(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c < 0x20 || (c >= 0x7F && c < 0xA0) {
			c = ' '
		}
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// AppendFrame appends the framed encoding of m to dst.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, SOF, Version, byte(m.Type()), 0)
	dst, err := m.appendPayload(dst)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - headerLen
	if n > MaxPayload {
		return dst[:start], fmt.Errorf("fwproto: %s payload %d bytes exceeds %d", m.Type(), n, MaxPayload)
	}
	dst[start+3] = byte(n)
	crc := CRC16(dst[start+1:])
	return append(dst, byte(crc>>8), byte(crc)), nil
}

// Marshal returns the framed encoding of m.
func Marshal(m Message) ([]byte, error) {
	return AppendFrame(make([]byte, 0, MaxFrame), m)
}

// CRC16 is CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no
// reflection, no final XOR ("123456789" → 0x29B1).
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// ErrPayload is wrapped by the errors returned for a frame whose CRC is good
// but whose payload does not fit its message type.
var ErrPayload = errors.New("fwproto: malformed payload")

// ErrUnknownType is returned by Unmarshal for a well-formed frame of a type
// this version does not know (skipped for forward compatibility).
var ErrUnknownType = errors.New("fwproto: unknown message type")

// parsePayload decodes the payload of a frame of type t.
func parsePayload(t Type, p []byte) (Message, error) {
	bad := func(format string, args ...any) (Message, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrPayload, t, fmt.Sprintf(format, args...))
	}
	switch t {
	case TypeCardRead:
		if len(p) < 11 {
			return bad("%d bytes, want at least 11", len(p))
		}
		n := int(p[9])
		if n == 0 || n > MaxUID {
			return bad("uid length %d out of range 1..%d", n, MaxUID)
		}
		if len(p) != 10+n {
			return bad("%d bytes, want %d for a %d-byte uid", len(p), 10+n, n)
		}
		tech := Tech(p[8])
		if tech != TechEM4100 && tech != TechISO14443A {
			return bad("unknown tech 0x%02x", byte(tech))
		}
		return CardRead{
			Boot: binary.BigEndian.Uint32(p[0:]),
			Seq:  binary.BigEndian.Uint32(p[4:]),
			Tech: tech,
			UID:  append([]byte(nil), p[10:]...),
		}, nil
	case TypeHeartbeat:
		if len(p) < 8 {
			return bad("%d bytes, want at least 8", len(p))
		}
		return Heartbeat{
			Boot:     binary.BigEndian.Uint32(p[0:]),
			Uptime:   time.Duration(binary.BigEndian.Uint32(p[4:])) * time.Millisecond,
			Firmware: printable(p[8:]),
		}, nil
	case TypeError:
		if len(p) < 1 {
			return bad("empty")
		}
		return FirmwareError{Code: p[0], Text: printable(p[1:])}, nil
	case TypeAck:
		if len(p) != 8 {
			return bad("%d bytes, want 8", len(p))
		}
		return Ack{Boot: binary.BigEndian.Uint32(p[0:]), Seq: binary.BigEndian.Uint32(p[4:])}, nil
	case TypeFeedback:
		if len(p) != 9 {
			return bad("%d bytes, want 9", len(p))
		}
		l := Level(p[8])
		if l < LevelOK || l > LevelDeny {
			return bad("unknown level 0x%02x", p[8])
		}
		return Feedback{Boot: binary.BigEndian.Uint32(p[0:]), Seq: binary.BigEndian.Uint32(p[4:]), Level: l}, nil
	case TypeDisplay:
		if len(p) < 1 || len(p) > 1+MaxDisplayText {
			return bad("%d bytes, want 1..%d", len(p), 1+MaxDisplayText)
		}
		if p[0] >= DisplayLines {
			return bad("line %d out of range", p[0])
		}
		return Display{Line: p[0], Text: fromLatin1(p[1:])}, nil
	}
	return nil, fmt.Errorf("%w 0x%02x", ErrUnknownType, byte(t))
}

// printable keeps ASCII printable bytes and replaces the rest with '?', so
// firmware text is safe to log.
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
