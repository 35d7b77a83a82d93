package school

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// UnbookedMeal is what the canteen does with a pupil who has no booking.
type UnbookedMeal string

// Unbooked-meal policies.
const (
	UnbookedRefuse    UnbookedMeal = "refuse"    // no meal without a booking
	UnbookedNormal    UnbookedMeal = "normal"    // served at the unbooked price (default)
	UnbookedSurcharge UnbookedMeal = "surcharge" // served at the unbooked price plus UnbookedSurcharge
)

// NoShow is what the day-end job does with a booking nobody used.
type NoShow string

// No-show policies.
const (
	NoShowCharge  NoShow = "charge"  // post the hold: the booking is due
	NoShowRelease NoShow = "release" // void the hold: nothing is due
)

// Policy is a school's settings (DESIGN.md "Policies"), stored as JSON in
// schools.settings. A missing field takes its default (DefaultPolicy).
type Policy struct {
	// GraceAmount is how far below zero a wallet may go so that a child is
	// never refused food because of money (default 10.00 €).
	GraceAmount decimal.Decimal `json:"grace_amount"`
	// HardFloor forbids any negative wallet (floor 0) instead of the grace.
	HardFloor bool `json:"hard_floor"`
	// DuplicateWindowSeconds: a second tap of the same badge on the same
	// station within this window is a duplicate, not charged (default 90).
	DuplicateWindowSeconds int `json:"duplicate_window_seconds"`
	// UnbookedMeal: refuse | normal | surcharge (default normal).
	UnbookedMeal UnbookedMeal `json:"unbooked_meal"`
	// UnbookedSurcharge is added to the unbooked price under "surcharge".
	UnbookedSurcharge decimal.Decimal `json:"unbooked_surcharge"`
	// BookingCutoff is the local time of day ("09:00") on the school day
	// BookingCutoffDaysBefore days before the service day after which a
	// booking can no longer be changed (default 09:00, 1 day before).
	BookingCutoff           string `json:"booking_cutoff"`
	BookingCutoffDaysBefore int    `json:"booking_cutoff_days_before"`
	// RefundAfterCutoff allows cancelling with a refund after the cut-off
	// (default false: after the cut-off the booking is due).
	RefundAfterCutoff bool `json:"refund_after_cutoff"`
	// MealNoShow: booked meal not taken (default charge).
	MealNoShow NoShow `json:"meal_no_show"`
	// DaycareNoShow: booked daycare not attended (default release).
	DaycareNoShow NoShow `json:"daycare_no_show"`
	// LowBalanceThreshold: below it staff see a discreet mark and parents are
	// reminded (default 5.00 €).
	LowBalanceThreshold decimal.Decimal `json:"low_balance_threshold"`
	// WednesdayMeals: the canteen serves meals on Wednesdays (default
	// false: Wednesday afternoon is free in Belgian schools). booking reads
	// the same key: the portal offers, and the server accepts, a Wednesday
	// meal only when it is set.
	WednesdayMeals bool `json:"wednesday_meals"`
	// InsufficientFunds: a booking with a short wallet is allowed within the
	// grace ("allow", default) or refused ("refuse"); booking reads it.
	InsufficientFunds string `json:"insufficient_funds"`
}

// DefaultPolicy returns the safe defaults of DESIGN.md.
func DefaultPolicy() Policy {
	return Policy{
		GraceAmount:             decimal.RequireFromString("10.00"),
		DuplicateWindowSeconds:  90,
		UnbookedMeal:            UnbookedNormal,
		UnbookedSurcharge:       decimal.Zero,
		BookingCutoff:           "09:00",
		BookingCutoffDaysBefore: 1,
		MealNoShow:              NoShowCharge,
		DaycareNoShow:           NoShowRelease,
		LowBalanceThreshold:     decimal.RequireFromString("5.00"),
		InsufficientFunds:       "allow",
	}
}

