package testclock

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2027-01-01", "2027-01-01T10:00:00+01:00"},
		{"2027-07-15", "2027-07-15T10:00:00+02:00"},
		{"2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+02:00"},
	} {
		got, err := Parse(tc.in)
		if err != nil || !got.Equal(mustTime(t, tc.want)) {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "2027-02-30", "01/01/2027"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func TestNowAdvancesFromThePin(t *testing.T) {
	t.Setenv(Env, "2028-02-29")
	once.Do(func() {}) // not loaded yet in this process when run alone; reload below
	load()
	a := Now()
	if a.In(Brussels).Format(time.DateOnly) != "2028-02-29" {
		t.Fatalf("Now() = %v, want 29 February 2028", a)
	}
	time.Sleep(2 * time.Millisecond)
	if b := Now(); !b.After(a) {
		t.Errorf("the clock did not advance: %v then %v", a, b)
	}
	if d := Today(); d.Hour() != 0 || d.Day() != 29 {
		t.Errorf("Today() = %v", d)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
