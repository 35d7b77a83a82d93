package sepa

import (
	"errors"
	"testing"
)

func TestNewOGM(t *testing.T) {
	tests := []struct {
		base uint64
		want string
	}{
		{1234567890, "123456789002"}, // DOMAIN.md: check 02
		{123456789, "012345678939"},  // DOMAIN.md: 0123456789 → 39
		{108068171, "010806817183"},  // DOMAIN.md: +++010/8068/17183+++
		{0, "000000000097"},          // remainder 0 is written 97
		{97, "000000009797"},
		{9999999999, "999999999948"},
	}
	for _, tt := range tests {
		got, err := NewOGM(tt.base)
		if err != nil || got != tt.want {
			t.Errorf("NewOGM(%d) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	if _, err := NewOGM(10_000_000_000); !errors.Is(err, ErrOGMFormat) {
		t.Errorf("NewOGM(10^10) error = %v, want ErrOGMFormat", err)
	}
}

func TestNewOGMString(t *testing.T) {
	got, err := NewOGMString("0123456789")
	if err != nil || got != "012345678939" {
		t.Errorf("NewOGMString(0123456789) = %q, %v", got, err)
	}
	for _, bad := range []string{"", "123456789", "12345678901", "12345678a0", "+123456789"} {
		if _, err := NewOGMString(bad); !errors.Is(err, ErrOGMFormat) {
			t.Errorf("NewOGMString(%q) error = %v, want ErrOGMFormat", bad, err)
		}
	}
}

func TestFormatOGM(t *testing.T) {
	got, err := FormatOGM("123456789002")
	if err != nil || got != "+++123/4567/89002+++" {
		t.Errorf("FormatOGM = %q, %v", got, err)
	}
}

func TestParseOGM(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"+++010/8068/17183+++", "010806817183", nil},
		{"***010/8068/17183***", "010806817183", nil},
		{"  +++ 010 / 8068 / 17183 +++ ", "010806817183", nil},
		{"010806817183", "010806817183", nil},
		{"010 8068 17183", "010806817183", nil},
		{"+++010806817183+++", "010806817183", nil},
		{"010/8068/17183", "010806817183", nil},
		{"+++010/8068/17184+++", "", ErrOGMCheck},
		{"123456789097", "", ErrOGMCheck},
		{"", "", ErrOGMFormat},
		{"+++010/8068/17183***", "", ErrOGMFormat},
		{"+++010/8068/17183", "", ErrOGMFormat},
		{"010/8068/17183+++", "", ErrOGMFormat},
		{"+++01/08068/17183+++", "", ErrOGMFormat},
		{"+++010/8068/1718+++", "", ErrOGMFormat},
		{"01080681718", "", ErrOGMFormat},
		{"0108068171833", "", ErrOGMFormat},
		{"01080681718a", "", ErrOGMFormat},
		{"++++++", "", ErrOGMFormat},
		{"+++", "", ErrOGMFormat},
	}
	for _, tt := range tests {
		got, err := ParseOGM(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseOGM(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseOGM(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestWalletOGM(t *testing.T) {
	got, err := WalletOGM(42, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if got != "042000123461" {
		t.Errorf("WalletOGM(42, 1234) = %q, want 042000123461", got)
	}
	p, s, err := SplitWalletOGM("+++042/0001/23461+++")
	if err != nil || p != 42 || s != 1234 {
		t.Errorf("SplitWalletOGM = %d, %d, %v; want 42, 1234", p, s, err)
	}
	for _, tt := range []struct{ p, s uint64 }{{0, 1}, {1000, 1}, {1, 0}, {1, 10_000_000}} {
		if _, err := WalletOGM(tt.p, tt.s); !errors.Is(err, ErrWalletOGM) {
			t.Errorf("WalletOGM(%d, %d) error = %v, want ErrWalletOGM", tt.p, tt.s, err)
		}
	}
	if p, s, err := SplitWalletOGM("+++010/8068/17183+++"); err != nil || p != 10 || s != 8068171 {
		t.Errorf("SplitWalletOGM(+++010/8068/17183+++) = %d, %d, %v; want 10, 8068171", p, s, err)
	}
	if _, _, err := SplitWalletOGM("000000000097"); !errors.Is(err, ErrWalletOGM) {
		t.Errorf("SplitWalletOGM(000000000097) error = %v, want ErrWalletOGM", err)
	}
}

func FuzzParseOGM(f *testing.F) {
	for _, s := range []string{"+++010/8068/17183+++", "***123/4567/89002***", "012345678939", "+++", "010/8068/17183", " 0 1 0 8 0 6 8 1 7 1 8 3 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseOGM(s)
		if err != nil {
			if !errors.Is(err, ErrOGMFormat) && !errors.Is(err, ErrOGMCheck) {
				t.Fatalf("ParseOGM(%q) error %v wraps no sentinel", s, err)
			}
			return
		}
		if len(d) != 12 || !isDigits(d) {
			t.Fatalf("ParseOGM(%q) = %q, not 12 digits", s, d)
		}
		f, err := FormatOGM(d)
		if err != nil {
			t.Fatalf("FormatOGM(%q): %v", d, err)
		}
		back, err := ParseOGM(f)
		if err != nil || back != d {
			t.Fatalf("round trip %q → %q → %q, %v", d, f, back, err)
		}
	})
}