// DecodePolicy reads schools.settings JSON over the defaults: missing
// fields keep their default. An empty input gives DefaultPolicy. It returns
// ErrInvalid (wrapped) for malformed JSON or a policy that fails Validate.
func DecodePolicy(b []byte) (Policy, error) {
	p := DefaultPolicy()
	if len(strings.TrimSpace(string(b))) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return DefaultPolicy(), invalid("school settings: %v", err)
	}
	if err := p.Validate(); err != nil {
		return DefaultPolicy(), err
	}
	return p, nil
}

func money(d decimal.Decimal) bool {
	return !d.IsNegative() && d.Equal(d.Round(2)) && d.LessThan(decimal.NewFromInt(1000))
}

// Validate checks every field and returns ErrInvalid (wrapped) naming the
// first bad one.
func (p Policy) Validate() error {
	switch {
	case !money(p.GraceAmount):
		return invalid("grace_amount %s: want 0 to 999.99 with at most two decimals", p.GraceAmount)
	case p.DuplicateWindowSeconds < 0 || p.DuplicateWindowSeconds > 3600:
		return invalid("duplicate_window_seconds %d: want 0 to 3600", p.DuplicateWindowSeconds)
	case p.UnbookedMeal != UnbookedRefuse && p.UnbookedMeal != UnbookedNormal && p.UnbookedMeal != UnbookedSurcharge:
		return invalid("unbooked_meal %q: want refuse, normal or surcharge", p.UnbookedMeal)
	case !money(p.UnbookedSurcharge):
		return invalid("unbooked_surcharge %s: want 0 to 999.99 with at most two decimals", p.UnbookedSurcharge)
	case p.BookingCutoffDaysBefore < 0 || p.BookingCutoffDaysBefore > 14:
		return invalid("booking_cutoff_days_before %d: want 0 to 14", p.BookingCutoffDaysBefore)
	case p.MealNoShow != NoShowCharge && p.MealNoShow != NoShowRelease:
		return invalid("meal_no_show %q: want charge or release", p.MealNoShow)
	case p.DaycareNoShow != NoShowCharge && p.DaycareNoShow != NoShowRelease:
		return invalid("daycare_no_show %q: want charge or release", p.DaycareNoShow)
	case p.InsufficientFunds != "allow" && p.InsufficientFunds != "refuse":
		return invalid("insufficient_funds %q: want allow or refuse", p.InsufficientFunds)
	case !money(p.LowBalanceThreshold):
		return invalid("low_balance_threshold %s: want 0 to 999.99 with at most two decimals", p.LowBalanceThreshold)
	}
	if _, _, err := p.cutoffClock(); err != nil {
		return err
	}
	return nil
}

func (p Policy) cutoffClock() (int, int, error) {
	t, err := time.Parse("15:04", p.BookingCutoff)
	if err != nil {
		return 0, 0, invalid("booking_cutoff %q: want HH:MM", p.BookingCutoff)
	}
	return t.Hour(), t.Minute(), nil
}

// Floor is the wallet floor this policy gives: −GraceAmount, or 0 under a
// hard floor.
func (p Policy) Floor() decimal.Decimal {
	if p.HardFloor {
		return decimal.Zero
	}
	return p.GraceAmount.Neg()
}

// DuplicateWindow is DuplicateWindowSeconds as a duration.
func (p Policy) DuplicateWindow() time.Duration {
	return time.Duration(p.DuplicateWindowSeconds) * time.Second
}

// Cutoff returns the booking cut-off for the service on day (its date is
// read in loc): BookingCutoff local time, BookingCutoffDaysBefore weekdays
// before day (Saturdays and Sundays are skipped; holidays are the
// calendar's business).
func (p Policy) Cutoff(day time.Time, loc *time.Location) time.Time {
	h, m, err := p.cutoffClock()
	if err != nil {
		d := DefaultPolicy()
		h, m, _ = d.cutoffClock()
	}
	y, mo, dd := day.In(loc).Date()
	d := time.Date(y, mo, dd, 12, 0, 0, 0, loc)
	for n := p.BookingCutoffDaysBefore; n > 0; {
		d = d.AddDate(0, 0, -1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, loc)
}

// MarshalSettings returns the policy as schools.settings JSON.
func (p Policy) MarshalSettings() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return b, nil
}
