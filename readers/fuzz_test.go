package readers

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addCaptures seeds f with the files of testdata matching pattern.
func addCaptures(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzEM4100(f *testing.F) {
	addCaptures(f, "*.bin")
	f.Add([]byte("\x020100CDA4EC85\x03\x02\x02\x03"))
	f.Add([]byte("0100CD0100CDA4EC84\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		upper := bytes.ToUpper(in)
		for _, v := range []EM4100Variant{RDM6300, ID12LA, EM18} {
			sc := em4100Scanner{variant: v}
			check := func(r scanResult) {
				if r.kind != resFrame {
					return
				}
				if len(r.raw) != 5 || r.uid != strings.ToUpper(hex.EncodeToString(r.raw)) {
					t.Fatalf("%s: frame uid %q raw % X disagree", v, r.uid, r.raw)
				}
				if !bytes.Contains(upper, EncodeEM4100(v, [5]byte(r.raw))) {
					t.Fatalf("%s: frame %s not in input %q", v, r.uid, in)
				}
			}
			for i, b := range in {
				sc.feed(b, check)
				if i%7 == 6 {
					sc.idle(check)
				}
			}
			sc.idle(check)
			if len(sc.buf) > em18MaxRun {
				t.Fatalf("%s: scanner buffer grew to %d", v, len(sc.buf))
			}
			if uid, raw, err := DecodeEM4100(v, in); err == nil {
				if got := EncodeEM4100(v, [5]byte(raw)); !bytes.Equal(got, upper) {
					t.Fatalf("%s: decoded %s but re-encodes to %q, input %q", v, uid, got, in)
				}
			}
		}
	})
}

func FuzzPN532Frame(f *testing.F) {
	addCaptures(f, "pn532-*.bin")
	f.Add([]byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00})
	f.Add([]byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00})
	f.Add([]byte{0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0xFE, 0xD5, 0x15, 0x16, 0x00})
	f.Add([]byte{0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02})
	f.Add(EncodePN532Frame(0xD5, 0x4B, 1, 1, 0, 0x44, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
	f.Fuzz(func(t *testing.T, in []byte) {
		var sc pn532Scanner
		for i := 0; i < len(in); i += 3 { // split across reads
			for _, ev := range sc.feed(in[i:min(i+3, len(in))]) {
				if ev.kind == resFrame && ev.frame.Kind == PN532Info {
					_, _ = parseInListPassiveTarget(ev.frame.Data)
				}
			}
			if len(sc.buf) > pn532MaxBuffer+3 {
				t.Fatalf("scanner buffer grew to %d", len(sc.buf))
			}
		}
		if i := indexStart(in); i >= 0 {
			fr, n, err := ParsePN532Frame(in[i:])
			if err == nil {
				if n < 4 || n > len(in)-i {
					t.Fatalf("n = %d out of range", n)
				}
				extended := n > 4 && in[i+2] == 0xFF && in[i+3] == 0xFF
				if fr.Kind == PN532Info && !extended {
					if enc := EncodePN532Frame(fr.TFI, fr.Data...); !bytes.Equal(enc[1:len(enc)-1], in[i:i+n]) {
						t.Fatalf("frame % X re-encodes to % X", in[i:i+n], enc)
					}
				}
			}
		}
		uid, err := parseInListPassiveTarget(in)
		if err == nil && uid != nil && len(uid) != 4 && len(uid) != 7 && len(uid) != 10 {
			t.Fatalf("uid of %d bytes accepted", len(uid))
		}
	})
}

func FuzzLine(f *testing.F) {
	for _, name := range []string{"line-cdc-decimal.txt", "line-wiegand.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for l := range strings.Lines(string(b)) {
			f.Add(strings.TrimRight(l, "\r\n"))
		}
	}
	f.Add("UID:04A23B1C5D6E80;")
	f.Add("18446744073709551615")
	f.Add("99999999999999999999")
	formats := []LineFormat{
		{Encoding: LineDecimal, Tech: TechEM4100},
		{Encoding: LineDecimal, Tech: TechISO14443A, Reverse: true, Bytes: 7},
		{Encoding: LineHex, Tech: TechISO14443A, Prefix: "UID:", Suffix: ";"},
		{Encoding: LineHex, Tech: TechEM4100, Reverse: true},
		{Encoding: LineWiegandBits},
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, fm := range formats {
			tp, err := fm.Parse(line)
			if err != nil {
				continue
			}
			id, herr := hex.DecodeString(tp.UID)
			if herr != nil || len(id) == 0 || strings.ToUpper(tp.UID) != tp.UID {
				t.Fatalf("%+v: UID %q is not upper-case hex", fm, tp.UID)
			}
			if fm.Encoding == LineWiegandBits && EncodeWiegand(id) != line {
				t.Fatalf("Wiegand %q decodes to % X which re-encodes differently", line, id)
			}
			if tp.Tech == TechEM4100 && len(tp.Number) != 10 {
				t.Fatalf("EM4100 Number %q is not 10 digits", tp.Number)
			}
		}
		for _, fm := range formats {
			d, err := NewLine(fm)
			if err != nil {
				t.Fatal(err)
			}
			tp, noise, err := d.parse(line)
			if err != nil {
				continue
			}
			if noise < 0 || noise >= len(line) {
				t.Fatalf("%+v: %d noise bytes in a line of %d", fm, noise, len(line))
			}
			if want, err := fm.Parse(line[noise:]); err != nil || want != tp {
				t.Fatalf("%+v: parse(%q) = %+v after %d noise bytes, but the tail parses to %+v, %v", fm, line, tp, noise, want, err)
			}
			if noise > 0 && fm.Prefix == "" && fm.idByte(line[noise-1]) {
				t.Fatalf("%+v: parse(%q) skipped id bytes: %q", fm, line, line[:noise])
			}
		}
		var sc lineScanner
		for i := 0; i < len(line); i++ {
			if l, _ := sc.feed(line[i]); len(l) > maxLine {
				t.Fatalf("line of %d bytes passed the %d limit", len(l), maxLine)
			}
		}
	})
}
