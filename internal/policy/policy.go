// Package policy is a school's rules (DESIGN.md "Policies"): the one type
// that reads and writes the schools.settings JSON column. school stores it
// (and moves the wallets' floor), booking and the tap pipeline read it, the
// back office edits every key on one page.
//
// The column is a JSON object of named keys. Decode reads it over the safe
// defaults (a missing key keeps its default, an unknown key is ignored);
// Merge writes a policy's keys over the stored object and keeps every other
// key, so a key this version does not know (written by a newer one, or by
// hand) is never dropped by a save. Validate names the first bad key; every
// error wraps ErrInvalid.
//
// The package imports no other package of the project: school, booking and
// the web packages all depend on it, it depends on none of them.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// ErrInvalid is wrapped by every error of a malformed or out-of-range policy.
var ErrInvalid = errors.New("policy: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

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

// Funds says what a booking does when the wallet is short.
type Funds string

// Insufficient-funds policies.
const (
	// FundsAllow books while the hold keeps the wallet at or above its floor
	// (which may be −grace): the ledger enforces the floor. Default.
	FundsAllow Funds = "allow"
	// FundsRefuse books only when the available balance covers the price
	// without dipping into the grace (available − price ≥ 0).
	FundsRefuse Funds = "refuse"
)

// Policy is a school's rules, stored as JSON in schools.settings; the JSON
// key of each field is its tag. A missing key takes its default (Default).
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
	// BookingCutoff is the local time of day ("09:00") on the open school
	// day BookingCutoffDaysBefore open school days before the service day
	// after which a booking can no longer be made or changed (default
	// 09:00, 1 day before; 0 days means the day itself; 0 to 14).
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
	// false: Wednesday afternoon is free in Belgian schools). The portal
	// offers, and booking accepts, a Wednesday meal only when it is set.
	WednesdayMeals bool `json:"wednesday_meals"`
	// InsufficientFunds: a booking with a short wallet is allowed within the
	// grace ("allow", default) or refused ("refuse").
	InsufficientFunds Funds `json:"insufficient_funds"`
	// SickDayAfterCutoff: what a sick day reported by the family after the
	// cut-off does to that day's bookings: "charge" (default: they stand,
	// charged as no-shows at day end) or "release" (cancelled, holds
	// voided). Before the cut-off a sick day always releases them.
	SickDayAfterCutoff NoShow `json:"sick_day_after_cutoff"`
}

// Default returns the safe defaults of DESIGN.md.
func Default() Policy {
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
		InsufficientFunds:       FundsAllow,
		SickDayAfterCutoff:      NoShowCharge,
	}
}

// Keys returns the JSON key of every field of Policy, in field order: the
// keys a save writes and the back office must show.
func Keys() []string {
	t := reflect.TypeFor[Policy]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	return keys
}

// Decode reads schools.settings JSON over the defaults: missing keys keep
// their default, unknown keys are ignored. An empty input (or JSON null)
// gives Default. It returns ErrInvalid (wrapped) for malformed JSON or a
// policy that fails Validate, with Default as the policy.
func Decode(b []byte) (Policy, error) {
	p := Default()
	if len(strings.TrimSpace(string(b))) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return Default(), invalid("school settings: %v", err)
	}
	if err := p.Validate(); err != nil {
		return Default(), err
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
	case p.InsufficientFunds != FundsAllow && p.InsufficientFunds != FundsRefuse:
		return invalid("insufficient_funds %q: want allow or refuse", p.InsufficientFunds)
	case p.SickDayAfterCutoff != NoShowCharge && p.SickDayAfterCutoff != NoShowRelease:
		return invalid("sick_day_after_cutoff %q: want charge or release", p.SickDayAfterCutoff)
	case !money(p.LowBalanceThreshold):
		return invalid("low_balance_threshold %s: want 0 to 999.99 with at most two decimals", p.LowBalanceThreshold)
	}
	if _, err := time.Parse("15:04", p.BookingCutoff); err != nil {
		return invalid("booking_cutoff %q: want HH:MM", p.BookingCutoff)
	}
	return nil
}

// CutoffClock returns the hour and minute of BookingCutoff; a policy that
// fails Validate gives the default's 09:00.
func (p Policy) CutoffClock() (hour, minute int) {
	t, err := time.Parse("15:04", p.BookingCutoff)
	if err != nil {
		return 9, 0
	}
	return t.Hour(), t.Minute()
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

// String describes the cut-off rule, e.g. "09:00, 1 open day(s) before".
func (p Policy) String() string {
	h, m := p.CutoffClock()
	return fmt.Sprintf("%02d:%02d, %d open day(s) before", h, m, p.BookingCutoffDaysBefore)
}

// Merge returns stored (schools.settings JSON) with every key of p written
// over it and every other key kept as it was. stored may be empty or JSON
// null (an empty object). It returns ErrInvalid (wrapped) when p fails
// Validate or stored is not a JSON object.
func (p Policy) Merge(stored []byte) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	obj := map[string]json.RawMessage{}
	if len(strings.TrimSpace(string(stored))) > 0 {
		if err := json.Unmarshal(stored, &obj); err != nil {
			return nil, invalid("school settings: not a JSON object: %v", err)
		}
		if obj == nil {
			obj = map[string]json.RawMessage{}
		}
	}
	own, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var mine map[string]json.RawMessage
	if err := json.Unmarshal(own, &mine); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	for k, v := range mine {
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return b, nil
}
