package readers

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestEncodePN532Frame(t *testing.T) {
	got := EncodePN532Frame(0xD4, 0x4A, 0x01, 0x00)
	want := []byte{0x00, 0x00, 0xFF, 0x04, 0xFC, 0xD4, 0x4A, 0x01, 0x00, 0xE1, 0x00}
	if !bytes.Equal(got, want) {
		t.Errorf("InListPassiveTarget frame = % X, want % X", got, want)
	}
}

func TestParsePN532Frame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		kind    PN532FrameKind
		data    []byte
		n       int
		wantErr error
	}{
		{"ack", []byte{0x00, 0xFF, 0x00, 0xFF, 0x00}, PN532Ack, nil, 4, nil},
		{"nack", []byte{0x00, 0xFF, 0xFF, 0x00, 0x00}, PN532Nack, nil, 4, nil},
		{"application error", []byte{0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00}, PN532Error, nil, 6, nil},
		{"info", EncodePN532Frame(0xD5, 0x15)[1:], PN532Info, []byte{0x15}, 7, nil},
		{"extended", []byte{0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0xFE, 0xD5, 0x15, 0x16, 0x00}, PN532Info, []byte{0x15}, 10, nil},
		{"bad LCS", []byte{0x00, 0xFF, 0x02, 0xFD, 0xD5, 0x15, 0x16, 0x00}, 0, nil, 0, ErrChecksum},
		{"bad DCS", []byte{0x00, 0xFF, 0x02, 0xFE, 0xD5, 0x15, 0x17, 0x00}, 0, nil, 0, ErrChecksum},
		{"LEN 0", []byte{0x00, 0xFF, 0x00, 0x00, 0x00}, 0, nil, 0, ErrMalformed},
		{"incomplete", []byte{0x00, 0xFF, 0x02, 0xFE, 0xD5}, 0, nil, 0, ErrIncomplete},
		{"no start code", []byte{0x55, 0x55}, 0, nil, 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := ParsePN532Frame(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if f.Kind != tt.kind || !bytes.Equal(f.Data, tt.data) || n != tt.n {
				t.Errorf("got %+v n=%d, want kind %d data % X n=%d", f, n, tt.kind, tt.data, tt.n)
			}
		})
	}
}

func TestPN532ScannerCaptures(t *testing.T) {
	for _, c := range []struct{ file, uid string }{
		{"testdata/pn532-mifare4.bin", "DEADBEEF"},
		{"testdata/pn532-ntag7.bin", "04A23B1C5D6E80"},
	} {
		var sc pn532Scanner
		var frames []PN532Frame
		// Byte by byte: frames split across reads.
		for _, b := range readFile(t, c.file) {
			for _, ev := range sc.feed([]byte{b}) {
				if ev.kind != resFrame {
					t.Errorf("%s: event %+v, want only frames", c.file, ev)
				}
				frames = append(frames, ev.frame)
			}
		}
		if len(frames) != 2 || frames[0].Kind != PN532Ack || frames[1].Kind != PN532Info || frames[1].Data[0] != 0x4B {
			t.Fatalf("%s: frames = %+v, want ACK + InListPassiveTarget response", c.file, frames)
		}
		uid, err := parseInListPassiveTarget(frames[1].Data[1:])
		if err != nil || hexUpper(uid) != c.uid {
			t.Errorf("%s: uid = % X, %v, want %s", c.file, uid, err, c.uid)
		}
	}
}

func TestParseInListPassiveTarget(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		uid     string
		wantErr error
	}{
		{"no card", []byte{0x00}, "", nil},
		{"4 bytes", []byte{1, 1, 0x00, 0x04, 0x08, 4, 0xDE, 0xAD, 0xBE, 0xEF}, "DEADBEEF", nil},
		{"7 bytes", []byte{1, 1, 0x00, 0x44, 0x00, 7, 4, 0xA2, 0x3B, 0x1C, 0x5D, 0x6E, 0x80}, "04A23B1C5D6E80", nil},
		{"10 bytes with ATS", []byte{1, 1, 0x00, 0x44, 0x20, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 5, 0x75, 0x77, 0x81, 0x02}, "0102030405060708090A", nil},
		{"5 bytes", []byte{1, 1, 0x00, 0x04, 0x08, 5, 1, 2, 3, 4, 5}, "", ErrMalformed},
		{"truncated", []byte{1, 1, 0x00, 0x04, 0x08, 4, 0xDE}, "", ErrMalformed},
		{"empty", nil, "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, err := parseInListPassiveTarget(tt.in)
			if !errors.Is(err, tt.wantErr) || hexUpper(uid) != tt.uid {
				t.Errorf("got %q, %v, want %q, %v", hexUpper(uid), err, tt.uid, tt.wantErr)
			}
		})
	}
}

func hexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// fakePN532 answers like a PN532 on the master side of a pty.
type fakePN532 struct {
	master *os.File
	slow   bool // write answers byte by byte

	mu     sync.Mutex
	card   []byte   // UID of the card in the field, nil for none
	script []string // actions for the next InListPassiveTarget commands
	cmds   []byte   // command codes received
	raw    []byte   // first bytes received from the host
	last   []byte   // last response frame, sent again on a NACK
	nacks  int      // NACKs received
}

func startFakePN532(master *os.File, slow bool, card []byte, script ...string) *fakePN532 {
	f := &fakePN532{master: master, slow: slow, card: card, script: script}
	go f.serve()
	return f
}

func (f *fakePN532) serve() {
	var sc pn532Scanner
	buf := make([]byte, 256)
	for {
		n, err := f.master.Read(buf)
		if err != nil {
			return // master closed
		}
		f.mu.Lock()
		if len(f.raw) < 1024 {
			f.raw = append(f.raw, buf[:n]...)
		}
		f.mu.Unlock()
		for _, ev := range sc.feed(buf[:n]) {
			if ev.kind == resFrame && ev.frame.Kind == PN532Nack {
				// The host asks for the last response again (sent whole:
				// the damage was on the wire).
				f.mu.Lock()
				last := f.last
				f.nacks++
				f.mu.Unlock()
				f.send(last)
			}
			if ev.kind == resFrame && ev.frame.Kind == PN532Info && ev.frame.TFI == pn532HostToChip && len(ev.frame.Data) > 0 {
				f.answer(ev.frame.Data[0])
			}
		}
	}
}

func (f *fakePN532) setCard(uid []byte) {
	f.mu.Lock()
	f.card = uid
	f.mu.Unlock()
}

func (f *fakePN532) commands() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

func (f *fakePN532) received() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.raw)
}

func (f *fakePN532) send(b []byte) {
	if !f.slow {
		_, _ = f.master.Write(b)
		return
	}
	for i := range b {
		_, _ = f.master.Write(b[i : i+1])
		time.Sleep(200 * time.Microsecond)
	}
}

func (f *fakePN532) answer(cmd byte) {
	f.mu.Lock()
	f.cmds = append(f.cmds, cmd)
	action := ""
	if cmd == pn532CmdInListPassiveTarget && len(f.script) > 0 {
		action, f.script = f.script[0], f.script[1:]
	}
	card := f.card
	f.mu.Unlock()
	ack := pn532AckFrame[:]
	switch cmd {
	case pn532CmdSAMConfiguration, pn532CmdRFConfiguration:
		f.send(append(slices.Clone(ack), EncodePN532Frame(pn532ChipToHost, cmd+1)...))
		return
	case pn532CmdInListPassiveTarget:
	default:
		f.send([]byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00}) // unknown command
		return
	}
	resp := []byte{0x4B, 0x00}
	if card != nil {
		resp = append([]byte{0x4B, 0x01, 0x01, 0x00, 0x44, 0x00, byte(len(card))}, card...)
	}
	frame := EncodePN532Frame(pn532ChipToHost, resp...)
	f.mu.Lock()
	f.last = frame
	f.mu.Unlock()
	switch action {
	case "":
		f.send(append(slices.Clone(ack), frame...))
	case "capture":
		f.send(readFileNoT("testdata/pn532-ntag7.bin"))
	case "nack":
		f.send([]byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00})
	case "error":
		f.send(append(slices.Clone(ack), 0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00))
	case "baddcs":
		bad := slices.Clone(frame)
		bad[len(bad)-2]++
		f.send(append(slices.Clone(ack), bad...))
	case "badlcs":
		bad := slices.Clone(frame)
		bad[4]++
		f.send(append(slices.Clone(ack), bad...))
	case "garbage":
		f.send(append(append([]byte{0x13, 0x37, 0xFF}, ack...), append([]byte{0x42}, frame...)...))
	case "silent":
	}
}

