package booking

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// FundsPolicy says what a booking does when the wallet is short.
type FundsPolicy string

// Insufficient-funds policies.
const (
	// FundsAllow books while the hold keeps the wallet at or above its floor
	// (which may be −grace): the ledger enforces the floor. Default.
	FundsAllow FundsPolicy = "allow"
	// FundsRefuse books only when the available balance covers the price
	// without dipping into the grace (available − price ≥ 0).
	FundsRefuse FundsPolicy = "refuse"
)

// Policy is the booking part of a school's settings (schools.settings JSON).
// Keys shared with school.Policy keep its names and meaning.
type Policy struct {
	// CutoffHour, CutoffMinute: local time of the cut-off (key
	// "booking_cutoff", "HH:MM", default "09:00").
	CutoffHour, CutoffMinute int
	// CutoffDaysBefore: the cut-off is on the open school day that many
	// open school days before the booked day; 0 means the day itself (key
	// "booking_cutoff_days_before", default 1, 0–14).
	CutoffDaysBefore int
	// RefundAfterCutoff allows cancelling with a refund after the cut-off
	// (key "refund_after_cutoff", default false).
	RefundAfterCutoff bool
	// InsufficientFunds: allow or refuse (key "insufficient_funds", default allow).
	InsufficientFunds FundsPolicy
	// NoShowCharged: the day-end job posts an unconsumed meal hold (key
	// "meal_no_show": "charge" default, or "release").
	NoShowCharged bool
	// WednesdayMeals: the canteen serves meals on Wednesdays (key
	// "wednesday_meals", default false: Wednesday afternoon is free in
	// Belgian schools).
	WednesdayMeals bool
	// SickReleaseAfterCutoff: a sick day reported after the cut-off
	// releases that day's bookings (their holds are voided) instead of
	// keeping them, charged as no-shows at day end (key
	// "sick_day_after_cutoff": "charge" default, or "release"). Before the
	// cut-off a sick day always releases them.
	SickReleaseAfterCutoff bool
}

// DefaultPolicy returns the defaults of DESIGN.md.
func DefaultPolicy() Policy {
	return Policy{CutoffHour: 9, CutoffDaysBefore: 1, InsufficientFunds: FundsAllow, NoShowCharged: true}
}

// ParsePolicy reads the booking policy from schools.settings JSON; missing
// keys keep their defaults and other keys are ignored. It returns ErrInvalid
// (wrapped) naming the first bad key.
func ParsePolicy(settings []byte) (Policy, error) {
	p := DefaultPolicy()
	if strings.TrimSpace(string(settings)) == "" {
		return p, nil
	}
	var raw struct {
		Cutoff            *string `json:"booking_cutoff"`
		DaysBefore        *int    `json:"booking_cutoff_days_before"`
		RefundAfterCutoff *bool   `json:"refund_after_cutoff"`
		InsufficientFunds *string `json:"insufficient_funds"`
		MealNoShow        *string `json:"meal_no_show"`
		WednesdayMeals    *bool   `json:"wednesday_meals"`
		SickAfterCutoff   *string `json:"sick_day_after_cutoff"`
	}
	if err := json.Unmarshal(settings, &raw); err != nil {
		return DefaultPolicy(), invalid("school settings: %v", err)
	}
	if raw.Cutoff != nil {
		t, err := time.Parse("15:04", *raw.Cutoff)
		if err != nil {
			return DefaultPolicy(), invalid("booking_cutoff %q: want HH:MM", *raw.Cutoff)
		}
		p.CutoffHour, p.CutoffMinute = t.Hour(), t.Minute()
	}
	if raw.DaysBefore != nil {
		if *raw.DaysBefore < 0 || *raw.DaysBefore > 14 {
			return DefaultPolicy(), invalid("booking_cutoff_days_before %d: want 0 to 14", *raw.DaysBefore)
		}
		p.CutoffDaysBefore = *raw.DaysBefore
	}
	if raw.RefundAfterCutoff != nil {
		p.RefundAfterCutoff = *raw.RefundAfterCutoff
	}
	if raw.InsufficientFunds != nil {
		switch f := FundsPolicy(*raw.InsufficientFunds); f {
		case FundsAllow, FundsRefuse:
			p.InsufficientFunds = f
		default:
			return DefaultPolicy(), invalid("insufficient_funds %q: want allow or refuse", *raw.InsufficientFunds)
		}
	}
	if raw.MealNoShow != nil {
		switch *raw.MealNoShow {
		case "charge":
			p.NoShowCharged = true
		case "release":
			p.NoShowCharged = false
		default:
			return DefaultPolicy(), invalid("meal_no_show %q: want charge or release", *raw.MealNoShow)
		}
	}
	if raw.WednesdayMeals != nil {
		p.WednesdayMeals = *raw.WednesdayMeals
	}
	if raw.SickAfterCutoff != nil {
		switch *raw.SickAfterCutoff {
		case "charge":
			p.SickReleaseAfterCutoff = false
		case "release":
			p.SickReleaseAfterCutoff = true
		default:
			return DefaultPolicy(), invalid("sick_day_after_cutoff %q: want charge or release", *raw.SickAfterCutoff)
		}
	}
	return p, nil
}

// String describes the cut-off rule, e.g. "09:00, 1 open day before".
func (p Policy) String() string {
	return fmt.Sprintf("%02d:%02d, %d open day(s) before", p.CutoffHour, p.CutoffMinute, p.CutoffDaysBefore)
}
