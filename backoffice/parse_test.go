package backoffice

import (
	"testing"
	"time"
)

func TestParseDay(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for refused
	}{
		{"2026-11-30", "2026-11-30"},
		{" 30/11/2026 ", "2026-11-30"},
		{"1/9/2026", "2026-09-01"},
		{"31/02/2026", ""},
		{"2026-13-01", ""},
		{"1899-01-01", ""},
		{"", ""},
		{"demain", ""},
	}
	for _, tt := range tests {
		got, ok := parseDay(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("parseDay(%q) = %s, want refused", tt.in, got.Format(time.DateOnly))
			}
			continue
		}
		if !ok || got.Format(time.DateOnly) != tt.want {
			t.Errorf("parseDay(%q) = %s, %v; want %s", tt.in, got.Format(time.DateOnly), ok, tt.want)
		}
	}
}

func FuzzParseDay(f *testing.F) {
	for _, s := range []string{"2026-11-30", "30/11/2026", "1/9/2026", "31/02/2026", "", "9999-99-99", "٣٠/١١/٢٠٢٦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseDay(s)
		if !ok {
			return
		}
		if d.Year() < 2000 || d.Year() >= 2100 || d.Hour() != 0 || d.Location() != time.UTC {
			t.Fatalf("parseDay(%q) = %v", s, d)
		}
		if again, ok := parseDay(d.Format(time.DateOnly)); !ok || !again.Equal(d) {
			t.Fatalf("parseDay(%q) = %v does not round-trip", s, d)
		}
	})
}

func TestNextWeekday(t *testing.T) {
	fri := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	if got := nextWeekday(fri); got.Weekday() != time.Monday || got.Day() != 30 {
		t.Errorf("nextWeekday(Friday) = %v", got)
	}
}