func readFileNoT(name string) []byte {
	b, _ := os.ReadFile(name)
	return b
}

func fastPN532() *PN532 {
	d := NewPN532()
	d.PollInterval = 5 * time.Millisecond
	d.AckTimeout = 500 * time.Millisecond // generous: a loaded CI box must not time out
	d.ResponseTimeout = 500 * time.Millisecond
	d.ReinitDelay = 5 * time.Millisecond
	return d
}

func TestPN532OverPTY(t *testing.T) {
	uid4 := []byte{0xDE, 0xAD, 0xBE, 0xEF}
	uid7 := []byte{0x04, 0xA2, 0x3B, 0x1C, 0x5D, 0x6E, 0x80}
	uid10 := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		card   []byte
		slow   bool
		script []string
		want   string
		short  bool // short timeouts, for the cases that exercise them
		check  func(t *testing.T, s StatsSnapshot, f *fakePN532)
	}{
		{name: "4-byte uid, exact bytes", card: uid4, want: "DEADBEEF",
			check: func(t *testing.T, s StatsSnapshot, f *fakePN532) {
				raw := f.received()
				wake := append(pn532Wakeup[:], EncodePN532Frame(0xD4, 0x14, 0x01, 0x14, 0x01)...)
				if !bytes.HasPrefix(raw, wake) {
					t.Errorf("first bytes = % X, want wake-up + SAMConfiguration % X", raw[:min(len(raw), len(wake))], wake)
				}
				if !bytes.Contains(raw, EncodePN532Frame(0xD4, 0x32, 0x05, 0xFF, 0x01, 0x10)) {
					t.Error("no RFConfiguration MaxRetries frame bounding the activation retries")
				}
				if !bytes.Contains(raw, []byte{0x00, 0x00, 0xFF, 0x04, 0xFC, 0xD4, 0x4A, 0x01, 0x00, 0xE1, 0x00}) {
					t.Error("no byte-exact InListPassiveTarget frame")
				}
				if s.Protocol+s.Timeouts+s.BadChecksum+s.Garbage+s.Torn != 0 {
					t.Errorf("noise counters = %+v, want none", s)
				}
			}},
		{name: "7-byte uid from capture", card: uid7, script: []string{"capture"}, want: "04A23B1C5D6E80"},
		{name: "10-byte uid", card: uid10, want: "0102030405060708090A"},
		{name: "split across reads", card: uid7, slow: true, want: "04A23B1C5D6E80"},
		{name: "nack resends", card: uid4, script: []string{"nack"}, want: "DEADBEEF",
			check: func(t *testing.T, s StatsSnapshot, _ *fakePN532) {
				if s.Protocol != 1 {
					t.Errorf("Protocol = %d, want 1", s.Protocol)
				}
			}},
		{name: "application error frame", card: uid4, script: []string{"error"}, want: "DEADBEEF",
			check: func(t *testing.T, s StatsSnapshot, _ *fakePN532) {
				if s.Protocol != 1 {
					t.Errorf("Protocol = %d, want 1", s.Protocol)
				}
			}},
		{name: "bad DCS is asked again with a NACK", card: uid4, script: []string{"baddcs"}, want: "DEADBEEF",
			check: func(t *testing.T, s StatsSnapshot, f *fakePN532) {
				if s.BadChecksum != 1 || s.Timeouts != 0 || s.Garbage != 0 {
					t.Errorf("BadChecksum, Timeouts, Garbage = %d, %d, %d, want 1, 0, 0", s.BadChecksum, s.Timeouts, s.Garbage)
				}
				if !bytes.Contains(f.received(), append(EncodePN532Frame(0xD4, 0x4A, 0x01, 0x00), pn532NackFrame[:]...)) {
					t.Error("the damaged response was not asked for again with a NACK")
				}
			}},
		{name: "unanswered command is aborted", card: uid4, script: []string{"silent"}, want: "DEADBEEF", short: true,
			check: func(t *testing.T, s StatsSnapshot, f *fakePN532) {
				if s.Timeouts < 1 {
					t.Errorf("Timeouts = %d, want ≥ 1", s.Timeouts)
				}
				if !bytes.Contains(f.received(), append(EncodePN532Frame(0xD4, 0x4A, 0x01, 0x00), pn532AckFrame[:]...)) {
					t.Error("the unanswered command was not aborted with an ACK")
				}
			}},
		{name: "garbage", card: uid4, script: []string{"garbage"}, want: "DEADBEEF",
			check: func(t *testing.T, s StatsSnapshot, _ *fakePN532) {
				if s.Garbage != 4 {
					t.Errorf("Garbage = %d, want 4", s.Garbage)
				}
			}},
		{name: "silent chip is re-initialised", card: uid4, script: []string{"silent", "silent", "silent"}, want: "DEADBEEF", short: true,
			check: func(t *testing.T, s StatsSnapshot, f *fakePN532) {
				if s.Timeouts < 3 {
					t.Errorf("Timeouts = %d, want ≥ 3", s.Timeouts)
				}
				if n := bytes.Count(f.commands(), []byte{pn532CmdSAMConfiguration}); n < 2 {
					t.Errorf("SAMConfiguration sent %d times, want ≥ 2 (init + re-init)", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drv := fastPN532()
			stats := new(Stats)
			drv.Stats = stats
			if tt.short {
				drv.AckTimeout, drv.ResponseTimeout = 60*time.Millisecond, 80*time.Millisecond
			}
			drv.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			master, name := newPTY(t)
			port := openTTY(t, name, drv)
			fake := startFakePN532(master, tt.slow, tt.card, tt.script...)
			r := runOn(t, drv, master, port)
			tp := r.tap(t)
			if tp.UID != tt.want || tp.Tech != TechISO14443A || tp.Number != "" {
				t.Errorf("tap = %+v, want UID %s iso14443a", tp, tt.want)
			}
			if tt.check != nil {
				tt.check(t, stats.Snapshot(), fake)
			}
			r.unplug(t)
		})
	}
}

func TestPN532NoCardThenCard(t *testing.T) {
	drv := fastPN532()
	master, name := newPTY(t)
	port := openTTY(t, name, drv)
	fake := startFakePN532(master, false, nil)
	r := runOn(t, drv, master, port)
	waitFor(t, "three empty polls", func() bool {
		return bytes.Count(fake.commands(), []byte{pn532CmdInListPassiveTarget}) >= 3
	})
	r.noMoreTaps(t)
	fake.setCard([]byte{1, 2, 3, 4})
	if tp := r.tap(t); tp.UID != "01020304" {
		t.Errorf("tap = %+v, want 01020304", tp)
	}
}

// TestPN532CorruptedAnswerIsResent: with the default 1 s response timeout,
// a card whose answer is damaged on the wire is read at once: the driver
// asks for the answer again (NACK) instead of waiting for the timeout.
func TestPN532CorruptedAnswerIsResent(t *testing.T) {
	for _, script := range []string{"baddcs", "badlcs"} {
		t.Run(script, func(t *testing.T) {
			drv := NewPN532() // default timeouts: 100 ms ACK, 1 s response
			drv.PollInterval = 5 * time.Millisecond
			stats := new(Stats)
			drv.Stats = stats
			master, name := newPTY(t)
			port := openTTY(t, name, drv)
			fake := startFakePN532(master, false, nil)
			r := runOn(t, drv, master, port)
			waitFor(t, "a first empty poll", func() bool {
				return bytes.Count(fake.commands(), []byte{pn532CmdInListPassiveTarget}) >= 1
			})
			fake.mu.Lock()
			fake.script = []string{script}
			fake.card = []byte{0xDE, 0xAD, 0xBE, 0xEF}
			fake.mu.Unlock()
			start := time.Now()
			tp := r.tap(t)
			// A few milliseconds with the NACK; the response timeout is 1 s.
			// The bound (900 ms) leaves room for a loaded CI machine under -race
			// while still telling a NACK answered from a 1 s timeout.
			if took := time.Since(start); took > 900*time.Millisecond {
				t.Errorf("card read after %v, want well under the 1 s response timeout", took.Round(time.Millisecond))
			}
			if tp.UID != "DEADBEEF" {
				t.Errorf("tap = %+v, want DEADBEEF", tp)
			}
			fake.mu.Lock()
			nacks := fake.nacks
			fake.mu.Unlock()
			if nacks != 1 {
				t.Errorf("NACKs received = %d, want 1", nacks)
			}
			if s := stats.Snapshot(); s.Timeouts != 0 {
				t.Errorf("Timeouts = %d, want 0", s.Timeouts)
			}
		})
	}
}
