package booking

import (
	"errors"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    Policy
		wantErr bool
	}{
		{"", DefaultPolicy(), false},
		{"{}", DefaultPolicy(), false},
		{`{"grace_amount": "10.00", "unbooked_meal": "normal"}`, DefaultPolicy(), false},
		{`{"booking_cutoff": "17:30", "booking_cutoff_days_before": 2, "refund_after_cutoff": true,
		   "insufficient_funds": "refuse", "meal_no_show": "release", "wednesday_meals": true}`,
			Policy{CutoffHour: 17, CutoffMinute: 30, CutoffDaysBefore: 2, RefundAfterCutoff: true, InsufficientFunds: FundsRefuse, WednesdayMeals: true}, false},
		{`{"booking_cutoff_days_before": 0}`, Policy{CutoffHour: 9, InsufficientFunds: FundsAllow, NoShowCharged: true}, false},
		{`{"booking_cutoff": "9h"}`, Policy{}, true},
		{`{"booking_cutoff_days_before": 15}`, Policy{}, true},
		{`{"insufficient_funds": "maybe"}`, Policy{}, true},
		{`{"meal_no_show": "yes"}`, Policy{}, true},
		{`{"wednesday_meals": "yes"}`, Policy{}, true},
		{`{"sick_day_after_cutoff": "release"}`, Policy{CutoffHour: 9, CutoffDaysBefore: 1, InsufficientFunds: FundsAllow, NoShowCharged: true, SickReleaseAfterCutoff: true}, false},
		{`{"sick_day_after_cutoff": "charge"}`, DefaultPolicy(), false},
		{`{"sick_day_after_cutoff": "free"}`, Policy{}, true},
		{`[`, Policy{}, true},
	}
	for _, tc := range tests {
		got, err := ParsePolicy([]byte(tc.in))
		if tc.wantErr {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParsePolicy(%s) error = %v, want ErrInvalid", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePolicy(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"", "{}", `{"booking_cutoff":"08:15","booking_cutoff_days_before":3}`,
		`{"insufficient_funds":"refuse","meal_no_show":"release"}`, `{"booking_cutoff":"25:00"}`, `null`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if p.CutoffHour < 0 || p.CutoffHour > 23 || p.CutoffMinute < 0 || p.CutoffMinute > 59 || p.CutoffDaysBefore < 0 || p.CutoffDaysBefore > 14 {
			t.Fatalf("out-of-range policy %+v from %q", p, b)
		}
		if p.InsufficientFunds != FundsAllow && p.InsufficientFunds != FundsRefuse {
			t.Fatalf("funds policy %q", p.InsufficientFunds)
		}
	})
}
