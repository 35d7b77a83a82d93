package i18n

import (
	"testing"
	"time"
)

func TestFormatDate(t *testing.T) {
	brussels := time.FixedZone("CET", 3600)
	d := time.Date(2026, 11, 30, 11, 52, 3, 0, brussels)
	first := time.Date(2026, 12, 1, 8, 5, 0, 0, brussels)
	tests := []struct {
		name, got, want string
	}{
		{"fr", FormatDate(d, FR), "lundi 30 novembre 2026"},
		{"en", FormatDate(d, EN), "Monday 30 November 2026"},
		{"nl", FormatDate(d, NL), "maandag 30 november 2026"},
		{"fr first", FormatDate(first, FR), "mardi 1er décembre 2026"},
		{"en first", FormatDate(first, EN), "Tuesday 1 December 2026"},
		{"unknown", FormatDate(d, "de"), "lundi 30 novembre 2026"},
		{"short", FormatDateShort(d, FR), "30/11/2026"},
		{"short first", FormatDateShort(first, EN), "01/12/2026"},
		{"time", FormatTime(d, FR), "11:52"},
		{"time morning", FormatTime(first, EN), "08:05"},
		{"août", MonthName(time.August, FR), "août"},
		{"February", MonthName(time.February, EN), "February"},
		{"bad month", MonthName(13, FR), "%!Month(13)"},
		{"dimanche", WeekdayName(time.Sunday, FR), "dimanche"},
		{"Saturday", WeekdayName(time.Saturday, EN), "Saturday"},
		{"bad weekday", WeekdayName(7, EN), "%!Weekday(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestAllNames(t *testing.T) {
	for _, lang := range []string{FR, EN, NL} {
		seen := map[string]bool{}
		for m := time.January; m <= time.December; m++ {
			n := MonthName(m, lang)
			if n == "" || seen[n] {
				t.Errorf("%s: month %d name %q empty or repeated", lang, m, n)
			}
			seen[n] = true
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			n := WeekdayName(d, lang)
			if n == "" || seen[n] {
				t.Errorf("%s: weekday %d name %q empty or repeated", lang, d, n)
			}
			seen[n] = true
		}
	}
}
