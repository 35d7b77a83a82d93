package sepa

import (
	"errors"
	"testing"
)

func TestParseIBAN(t *testing.T) {
	valid := []struct{ in, want string }{
		{"BE68539007547034", "BE68539007547034"},
		{"be68 5390 0754 7034", "BE68539007547034"},
		{"BE71 0961 2345 6769", "BE71096123456769"},
		{"FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"},
		{"NL91ABNA0417164300", "NL91ABNA0417164300"},
		{"DE89 3704 0044 0532 0130 00", "DE89370400440532013000"},
	}
	for _, tt := range valid {
		got, err := ParseIBAN(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseIBAN(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	invalid := []string{
		"", "BE", "BE6853900754703", "BE685390075470345", // lengths
		"BE69539007547034",  // IBAN check
		"1E68539007547034",  // country
		"BEAB539007547034",  // check digits
		"BE68-539007547034", // character
		"XX00",              // too short for an unknown country
		"BE31A39007547034",  // letter in a Belgian BBAN (fails mod 97 or BBAN rule)
		"BE55000000000000",  // mod 97 holds? BBAN check 00 is never valid
	}
	for _, in := range invalid {
		if _, err := ParseIBAN(in); !errors.Is(err, ErrIBAN) {
			t.Errorf("ParseIBAN(%q) error = %v, want ErrIBAN", in, err)
		}
	}
	if got, _ := FormatIBAN("BE68539007547034"); got != "BE68 5390 0754 7034" {
		t.Errorf("FormatIBAN = %q", got)
	}
}

func TestParseBIC(t *testing.T) {
	for _, in := range []string{"GEBABEBB", "gkccbebb", "BBRUBEBB100", "KREDBEBB XXX"} {
		if _, err := ParseBIC(in); err != nil {
			t.Errorf("ParseBIC(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "GEBABEB", "GEBABEBB1", "GEB1BEBB", "GEBAB3BB", "GEBABEB!"} {
		if _, err := ParseBIC(in); !errors.Is(err, ErrBIC) {
			t.Errorf("ParseBIC(%q) error = %v, want ErrBIC", in, err)
		}
	}
}

func FuzzIBAN(f *testing.F) {
	for _, s := range []string{"BE68539007547034", "be68 5390 0754 7034", "FR1420041010050500013M02606", "BE00", "ZZ1234567890123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iban, err := ParseIBAN(s)
		if err != nil {
			if !errors.Is(err, ErrIBAN) {
				t.Fatalf("ParseIBAN(%q) error %v wraps no sentinel", s, err)
			}
			return
		}
		if rem, ok := mod97(iban[4:] + iban[:4]); !ok || rem != 1 {
			t.Fatalf("ParseIBAN(%q) = %q, which fails mod 97", s, iban)
		}
		pretty, err := FormatIBAN(iban)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseIBAN(pretty); err != nil || back != iban {
			t.Fatalf("round trip %q → %q → %q, %v", iban, pretty, back, err)
		}
	})
}
