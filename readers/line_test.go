package readers

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLineFormatParse(t *testing.T) {
	tests := []struct {
		name    string
		f       LineFormat
		line    string
		uid     string
		number  string
		tech    Tech
		wantErr error
	}{
		{"decimal em4100", LineFormat{Encoding: LineDecimal, Tech: TechEM4100, Lengths: []int{10}}, "0013477100", "00CDA4EC", "0013477100", TechEM4100, nil},
		{"decimal too big for 4 bytes", LineFormat{Encoding: LineDecimal, Tech: TechEM4100}, "9999999999", "", "", "", ErrMalformed},
		{"decimal 13 digits is 5 bytes", LineFormat{Encoding: LineDecimal, Tech: TechEM4100}, "0004308444396", "0100CDA4EC", "0013477100", TechEM4100, nil},
		{"decimal reversed", LineFormat{Encoding: LineDecimal, Tech: TechISO14443A, Reverse: true}, "0013477100", "ECA4CD00", "0013477100", TechISO14443A, nil},
		{"decimal bad digit", LineFormat{Encoding: LineDecimal, Tech: TechEM4100}, "00134771O0", "", "", "", ErrMalformed},
		{"decimal wrong length", LineFormat{Encoding: LineDecimal, Tech: TechEM4100, Lengths: []int{10}}, "13477100", "", "", "", ErrMalformed},
		{"hex 7 bytes", LineFormat{Encoding: LineHex, Tech: TechISO14443A, Lengths: []int{8, 14}}, "04a23b1c5d6e80", "04A23B1C5D6E80", "", TechISO14443A, nil},
		{"hex prefix suffix", LineFormat{Encoding: LineHex, Tech: TechISO14443A, Prefix: "UID:", Suffix: ";"}, "UID:DEADBEEF;", "DEADBEEF", "", TechISO14443A, nil},
		{"hex missing prefix", LineFormat{Encoding: LineHex, Tech: TechISO14443A, Prefix: "UID:"}, "DEADBEEF", "", "", "", ErrMalformed},
		{"hex em4100 too short", LineFormat{Encoding: LineHex, Tech: TechEM4100}, "00", "", "", "", ErrMalformed},
		{"hex em4100 5 bytes", LineFormat{Encoding: LineHex, Tech: TechEM4100}, "0100CDA4EC", "0100CDA4EC", "0013477100", TechEM4100, nil},
		{"hex odd", LineFormat{Encoding: LineHex, Tech: TechISO14443A}, "DEADBEE", "", "", "", ErrMalformed},
		{"hex reversed", LineFormat{Encoding: LineHex, Tech: TechISO14443A, Reverse: true}, "EFBEADDE", "DEADBEEF", "", TechISO14443A, nil},
		{"wiegand 26", LineFormat{Encoding: LineWiegandBits}, "00001001000110100010101100", "123456", "", TechWiegand, nil},
		{"wiegand 34", LineFormat{Encoding: LineWiegandBits}, "1000000001100110110100100111011001", "00CDA4EC", "", TechWiegand, nil},
		{"wiegand 26 even parity", LineFormat{Encoding: LineWiegandBits}, "10001001000110100010101100", "", "", "", ErrChecksum},
		{"wiegand 26 odd parity", LineFormat{Encoding: LineWiegandBits}, "00001001000110100010101101", "", "", "", ErrChecksum},
		{"wiegand bad char", LineFormat{Encoding: LineWiegandBits}, "0000100100011010001010110x", "", "", "", ErrMalformed},
		{"wiegand 25 bits", LineFormat{Encoding: LineWiegandBits}, "0000100100011010001010110", "", "", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tp, err := tt.f.Parse(tt.line)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tp.UID != tt.uid || tp.Number != tt.number || tp.Tech != tt.tech {
				t.Errorf("tap = %+v, want UID %q Number %q Tech %q", tp, tt.uid, tt.number, tt.tech)
			}
		})
	}
}

func TestLineFormatValidate(t *testing.T) {
	for _, f := range []LineFormat{
		{},
		{Encoding: LineHex},
		{Encoding: LineDecimal, Tech: TechEM4100, Bytes: 9},
		{Encoding: LineHex, Tech: TechISO14443A, Lengths: []int{0}},
	} {
		if _, err := NewLine(f); err == nil {
			t.Errorf("NewLine(%+v) accepted a bad format", f)
		}
	}
}

func TestEncodeWiegand(t *testing.T) {
	for _, data := range [][]byte{{0x12, 0x34, 0x56}, {0x00, 0xCD, 0xA4, 0xEC}, {0xFF, 0xFF, 0xFF}, {0, 0, 0, 0}} {
		got, err := ParseWiegand(EncodeWiegand(data))
		if err != nil || string(got) != string(data) {
			t.Errorf("round trip % X = % X, %v", data, got, err)
		}
	}
}

