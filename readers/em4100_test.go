package readers

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var (
	fobA = [5]byte{0x01, 0x00, 0xCD, 0xA4, 0xEC} // printed 0013477100
	fobB = [5]byte{0x1A, 0x2B, 0x3C, 0x4D, 0x5E}
	fobS = [5]byte{0x99, 0x88, 0x77, 0x66, 0x55} // sentinel: marks the end of a case
)

func TestDecodeEM4100(t *testing.T) {
	tests := []struct {
		name    string
		v       EM4100Variant
		frame   string
		uid     string
		wantErr error
	}{
		{"rdm6300", RDM6300, "\x020100CDA4EC84\x03", "0100CDA4EC", nil},
		{"rdm6300 lower case", RDM6300, "\x020100cda4ec84\x03", "0100CDA4EC", nil},
		{"id12la", ID12LA, "\x020100CDA4EC84\r\n\x03", "0100CDA4EC", nil},
		{"em18", EM18, "0100CDA4EC84", "0100CDA4EC", nil},
		{"bad checksum", RDM6300, "\x020100CDA4EC85\x03", "", ErrChecksum},
		{"no etx", RDM6300, "\x020100CDA4EC84\x02", "", ErrMalformed},
		{"id12la without crlf", ID12LA, "\x020100CDA4EC84\x03", "", ErrMalformed},
		{"not hex", EM18, "0100CDA4EG84", "", ErrMalformed},
		{"short", EM18, "0100CDA4EC8", "", ErrMalformed},
		{"unknown variant", EM4100Variant(9), "0100CDA4EC84", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, _, err := DecodeEM4100(tt.v, []byte(tt.frame))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if uid != tt.uid {
				t.Errorf("uid = %q, want %q", uid, tt.uid)
			}
		})
	}
}

func TestEncodeEM4100RoundTrip(t *testing.T) {
	if got, want := string(EncodeEM4100(RDM6300, fobA)), "\x020100CDA4EC84\x03"; got != want {
		t.Errorf("EncodeEM4100 = %q, want %q (DOMAIN.md example)", got, want)
	}
	for _, v := range []EM4100Variant{RDM6300, ID12LA, EM18} {
		uid, data, err := DecodeEM4100(v, EncodeEM4100(v, fobB))
		if err != nil || uid != "1A2B3C4D5E" || em4100Number(data) != "0725372254" {
			t.Errorf("%s: round trip = %q %v %q", v, uid, err, em4100Number(data))
		}
	}
}

// em4100Case feeds input to a running driver, then a sentinel frame, and
// checks the taps before the sentinel and the counters.
type em4100Case struct {
	name  string
	input []byte
	slow  bool     // write byte by byte
	want  []string // UIDs before the sentinel
	check func(t *testing.T, s StatsSnapshot)
}

