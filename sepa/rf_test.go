package sepa

import (
	"errors"
	"testing"
)

func TestParseRF(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"RF18539007547034", "RF18539007547034", nil}, // DOMAIN.md
		{"rf18 5390 0754 7034", "RF18539007547034", nil},
		{"RF18000000000539007547034", "RF18000000000539007547034", nil},
		{"RF19539007547034", "", ErrRFCheck},
		{"RF18539007547035", "", ErrRFCheck},
		{"RF1", "", ErrRFFormat},
		{"RF18", "", ErrRFFormat},
		{"XX18539007547034", "", ErrRFFormat},
		{"RFAB539007547034", "", ErrRFFormat},
		{"RF18-539007547034", "", ErrRFFormat},
		{"RF180000000000539007547034", "", ErrRFFormat}, // 22 characters after the check
	}
	for _, tt := range tests {
		got, err := ParseRF(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseRF(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRF(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNewRF(t *testing.T) {
	tests := []struct{ in, want string }{
		{"539007547034", "RF18539007547034"},
		{"5390 0754 7034", "RF18539007547034"},
		{"abc", ""}, // computed below: must validate
		{"TARTINE2026W000123", ""},
	}
	for _, tt := range tests {
		got, err := NewRF(tt.in)
		if err != nil {
			t.Errorf("NewRF(%q): %v", tt.in, err)
			continue
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("NewRF(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if _, err := ParseRF(got); err != nil {
			t.Errorf("NewRF(%q) = %q does not validate: %v", tt.in, got, err)
		}
	}
	for _, bad := range []string{"", "ÉCOLE", "1234567890123456789012", "a-b"} {
		if _, err := NewRF(bad); !errors.Is(err, ErrRFFormat) {
			t.Errorf("NewRF(%q) error = %v, want ErrRFFormat", bad, err)
		}
	}
	if got, _ := FormatRF("RF18539007547034"); got != "RF18 5390 0754 7034" {
		t.Errorf("FormatRF = %q", got)
	}
}

func FuzzRF(f *testing.F) {
	for _, s := range []string{"RF18539007547034", "rf18 5390 0754 7034", "RF00", "RF", "RF97Z", "539007547034"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if rf, err := ParseRF(s); err == nil {
			if again, err := NewRF(rf[4:]); err != nil || again != rf {
				// A valid reference has exactly one pair of check digits, except
				// that 98−r and 98−r+97 cannot both be two digits… unless r ≤ 1.
				if err != nil || (again[2:4] != rf[2:4] && !(rf[2:4] == "97" || rf[2:4] == "98" || rf[2:4] == "00" || rf[2:4] == "01")) {
					t.Fatalf("ParseRF(%q) = %q but NewRF(%q) = %q, %v", s, rf, rf[4:], again, err)
				}
			}
		} else if !errors.Is(err, ErrRFFormat) && !errors.Is(err, ErrRFCheck) {
			t.Fatalf("ParseRF(%q) error %v wraps no sentinel", s, err)
		}
		if rf, err := NewRF(s); err == nil {
			if _, err := ParseRF(rf); err != nil {
				t.Fatalf("NewRF(%q) = %q does not validate: %v", s, rf, err)
			}
		}
	})
}
