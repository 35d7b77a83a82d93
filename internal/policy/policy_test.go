package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestDecode(t *testing.T) {
	with := func(mut func(*Policy)) Policy {
		p := Default()
		mut(&p)
		return p
	}
	tests := []struct {
		in      string
		want    Policy
		wantErr bool
	}{
		{"", Default(), false},
		{"{}", Default(), false},
		{"null", Default(), false},
		{`{"grace_amount": "10.00", "unbooked_meal": "normal"}`, Default(), false},
		{`{"some_future_key": [1, 2]}`, Default(), false},
		{`{"booking_cutoff": "17:30", "booking_cutoff_days_before": 2, "refund_after_cutoff": true,
		   "insufficient_funds": "refuse", "meal_no_show": "release", "wednesday_meals": true}`,
			with(func(p *Policy) {
				p.BookingCutoff, p.BookingCutoffDaysBefore, p.RefundAfterCutoff = "17:30", 2, true
				p.InsufficientFunds, p.MealNoShow, p.WednesdayMeals = FundsRefuse, NoShowRelease, true
			}), false},
		{`{"booking_cutoff_days_before": 0}`, with(func(p *Policy) { p.BookingCutoffDaysBefore = 0 }), false},
		{`{"grace_amount": "5.50", "unbooked_meal": "surcharge", "unbooked_surcharge": 1}`,
			with(func(p *Policy) {
				p.GraceAmount, p.UnbookedMeal, p.UnbookedSurcharge = decimal.RequireFromString("5.5"), UnbookedSurcharge, decimal.NewFromInt(1)
			}), false},
		{`{"sick_day_after_cutoff": "release"}`, with(func(p *Policy) { p.SickDayAfterCutoff = NoShowRelease }), false},
		{`{"sick_day_after_cutoff": "charge"}`, Default(), false},
		{`{"sick_day_after_cutoff": "free"}`, Policy{}, true},
		{`{"booking_cutoff": "9h"}`, Policy{}, true},
		{`{"booking_cutoff_days_before": 15}`, Policy{}, true},
		{`{"insufficient_funds": "maybe"}`, Policy{}, true},
		{`{"meal_no_show": "yes"}`, Policy{}, true},
		{`{"meal_no_show": "x"}`, Policy{}, true},
		{`{"daycare_no_show": "x"}`, Policy{}, true},
		{`{"wednesday_meals": "yes"}`, Policy{}, true},
		{`{"unbooked_meal": "maybe"}`, Policy{}, true},
		{`{"grace_amount": "-1"}`, Policy{}, true},
		{`{"grace_amount": "1.234"}`, Policy{}, true},
		{`{"grace_amount": "abc"}`, Policy{}, true},
		{`{"low_balance_threshold": "1000"}`, Policy{}, true},
		{`{"duplicate_window_seconds": -5}`, Policy{}, true},
		{`not json`, Policy{}, true},
		{`[`, Policy{}, true},
	}
	for _, tc := range tests {
		got, err := Decode([]byte(tc.in))
		if tc.wantErr {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%s) error = %v, want ErrInvalid", tc.in, err)
			}
			if !reflect.DeepEqual(got, Default()) {
				t.Errorf("Decode(%s) = %+v on error, want the defaults", tc.in, got)
			}
			continue
		}
		if err != nil || !equal(got, tc.want) {
			t.Errorf("Decode(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// equal compares policies with the amounts compared by value.
func equal(a, b Policy) bool {
	if !a.GraceAmount.Equal(b.GraceAmount) || !a.UnbookedSurcharge.Equal(b.UnbookedSurcharge) || !a.LowBalanceThreshold.Equal(b.LowBalanceThreshold) {
		return false
	}
	a.GraceAmount, a.UnbookedSurcharge, a.LowBalanceThreshold = decimal.Zero, decimal.Zero, decimal.Zero
	b.GraceAmount, b.UnbookedSurcharge, b.LowBalanceThreshold = decimal.Zero, decimal.Zero, decimal.Zero
	return a == b
}

func TestHelpers(t *testing.T) {
	p, err := Decode([]byte(`{"grace_amount": "5.50", "booking_cutoff": "17:45"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Floor(); !got.Equal(decimal.RequireFromString("-5.5")) {
		t.Errorf("Floor = %s, want -5.5", got)
	}
	p.HardFloor = true
	if got := p.Floor(); !got.IsZero() {
		t.Errorf("hard Floor = %s, want 0", got)
	}
	if got := p.DuplicateWindow(); got != 90*time.Second {
		t.Errorf("DuplicateWindow = %v", got)
	}
	if h, m := p.CutoffClock(); h != 17 || m != 45 {
		t.Errorf("CutoffClock = %d:%d, want 17:45", h, m)
	}
	if got, want := p.String(), "17:45, 1 open day(s) before"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// TestMergeKeepsUnknownKeys: a save writes the policy's keys and keeps every
// other key of the stored object (a key of a newer version, or one set by
// hand), so two writers of the column never wipe each other's keys.
func TestMergeKeepsUnknownKeys(t *testing.T) {
	p := Default()
	p.HardFloor = true
	p.BookingCutoff = "08:30"
	tests := []struct {
		stored string
		extra  map[string]any
	}{
		{"", nil},
		{"null", nil},
		{"{}", nil},
		{`{"hard_floor": false, "booking_cutoff": "10:00", "future_key": "kept", "nested": {"a": [1, 2]}}`,
			map[string]any{"future_key": "kept", "nested": map[string]any{"a": []any{1.0, 2.0}}}},
	}
	for _, tc := range tests {
		b, err := p.Merge([]byte(tc.stored))
		if err != nil {
			t.Fatalf("Merge(%s): %v", tc.stored, err)
		}
		got, err := Decode(b)
		if err != nil || !equal(got, p) {
			t.Errorf("Merge(%s) decodes to %+v, %v; want %+v", tc.stored, got, err, p)
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		for _, k := range Keys() {
			if _, ok := obj[k]; !ok {
				t.Errorf("Merge(%s) = %s: key %q missing", tc.stored, b, k)
			}
		}
		for k, want := range tc.extra {
			if !reflect.DeepEqual(obj[k], want) {
				t.Errorf("Merge(%s): %s = %v, want %v kept", tc.stored, k, obj[k], want)
			}
		}
		if len(obj) != len(Keys())+len(tc.extra) {
			t.Errorf("Merge(%s) = %s: %d keys, want %d", tc.stored, b, len(obj), len(Keys())+len(tc.extra))
		}
	}
	for _, bad := range []string{`[1]`, `"x"`, `{`} {
		if _, err := p.Merge([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Merge(%s) err = %v, want ErrInvalid", bad, err)
		}
	}
	bad := Default()
	bad.UnbookedMeal = "x"
	if _, err := bad.Merge(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Merge of an invalid policy err = %v, want ErrInvalid", err)
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	if len(keys) != reflect.TypeFor[Policy]().NumField() {
		t.Fatalf("Keys = %v", keys)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if k == "" || k == "-" || seen[k] {
			t.Errorf("key %q empty or repeated in %v", k, keys)
		}
		seen[k] = true
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "{}", `{"booking_cutoff":"08:15","booking_cutoff_days_before":3}`,
		`{"insufficient_funds":"refuse","meal_no_show":"release"}`, `{"booking_cutoff":"25:00"}`, `null`, `[1]`,
		`{"grace_amount":"5.5","unbooked_surcharge":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded policy %+v fails Validate: %v", p, err)
		}
		if h, m := p.CutoffClock(); h < 0 || h > 23 || m < 0 || m > 59 {
			t.Fatalf("cut-off %d:%d from %q", h, m, b)
		}
		if _, err := p.Merge(b); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Merge(%q): %v", b, err)
		}
	})
}