func TestLineOverPTY(t *testing.T) {
	decimal := LineFormat{Encoding: LineDecimal, Tech: TechEM4100, Lengths: []int{10}}
	bits := LineFormat{Encoding: LineWiegandBits}
	sentinelDec := []byte("4294967295\n")
	sentinelBits := []byte(EncodeWiegand([]byte{0xAB, 0xCD, 0xEF}) + "\r")
	long := make([]byte, 100)
	for i := range long {
		long[i] = '7'
	}
	tests := []struct {
		name     string
		f        LineFormat
		input    []byte
		slow     bool
		want     []string
		sentinel []byte
		sentUID  string
		check    func(t *testing.T, s StatsSnapshot)
	}{
		{name: "cdc capture", f: decimal, input: readFile(t, "testdata/line-cdc-decimal.txt"), want: []string{"00CDA4EC", "1A463D5E"}},
		{name: "wiegand capture", f: bits, input: readFile(t, "testdata/line-wiegand.txt"), want: []string{"123456", "00CDA4EC"}},
		{name: "split, CR only", f: decimal, input: []byte("0013477100\r"), slow: true, want: []string{"00CDA4EC"}},
		{name: "LF only and empty lines", f: decimal, input: []byte("\n\n0013477100\n\r\n"), want: []string{"00CDA4EC"},
			check: func(t *testing.T, s StatsSnapshot) {
				if s.Garbage != 0 {
					t.Errorf("Garbage = %d, want 0 for empty lines", s.Garbage)
				}
			}},
		{name: "garbage lines", f: decimal, input: append(append([]byte("hello\r\n\xff\xfe\r\n0013477100\r\n"), long...), '\n'),
			want: []string{"00CDA4EC"},
			check: func(t *testing.T, s StatsSnapshot) {
				if s.Garbage != 2 || s.Torn != 1 {
					t.Errorf("Garbage, Torn = %d, %d, want 2, 1", s.Garbage, s.Torn)
				}
			}},
		{name: "wiegand parity", f: bits, input: []byte("10001001000110100010101100\r\n"),
			check: func(t *testing.T, s StatsSnapshot) {
				if s.BadChecksum != 1 {
					t.Errorf("BadChecksum = %d, want 1", s.BadChecksum)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drv, err := NewLine(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			stats := new(Stats)
			drv.Stats = stats
			r := runDriver(t, drv)
			r.write(t, []byte("\n")) // a terminator: the next byte starts a line
			if tt.slow {
				r.writeSlowly(t, tt.input)
			} else {
				r.write(t, tt.input)
			}
			sentinel, sentUID := sentinelDec, "FFFFFFFF"
			if tt.f.Encoding == LineWiegandBits {
				sentinel, sentUID = sentinelBits, "ABCDEF"
			}
			r.write(t, sentinel)
			for _, want := range tt.want {
				if tp := r.tap(t); tp.UID != want || tp.ReadAt.IsZero() {
					t.Errorf("tap = %+v, want UID %s", tp, want)
				}
			}
			if tp := r.tap(t); tp.UID != sentUID {
				t.Errorf("tap = %+v, want sentinel %s", tp, sentUID)
			}
			r.noMoreTaps(t)
			if tt.check != nil {
				tt.check(t, stats.Snapshot())
			}
			r.unplug(t)
		})
	}
}

func TestLineScannerResync(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 11, 52, 0, 0, time.UTC)
	sc := lineScanner{skipUntil: t0}
	var got []string
	feed := func(in string) {
		for _, b := range []byte(in) {
			if l, _ := sc.feed(b); l != nil {
				got = append(got, string(l))
			}
		}
	}
	feed("77100\r\n") // opened mid-line: the tail is dropped
	feed("0013477100\r\n")
	feed("00134")
	if !sc.idle(t0.Add(time.Second)) {
		t.Fatal("idle() did not report the partial line")
	}
	feed("77100\r\n") // the rest of the cut line
	feed("1234")
	sc.idle(t0.Add(2 * time.Second))
	sc.idle(t0.Add(2*time.Second + lineResync)) // a long silence: synchronised again
	feed("4294967295\r\n")
	if want := []string{"0013477100", "4294967295"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

// lineTaps writes input to a line driver over a pty (pause: a silence
// between the parts) followed by a sentinel line, and returns the UIDs
// before the sentinel.
func lineTaps(t *testing.T, f LineFormat, parts ...string) ([]string, StatsSnapshot) {
	t.Helper()
	drv, err := NewLine(f)
	if err != nil {
		t.Fatal(err)
	}
	drv.Idle = 20 * time.Millisecond
	stats := new(Stats)
	drv.Stats = stats
	r := runDriver(t, drv)
	r.write(t, []byte("\r\n"))
	for i, p := range parts {
		if i > 0 {
			time.Sleep(5 * drv.Idle)
		}
		r.write(t, []byte(p))
	}
	sentinel, sentUID := "4294967295\r\n", "FFFFFFFF"
	switch f.Encoding {
	case LineWiegandBits:
		sentinel, sentUID = EncodeWiegand([]byte{0xAB, 0xCD, 0xEF})+"\r\n", "ABCDEF"
	case LineHex:
		sentinel = f.Prefix + "FFFFFFFF" + f.Suffix + "\r\n"
	}
	r.write(t, []byte(sentinel))
	var got []string
	for {
		tp := r.tap(t)
		if tp.UID == sentUID {
			break
		}
		got = append(got, tp.UID)
	}
	return got, stats.Snapshot()
}

func TestLineCutBySilenceOverPTY(t *testing.T) {
	tests := []struct {
		name  string
		f     LineFormat
		parts []string
	}{
		{"decimal", LineFormat{Encoding: LineDecimal, Tech: TechEM4100}, []string{"00134", "77100\r\n"}},
		{"hex", LineFormat{Encoding: LineHex, Tech: TechISO14443A}, []string{"04A23B", "1C\r\n"}},
		{"hex cut twice", LineFormat{Encoding: LineHex, Tech: TechISO14443A}, []string{"04", "A23B", "1C\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := lineTaps(t, tt.f, tt.parts...)
			if len(got) != 0 {
				t.Errorf("taps %v from a line cut by a silence, want none", got)
			}
			if s.Torn == 0 {
				t.Errorf("Torn = 0, want the cut line counted")
			}
		})
	}
}

func TestLineOpenedMidLineOverPTY(t *testing.T) {
	drv, err := NewLine(LineFormat{Encoding: LineDecimal, Tech: TechEM4100})
	if err != nil {
		t.Fatal(err)
	}
	master, name := newPTY(t)
	port := openTTY(t, name, drv)
	// The reader was sending when the port opened: the driver's first read
	// finds the end of a line.
	if _, err := master.Write([]byte("77100\r\n0013477100\r\n")); err != nil {
		t.Fatal(err)
	}
	r := runOn(t, drv, master, port)
	if tp := r.tap(t); tp.UID != "00CDA4EC" {
		t.Errorf("tap = %+v, want only the whole line 0013477100", tp)
	}
	time.Sleep(50 * time.Millisecond)
	r.noMoreTaps(t)
}

func TestLineNoiseBeforeLineOverPTY(t *testing.T) {
	tests := []struct {
		name  string
		f     LineFormat
		input string
		want  string
	}{
		{"decimal, binary noise", LineFormat{Encoding: LineDecimal, Tech: TechEM4100, Lengths: []int{10}}, "\xff\x1b0013477100\r\n", "00CDA4EC"},
		{"hex", LineFormat{Encoding: LineHex, Tech: TechISO14443A, Lengths: []int{8, 14}}, "\xfe\x13\x8004A23B1C\r\n", "04A23B1C"},
		{"hex, no lengths", LineFormat{Encoding: LineHex, Tech: TechISO14443A}, "\xfeZ04A23B1C\r\n", "04A23B1C"},
		{"hex with prefix", LineFormat{Encoding: LineHex, Tech: TechISO14443A, Prefix: "UID:"}, "\x00zUID:04A23B1C\r\n", "04A23B1C"},
		{"wiegand", LineFormat{Encoding: LineWiegandBits}, "\x00\xff" + EncodeWiegand([]byte{0x12, 0x34, 0x56}) + "\r\n", "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := lineTaps(t, tt.f, tt.input)
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("taps = %v, want [%s]", got, tt.want)
			}
			if s.Garbage != 1 {
				t.Errorf("Garbage = %d, want 1 (the noise)", s.Garbage)
			}
		})
	}
	// Noise, a silence, then the line: the noise alone is dropped.
	for _, tt := range tests {
		t.Run(tt.name+", silence between", func(t *testing.T) {
			i := strings.IndexFunc(tt.input, func(r rune) bool { return r == 'U' || '0' <= r && r <= '9' })
			got, s := lineTaps(t, tt.f, tt.input[:i], tt.input[i:])
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("taps = %v, want [%s]", got, tt.want)
			}
			if s.Torn != 1 {
				t.Errorf("Torn = %d, want 1 (the noise cut by the silence)", s.Torn)
			}
		})
	}
}

func TestLineNoiseDigitsAreNotSkipped(t *testing.T) {
	// Two noise digits before a 10-digit line: the line is 12 digits, not
	// a configured length, and no tail is taken from it (digits cannot be
	// told from the id); a 10-digit hex line with lengths [8] is not cut
	// to 8 digits either.
	for _, tt := range []struct {
		f    LineFormat
		line string
	}{
		{LineFormat{Encoding: LineDecimal, Tech: TechEM4100, Lengths: []int{10}}, "420013477100"},
		{LineFormat{Encoding: LineHex, Tech: TechISO14443A, Lengths: []int{8}}, "0100CDA4EC"},
	} {
		d, err := NewLine(tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if tp, _, err := d.parse(tt.line); err == nil {
			t.Errorf("parse(%q) = %+v, want no tap", tt.line, tp)
		}
	}
}

func TestLineDecimalNumber(t *testing.T) {
	f := LineFormat{Encoding: LineDecimal, Tech: TechISO14443A}
	tp, err := f.Parse("3735928559")
	if err != nil || tp.UID != "DEADBEEF" || tp.Number != "3735928559" {
		t.Errorf("Parse = %+v, %v, want UID DEADBEEF and the printed digits as Number", tp, err)
	}
}
