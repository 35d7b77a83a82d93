package fwproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCRC16CheckValue(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("CRC16(123456789) = 0x%04X, want 0x29B1", got)
	}
}

func TestMarshalGolden(t *testing.T) {
	// The byte-exact frames below are what the reference firmware sends and
	// expects (firmware/tartine_reader.ino); a change here breaks deployed readers.
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"card read em4100", CardRead{Boot: 0x01020304, Seq: 7, Tech: TechEM4100, UID: []byte{0x01, 0x00, 0xCD, 0xA4, 0xEC}},
			"a5 01 01 0f 01020304 00000007 01 05 0100cda4ec 59ba"},
		{"ack", Ack{Boot: 0x01020304, Seq: 7}, "a5 01 81 08 01020304 00000007 bef9"},
		{"feedback deny", Feedback{Boot: 1, Seq: 2, Level: LevelDeny}, "a5 01 82 09 00000001 00000002 03 983a"},
		{"display", Display{Line: 0, Text: "Émma"}, "a5 01 83 05 00 c96d6d61 de8f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := hex.DecodeString(strings.ReplaceAll(tt.want, " ", ""))
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal = % x\nwant      % x", got, want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	msgs := []Message{
		CardRead{Boot: 0xDEADBEEF, Seq: 1, Tech: TechISO14443A, UID: []byte{1, 2, 3, 4, 5, 6, 7}},
		CardRead{Boot: 1, Seq: 1 << 31, Tech: TechISO14443A, UID: bytes.Repeat([]byte{0xA5}, MaxUID)},
		Heartbeat{Boot: 9, Uptime: 123456 * time.Millisecond, Firmware: "tartine-fw 1.2.0"},
		FirmwareError{Code: 3, Text: "MFRC522 not responding"},
		Ack{Boot: 5, Seq: 6},
		Feedback{Boot: 5, Seq: 6, Level: LevelWarn},
		Display{Line: 3, Text: "Bon appétit !"},
	}
	for _, m := range msgs {
		b, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", m, err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(% x): %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip: got %#v, want %#v", got, m)
		}
	}
}

func TestMarshalRejects(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"empty uid", CardRead{Tech: TechEM4100}},
		{"long uid", CardRead{Tech: TechEM4100, UID: make([]byte, 11)}},
		{"bad level", Feedback{Level: 9}},
		{"bad line", Display{Line: 4, Text: "x"}},
		{"long error", FirmwareError{Text: strings.Repeat("x", 64)}},
	}
	for _, tt := range tests {
		if _, err := Marshal(tt.msg); err == nil {
			t.Errorf("%s: Marshal succeeded, want error", tt.name)
		}
	}
}