func TestEM4100OverPTY(t *testing.T) {
	for _, v := range []EM4100Variant{RDM6300, ID12LA, EM18} {
		capture := map[EM4100Variant]string{RDM6300: "testdata/rdm6300.bin", ID12LA: "testdata/id12la.bin", EM18: "testdata/em18.bin"}[v]
		frameA := EncodeEM4100(v, fobA)
		bad := append([]byte(nil), frameA...)
		cs := 11
		if v != EM18 {
			cs = 12
		}
		bad[cs] = '5' // checksum 84 -> 85
		wantCapture := map[EM4100Variant][]string{
			RDM6300: {"0100CDA4EC", "0100CDA4EC", "0100CDA4EC", "1A2B3C4D5E"},
			ID12LA:  {"0100CDA4EC", "1A2B3C4D5E"},
			EM18:    {"0100CDA4EC", "1A2B3C4D5E"},
		}[v]
		garbage := []byte("\xff\x00zz\x03")
		torn := append([]byte("\x020100CD"), frameA...)
		if v == EM18 {
			torn = append([]byte("0100CD\x00"), frameA...)
		}
		cases := []em4100Case{
			{name: "capture", input: readFile(t, capture), want: wantCapture,
				check: func(t *testing.T, s StatsSnapshot) {
					if s.Garbage+s.Torn+s.BadChecksum != 0 {
						t.Errorf("noise counters = %+v, want none", s)
					}
				}},
			{name: "split across reads", input: frameA, slow: true, want: []string{"0100CDA4EC"}},
			{name: "bad checksum", input: bad, check: func(t *testing.T, s StatsSnapshot) {
				if s.BadChecksum != 1 {
					t.Errorf("BadChecksum = %d, want 1", s.BadChecksum)
				}
			}},
			{name: "garbage between frames", input: append(append(append([]byte(nil), garbage...), frameA...), garbage...),
				want: []string{"0100CDA4EC"},
				check: func(t *testing.T, s StatsSnapshot) {
					if s.Garbage == 0 {
						t.Errorf("Garbage = 0, want > 0")
					}
				}},
			{name: "torn frame", input: torn, want: []string{"0100CDA4EC"},
				check: func(t *testing.T, s StatsSnapshot) {
					if s.Torn != 1 {
						t.Errorf("Torn = %d, want 1", s.Torn)
					}
				}},
		}
		for _, c := range cases {
			t.Run(v.String()+"/"+c.name, func(t *testing.T) {
				stats := new(Stats)
				drv := NewEM4100(v)
				drv.Stats = stats
				drv.Idle = 20 * time.Millisecond
				drv.Now = func() time.Time { return time.Date(2026, 11, 30, 11, 52, 3, 0, time.UTC) }
				r := runDriver(t, drv)
				if c.slow {
					r.writeSlowly(t, c.input)
				} else {
					r.write(t, c.input)
				}
				// Send the sentinel until it comes back: an EM-18 frame only
				// ends at a silence, which a busy machine may not leave
				// between the case input and a single sentinel.
				var got []string
				deadline := time.After(3 * time.Second)
				resend := time.NewTicker(100 * time.Millisecond)
				defer resend.Stop()
				if v == EM18 {
					// An EM-18 frame ends at a silence: leave one between
					// the case's input and the sentinel, as between two
					// badges.
					time.Sleep(3 * drv.Idle)
				}
				r.write(t, EncodeEM4100(v, fobS))
			collect:
				for {
					select {
					case tp := <-r.taps:
						if tp.UID == "9988776655" {
							break collect
						}
						got = append(got, tp.UID)
						if tp.Tech != TechEM4100 || tp.ReadAt.IsZero() || tp.UID == "0100CDA4EC" && tp.Number != "0013477100" {
							t.Errorf("tap = %+v, want EM4100 with Number 0013477100 for 0100CDA4EC", tp)
						}
					case <-resend.C:
						if v == EM18 {
							r.write(t, EncodeEM4100(v, fobS))
						}
					case <-deadline:
						t.Fatalf("no sentinel tap within 3 s; taps so far %v", got)
					}
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("taps = %v, want %v", got, c.want)
				}
				if v != EM18 {
					r.noMoreTaps(t)
				}
				if c.check != nil {
					c.check(t, stats.Snapshot())
				}
				r.unplug(t)
			})
		}
	}
}

func TestEM18Resync(t *testing.T) {
	// No framing bytes: a run of digits is cut into frames from its end
	// (a silence, CR/LF or another byte ends it); digits left over at its
	// start are a torn frame. A window is never slid over the digits: it
	// would find false frames such as "0100CD0100CD".
	sc := em4100Scanner{variant: EM18}
	var uids []string
	var bad, torn int
	count := func(r scanResult) {
		switch r.kind {
		case resFrame:
			uids = append(uids, r.uid)
		case resBadChecksum:
			bad++
		case resTorn:
			torn++
		}
	}
	feed := func(s string) {
		for _, b := range []byte(s) {
			sc.feed(b, count)
		}
	}
	feed("0100CD")
	sc.idle(count)
	feed("0100CDA4EC85" + "0100CDA4EC84") // bad checksum, then a glued good frame
	sc.idle(count)
	feed("1A2B3C4D5E1E")
	sc.idle(count)
	if want := []string{"0100CDA4EC", "1A2B3C4D5E"}; !slices.Equal(uids, want) {
		t.Errorf("uids = %v, want %v", uids, want)
	}
	if bad != 1 || torn != 1 {
		t.Errorf("bad checksum, torn = %d, %d, want 1, 1", bad, torn)
	}
}

