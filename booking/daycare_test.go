package booking

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decp(s string) *decimal.Decimal { d := dec(s); return &d }

func TestDaycareCharge(t *testing.T) {
	brussels, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	tariff := DaycareTariff{
		PeriodMinutes: 30, PeriodPrice: dec("0.75"), DailyCap: decp("6.00"),
		Opens: MustClock("07:00"), Closes: MustClock("18:00"),
		FreeWindows: []Window{{From: MustClock("15:30"), To: MustClock("15:45"), Label: "grâce"}},
	}
	at := func(hm string) time.Time {
		c := MustClock(hm)
		return c.On(time.Date(2026, 11, 30, 0, 0, 0, 0, brussels), brussels)
	}
	sec := func(hm string, s int) time.Time { return at(hm).Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name     string
		tariff   DaycareTariff
		in, out  time.Time
		want     string
		wantPers int
	}{
		{"exactly one period", tariff, at("07:30"), at("08:00"), "0.75", 1},
		{"one minute into the second period", tariff, at("07:30"), at("08:01"), "1.50", 2},
		{"seconds do not start a period", tariff, at("07:30"), sec("08:00", 59), "0.75", 1},
		{"one minute is a started period", tariff, at("07:30"), at("07:31"), "0.75", 1},
		{"under a minute is free", tariff, at("07:30"), sec("07:30", 40), "0.00", 0},
		{"inside the free window only", tariff, at("15:30"), at("15:45"), "0.00", 0},
		{"across the free window", tariff, at("15:30"), at("16:15"), "0.75", 1},
		{"free window then one minute", tariff, at("15:30"), at("16:16"), "1.50", 2},
		{"before and after the free window", tariff, at("15:00"), at("16:00"), "1.50", 2},
		{"check-in before opening", tariff, at("06:40"), at("07:30"), "0.75", 1},
		{"check-out after closing", tariff, at("17:00"), at("18:40"), "1.50", 2},
		{"entirely after closing", tariff, at("18:05"), at("18:40"), "0.00", 0},
		{"cap reached", tariff, at("07:00"), at("18:00"), "6.00", 22},
		{"just under the cap", tariff, at("15:45"), at("18:00"), "3.75", 5},
		{"check-out before check-in", tariff, at("16:00"), at("15:00"), "0.00", 0},
		{"same instant", tariff, at("16:00"), at("16:00"), "0.00", 0},
		{"no cap", DaycareTariff{PeriodMinutes: 30, PeriodPrice: dec("0.75"), Opens: MustClock("07:00"), Closes: MustClock("18:00")},
			at("07:00"), at("18:00"), "16.50", 22},
		{"rate with more precision rounds once, half up", DaycareTariff{PeriodMinutes: 15, PeriodPrice: dec("0.125"), Opens: MustClock("07:00"), Closes: MustClock("18:00")},
			at("16:00"), at("16:45"), "0.38", 3},
		{"overlapping free windows counted once", DaycareTariff{PeriodMinutes: 30, PeriodPrice: dec("1"), Opens: MustClock("07:00"), Closes: MustClock("18:00"),
			FreeWindows: []Window{{From: MustClock("15:30"), To: MustClock("16:00")}, {From: MustClock("15:45"), To: MustClock("16:10")}}},
			at("15:00"), at("16:40"), "2.00", 2},
		{"check-out the next day is clipped to closing", tariff, at("17:30"), at("17:30").Add(24 * time.Hour), "0.75", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, periods := DaycareCharge(tc.tariff, tc.in, tc.out)
			if !got.Equal(dec(tc.want)) || periods != tc.wantPers {
				t.Errorf("DaycareCharge(%s–%s) = %s, %d periods; want %s, %d", tc.in.Format("15:04:05"), tc.out.Format("15:04:05"), got, periods, tc.want, tc.wantPers)
			}
			if got.Exponent() < -2 {
				t.Errorf("amount %s has more than two decimals", got)
			}
		})
	}
}

func TestDaycareChargeUTCInputUsesCheckInZone(t *testing.T) {
	brussels, _ := time.LoadLocation("Europe/Brussels")
	tariff := DaycareTariff{PeriodMinutes: 30, PeriodPrice: dec("0.75"), Opens: MustClock("07:00"), Closes: MustClock("18:00")}
	in := time.Date(2026, 11, 30, 16, 0, 0, 0, brussels)
	out := in.Add(45 * time.Minute).UTC() // check-out in another zone: same instant
	if got, n := DaycareCharge(tariff, in, out); !got.Equal(dec("1.50")) || n != 2 {
		t.Errorf("got %s, %d; want 1.50, 2", got, n)
	}
}

func TestParseClock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Clock
		ok   bool
	}{
		{"07:30", 450, true}, {"00:00", 0, true}, {"24:00", 1440, true}, {"23:59", 1439, true},
		{"24:01", 0, false}, {"7:30", 0, false}, {"07:60", 0, false}, {"ab:cd", 0, false}, {"", 0, false}, {"-1:00", 0, false},
	} {
		got, err := ParseClock(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseClock(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("Clock(%q).String() = %q", tc.in, got.String())
		}
	}
}

func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"07:30", "24:00", "7:3", "99:99", "0a:00", "+1:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClock(s)
		if err != nil {
			return
		}
		if c < 0 || c > 1440 {
			t.Fatalf("ParseClock(%q) = %d out of range", s, c)
		}
		if back, err := ParseClock(c.String()); err != nil || back != c {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}
