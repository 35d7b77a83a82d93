package i18n

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestFormatEUR(t *testing.T) {
	tests := []struct{ in, lang, want string }{
		{"3.7", FR, "3,70\u00a0€"},
		{"-12.5", FR, "-12,50\u00a0€"},
		{"1234.5", FR, "1\u202f234,50\u00a0€"},
		{"1234567.891", FR, "1\u202f234\u202f567,89\u00a0€"},
		{"0", FR, "0,00\u00a0€"},
		{"0.005", FR, "0,01\u00a0€"},  // half away from zero
		{"-0.004", FR, "0,00\u00a0€"}, // no "-0,00"
		{"999.995", FR, "1\u202f000,00\u00a0€"},
		{"3.7", "fr-BE", "3,70\u00a0€"}, // unknown tag: French
		{"3.7", EN, "€3.70"},
		{"-12.5", EN, "-€12.50"},
		{"1234.5", EN, "€1,234.50"},
		{"3.7", NL, "€\u00a03,70"},
		{"-12.5", NL, "€\u00a0-12,50"},
		{"1234.5", NL, "€\u00a01.234,50"},
	}
	for _, tt := range tests {
		if got := FormatEUR(decimal.RequireFromString(tt.in), tt.lang); got != tt.want {
			t.Errorf("FormatEUR(%s, %s) = %q, want %q", tt.in, tt.lang, got, tt.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"3,70", "3.70"},
		{"3.70", "3.70"},
		{"3", "3"},
		{"3,7", "3.70"},
		{"0,05", "0.05"},
		{"  12,50  ", "12.50"},
		{"12,50 €", "12.50"},
		{"12,50€", "12.50"},
		{"€12.50", "12.50"},
		{"€ 12,50", "12.50"},
		{"1 234,50", "1234.50"},
		{"1\u202f234,50\u00a0€", "1234.50"},
		{"1\u00a0234", "1234"},
		{"1.234,50", "1234.50"},
		{"1,234.50", "1234.50"},
		{"12 345 678,9", "12345678.90"},
		{"007", "7"},
		{"999999999999,99", "999999999999.99"},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, RejectNegative)
		if err != nil {
			t.Errorf("ParseAmount(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(decimal.RequireFromString(tt.want)) {
			t.Errorf("ParseAmount(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseAmountNegative(t *testing.T) {
	for _, in := range []string{"-12,50", "-12,50 €", "-€12.50", "€ -12,50", "\u221212,50"} {
		got, err := ParseAmount(in, AllowNegative)
		if err != nil || !got.Equal(decimal.RequireFromString("-12.5")) {
			t.Errorf("ParseAmount(%q, AllowNegative) = %s, %v", in, got, err)
		}
		_, err = ParseAmount(in, RejectNegative)
		var ae *AmountError
		if !errors.As(err, &ae) || ae.Key != "error.amount.negative" {
			t.Errorf("ParseAmount(%q, RejectNegative) error = %v, want error.amount.negative", in, err)
		}
	}
	if got, err := ParseAmount("-0", RejectNegative); err == nil && !got.IsZero() {
		t.Errorf("-0 = %s", got)
	}
}

func TestParseAmountErrors(t *testing.T) {
	tests := []struct{ in, key, reason string }{
		{"", "empty", "no amount"},
		{"  € ", "empty", "no amount"},
		{"abc", "character", `'a'`},
		{"3,70 EUR", "character", `'E'`},
		{"+3", "character", `'+'`},
		{"--3", "character", `'-'`},
		{"3€€", "character", `'€'`},
		{"1,234", "decimals", "3 decimals"},
		{"1.234", "decimals", "3 decimals"},
		{"3,705", "decimals", "3 decimals"},
		{"1.234.567", "separator", `more than one '.'`},
		{"1,2,3", "separator", "more than one"},
		{"1,234.5,0", "separator", "more than one"},
		{"1.5,234", "decimals", "3 decimals"},
		{"1.5,23", "grouping", "groups of three"},
		{"12.34.5,00", "grouping", "groups of three"},
		{"1 23,50", "grouping", "groups of three"},
		{"1234 567,00", "grouping", "groups of three"},
		{"1 234.567,00", "grouping", "groups of three"},
		{",50", "no_digits", "before and after"},
		{"5,", "no_digits", "before and after"},
		{"5, 50", "character", "spaces in the decimals"},
		{"1000000000000", "too_large", "more than 12"},
	}
	c := newCatalog(t)
	for _, tt := range tests {
		_, err := ParseAmount(tt.in, AllowNegative)
		var ae *AmountError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("ParseAmount(%q) error = %v, want *AmountError", tt.in, err)
			continue
		}
		if ae.Key != "error.amount."+tt.key || !strings.Contains(ae.Reason, tt.reason) {
			t.Errorf("ParseAmount(%q): key %q reason %q, want %q / %q", tt.in, ae.Key, ae.Reason, tt.key, tt.reason)
		}
		for _, lang := range Languages() {
			if msg := ae.Message(c, lang); strings.Contains(msg, "⟦") || strings.Contains(msg, "%!") {
				t.Errorf("ParseAmount(%q): %s message %q", tt.in, lang, msg)
			}
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"3,70", "1 234,50 €", "-€12.50", "1.234,50", "1,234", "€", "\u202f", "99999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAmount(s, AllowNegative)
		if err != nil {
			var ae *AmountError
			if !errors.As(err, &ae) || !strings.HasPrefix(ae.Key, "error.amount.") {
				t.Fatalf("ParseAmount(%q) error %v is not an *AmountError with a key", s, err)
			}
			return
		}
		if !d.Equal(d.Round(2)) {
			t.Fatalf("ParseAmount(%q) = %s has more than two decimals", s, d)
		}
		if d.Abs().GreaterThanOrEqual(decimal.New(1, maxIntDigits)) {
			t.Fatalf("ParseAmount(%q) = %s is too large", s, d)
		}
		if _, err := ParseAmount(s, RejectNegative); (err == nil) == d.IsNegative() && !d.IsZero() {
			t.Fatalf("ParseAmount(%q) sign handling: %s, %v", s, d, err)
		}
	})
}

func FuzzFormatRoundTrip(f *testing.F) {
	for _, c := range []int64{0, 370, -1250, 123450, 99999999999999, -99999999999999, 1} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cents int64) {
		cents %= 100_000_000_000_000 // 12 integer digits
		d := decimal.New(cents, -2)
		for _, lang := range []string{FR, EN, NL} {
			s := FormatEUR(d, lang)
			back, err := ParseAmount(s, AllowNegative)
			if err != nil {
				t.Fatalf("ParseAmount(FormatEUR(%s, %s) = %q): %v", d, lang, s, err)
			}
			if !back.Equal(d) {
				t.Fatalf("%s → %q → %s (%s)", d, s, back, lang)
			}
		}
	})
}