// em18Straddle returns a card and a cut such that the tail of the card's
// frame from cut on, glued to the whole frame (the port opened while the
// module was sending and it sent the frame again), begins with a
// 12-digit window whose checksum matches: a card that does not exist.
func em18Straddle(t *testing.T) (card [5]byte, tail []byte, ghost string) {
	t.Helper()
	for i := range 1 << 16 {
		card = [5]byte{0x3C, byte(i >> 8), byte(i), 0x5A, 0x21}
		frame := EncodeEM4100(EM18, card)
		for cut := 1; cut < 12; cut++ {
			stream := append(append([]byte(nil), frame[cut:]...), frame...)
			if uid, _, err := DecodeEM4100(EM18, stream[:12]); err == nil {
				return card, frame[cut:], uid
			}
		}
	}
	t.Fatal("no straddling window found")
	return
}

func TestEM18MidFrameAndNoiseOverPTY(t *testing.T) {
	card, tail, ghost := em18Straddle(t)
	real := hexUpper(card[:])
	tests := []struct {
		name  string
		input []byte
	}{
		// The port opens while the module sends: the first bytes are the
		// end of a frame, the module's next frame follows without a gap.
		{"opened mid-frame", append(append([]byte(nil), tail...), EncodeEM4100(EM18, card)...)},
		// Line noise that ends in hex digits, directly before the frame.
		{"noise ending in hex digits", append([]byte("\xff\x1b7E"), EncodeEM4100(EM18, card)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drv := NewEM4100(EM18)
			drv.Idle = 20 * time.Millisecond
			r := runDriver(t, drv)
			r.write(t, tt.input)
			if tp := r.tap(t); tp.UID != real {
				t.Errorf("tap = %s, want %s (the window %s straddles two frames)", tp.UID, real, ghost)
			}
			time.Sleep(60 * time.Millisecond)
			r.noMoreTaps(t)
		})
	}
}

func TestEM4100UnknownVariant(t *testing.T) {
	if _, err := NewReader(ReaderConfig{Name: "x", Driver: NewEM4100(0), Port: PortSpec{Path: "/dev/null"}}); err == nil {
		t.Error("NewReader accepted an unknown EM4100 variant")
	}
}

func TestEM18AlignedRun(t *testing.T) {
	// After a silence, frames are taken as each completes (a long run of
	// repeats is read at once, not when it ends); noise after a silence
	// falls back to cutting the run from its end.
	frameA, frameB := string(EncodeEM4100(EM18, fobA)), string(EncodeEM4100(EM18, fobB))
	tests := []struct {
		name      string
		input     string
		beforeEnd []string // frames reported before the run ends
		atEnd     []string // frames reported when it ends
	}{
		{"repeats", frameA + frameA + frameA + frameA + frameA + frameA, []string{"0100CDA4EC", "0100CDA4EC", "0100CDA4EC", "0100CDA4EC", "0100CDA4EC", "0100CDA4EC"}, nil},
		{"two badges", frameA + frameB, []string{"0100CDA4EC", "1A2B3C4D5E"}, nil},
		{"noise digit first", "7" + frameA, nil, []string{"0100CDA4EC"}},
		{"good frame, then noise and a frame", frameA + "12" + frameB, []string{"0100CDA4EC"}, []string{"1A2B3C4D5E"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := em4100Scanner{variant: EM18}
			var got []string
			collect := func(r scanResult) {
				if r.kind == resFrame {
					got = append(got, r.uid)
				}
			}
			sc.idle(collect) // a silence: the next run begins with a frame
			for _, b := range []byte(tt.input) {
				sc.feed(b, collect)
			}
			if !slices.Equal(got, tt.beforeEnd) {
				t.Errorf("before the run ends: %v, want %v", got, tt.beforeEnd)
			}
			got = nil
			sc.idle(collect)
			if !slices.Equal(got, tt.atEnd) {
				t.Errorf("at the run's end: %v, want %v", got, tt.atEnd)
			}
		})
	}
}
