package sim

import (
	"bytes"
	"strings"
	"testing"

	"tartine/readers"
)

// The simulator's frames must be exactly what the readers package encodes
// and decodes (it is the independent implementation of each format).
func TestEncodeMatchesReaders(t *testing.T) {
	id := [5]byte{0x01, 0x00, 0xCD, 0xA4, 0xEC}
	for f, v := range map[Format]readers.EM4100Variant{FormatRDM6300: readers.RDM6300, FormatID12LA: readers.ID12LA, FormatEM18: readers.EM18} {
		got, err := Encode(f, id[:])
		if err != nil {
			t.Fatal(err)
		}
		if want := readers.EncodeEM4100(v, id); !bytes.Equal(got, want) {
			t.Errorf("%s: % x, readers encodes % x", f, got, want)
		}
	}
	lines := []struct {
		f    Format
		lf   readers.LineFormat
		want string
	}{
		{FormatLineHex, readers.LineFormat{Encoding: readers.LineHex, Tech: readers.TechEM4100}, "0100CDA4EC"},
		{FormatLineDec, readers.LineFormat{Encoding: readers.LineDecimal, Tech: readers.TechEM4100}, "00CDA4EC"},
	}
	for _, l := range lines {
		b, err := Encode(l.f, id[:])
		if err != nil {
			t.Fatal(err)
		}
		tap, err := l.lf.Parse(strings.TrimRight(string(b), "\r\n"))
		if err != nil || tap.UID != l.want {
			t.Errorf("%s %q parsed as %+v, %v; want uid %s", l.f, b, tap, err, l.want)
		}
	}
	if _, err := Encode(FormatRDM6300, []byte{1, 2}); err == nil {
		t.Error("rdm6300 accepted a 2-byte uid")
	}
	if _, err := ParseFormat("morse"); err == nil {
		t.Error("ParseFormat accepted morse")
	}
}