func TestDisplayLatin1(t *testing.T) {
	b, err := Marshal(Display{Text: "Zoë 😀 " + strings.Repeat("a", 40)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(Display).Text
	want := "Zoë ? " + strings.Repeat("a", 26)
	if got != want {
		t.Fatalf("display text = %q, want %q", got, want)
	}
}

// decodeAll feeds stream in chunks of size chunk and returns every message.
func decodeAll(t *testing.T, stream []byte, chunk int) ([]Message, Stats) {
	t.Helper()
	var d Decoder
	var out []Message
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		d.Feed(stream[:n])
		stream = stream[n:]
		for {
			m, err := d.Next()
			if errors.Is(err, ErrShort) {
				break
			}
			if err != nil {
				continue
			}
			out = append(out, m)
		}
	}
	return out, d.Stats()
}

func TestDecoderResync(t *testing.T) {
	read := func(seq uint32) []byte {
		b, err := Marshal(CardRead{Boot: 1, Seq: seq, Tech: TechEM4100, UID: []byte{1, 2, 3, 4, byte(seq)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	corrupt := read(99)
	corrupt[8] ^= 0xFF
	var stream []byte
	stream = append(stream, "noise\xa5\xa5\x01"...)
	stream = append(stream, read(1)...)
	stream = append(stream, read(2)[:9]...) // torn frame
	stream = append(stream, read(3)...)
	stream = append(stream, corrupt...)
	stream = append(stream, 0xA5, 0x01, 0x01, 0xFF) // impossible length
	stream = append(stream, read(4)...)
	hb, _ := Marshal(Heartbeat{Boot: 1, Firmware: "x"})
	stream = append(stream, hb...)

	for _, chunk := range []int{1, 2, 3, 7, 64, len(stream)} {
		msgs, st := decodeAll(t, stream, chunk)
		var seqs []uint32
		for _, m := range msgs {
			if r, ok := m.(CardRead); ok {
				seqs = append(seqs, r.Seq)
			}
		}
		if want := []uint32{1, 3, 4}; !reflect.DeepEqual(seqs, want) {
			t.Errorf("chunk %d: reads %v, want %v (stats %+v)", chunk, seqs, want, st)
		}
		if st.BadCRC == 0 || st.Garbage == 0 {
			t.Errorf("chunk %d: stats %+v, want bad crc and garbage counted", chunk, st)
		}
	}
}

func TestDecoderCapture(t *testing.T) {
	// testdata/capture.bin: heartbeat, two reads, line noise, one read, as
	// written by the reference firmware (regenerate with -update-capture).
	b, err := os.ReadFile("testdata/capture.bin")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := decodeAll(t, b, 5)
	var uids []string
	for _, m := range msgs {
		if r, ok := m.(CardRead); ok {
			uids = append(uids, strings.ToUpper(hex.EncodeToString(r.UID)))
		}
	}
	want := []string{"0100CDA4EC", "04A1B2C3D4E5F6", "DEADBEEF"}
	if !reflect.DeepEqual(uids, want) {
		t.Fatalf("uids %v, want %v", uids, want)
	}
}

func FuzzDecode(f *testing.F) {
	seeds, err := os.ReadFile("testdata/capture.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seeds)
	f.Add([]byte{})
	f.Add([]byte{SOF, Version, 0x01, 0xFF})
	for _, m := range []Message{
		CardRead{Boot: 1, Seq: 2, Tech: TechISO14443A, UID: []byte{1, 2, 3, 4}},
		Heartbeat{Boot: 1, Uptime: time.Second, Firmware: "fw"},
		FirmwareError{Code: 1, Text: "x"},
		Ack{Boot: 1, Seq: 2},
		Feedback{Boot: 1, Seq: 2, Level: LevelOK},
		Display{Line: 1, Text: "hé"},
	} {
		b, _ := Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		d.Feed(data)
		for range len(data) + 1 {
			m, err := d.Next()
			if errors.Is(err, ErrShort) {
				break
			}
			if err != nil {
				continue
			}
			// Every decoded message re-encodes to a frame that decodes to
			// the same message.
			b, err := Marshal(m)
			if err != nil {
				t.Fatalf("decoded %#v does not re-encode: %v", m, err)
			}
			m2, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("re-encoded %#v does not decode: %v", m, err)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("re-decode %#v != %#v", m2, m)
			}
		}
		if d.Buffered() >= MaxFrame+len(data) && len(data) > 0 {
			t.Fatalf("decoder holds %d bytes", d.Buffered())
		}
	})
}

var updateCapture = flag.Bool("update-capture", false, "rewrite testdata/capture.bin")

func TestWriteCapture(t *testing.T) {
	if !*updateCapture {
		t.Skip("run with -update-capture to regenerate testdata/capture.bin")
	}
	var b []byte
	add := func(m Message) {
		var err error
		if b, err = AppendFrame(b, m); err != nil {
			t.Fatal(err)
		}
	}
	add(Heartbeat{Boot: 0x5EED0001, Uptime: 1500 * time.Millisecond, Firmware: "tartine-fw 1.0.0"})
	add(CardRead{Boot: 0x5EED0001, Seq: 1, Tech: TechEM4100, UID: []byte{0x01, 0x00, 0xCD, 0xA4, 0xEC}})
	add(CardRead{Boot: 0x5EED0001, Seq: 2, Tech: TechISO14443A, UID: []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}})
	b = append(b, 0x00, 0xFF, 0xA5, 0x01, 0x01, 0x20, 0x13, 0x37) // line noise with a false SOF
	add(FirmwareError{Code: 2, Text: "antenna reset"})
	add(CardRead{Boot: 0x5EED0001, Seq: 3, Tech: TechISO14443A, UID: []byte{0xDE, 0xAD, 0xBE, 0xEF}})
	if err := os.WriteFile("testdata/capture.bin", b, 0o644); err != nil {
		t.Fatal(err)
	}
}
