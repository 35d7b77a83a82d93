package booking

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// Clock is a wall-clock time of day in minutes after midnight (0–1440).
type Clock int

// ParseClock reads "HH:MM" (00:00–24:00). It returns ErrInvalid (wrapped).
func ParseClock(s string) (Clock, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, invalid("time %q: want HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, invalid("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	return Clock(h*60 + m), nil
}

// MustClock is ParseClock for constants; it panics on a bad value.
func MustClock(s string) Clock {
	c, err := ParseClock(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String formats c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// On returns the instant of c on day's date in loc.
func (c Clock) On(day time.Time, loc *time.Location) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, int(c)/60, int(c)%60, 0, 0, loc)
}

// MarshalJSON writes "HH:MM".
func (c Clock) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// UnmarshalJSON reads "HH:MM".
func (c *Clock) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalid("time: %v", err)
	}
	v, err := ParseClock(s)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Window is a free daycare window [From, To) (e.g. 15:30–15:45, the grace
// after school), during which no period is counted.
type Window struct {
	From  Clock  `json:"from"`
	To    Clock  `json:"to"`
	Label string `json:"label,omitempty"`
}

// DaycareTariff is a school's daycare tariff effective from ValidFrom to
// ValidTo (inclusive; nil: open-ended), for Level ("*", a cycle "M"/"P"/"S",
// or an exact level "P3").
type DaycareTariff struct {
	ID            int64
	SchoolID      int64
	Level         string
	PeriodMinutes int             // default 30
	PeriodPrice   decimal.Decimal // price per started period; may carry more than cents
	DailyCap      *decimal.Decimal
	Opens, Closes Clock // 07:00, 18:00
	FreeWindows   []Window
	ValidFrom     time.Time
	ValidTo       *time.Time
}

// Validate checks the tariff and returns ErrInvalid (wrapped) naming the
// first bad field.
func (t DaycareTariff) Validate() error {
	switch {
	case t.PeriodMinutes < 1 || t.PeriodMinutes > 720:
		return invalid("daycare period %d min: want 1 to 720", t.PeriodMinutes)
	case t.PeriodPrice.IsNegative():
		return invalid("daycare period price %s: must not be negative", t.PeriodPrice)
	case t.DailyCap != nil && (t.DailyCap.IsNegative() || !t.DailyCap.Equal(t.DailyCap.Round(2))):
		return invalid("daycare daily cap %s: want a non-negative amount in cents", t.DailyCap)
	case t.Opens < 0 || t.Closes > 24*60 || t.Closes <= t.Opens:
		return invalid("daycare hours %s–%s: closing must follow opening", t.Opens, t.Closes)
	case !validLevel(t.Level):
		return invalid("level %q: want *, M, P, S or an exact level such as P3", t.Level)
	case t.ValidFrom.IsZero():
		return invalid("daycare tariff needs a valid-from date")
	case t.ValidTo != nil && civil(*t.ValidTo).Before(civil(t.ValidFrom)):
		return invalid("daycare tariff valid-to %s before valid-from %s", t.ValidTo.Format(time.DateOnly), t.ValidFrom.Format(time.DateOnly))
	}
	for _, w := range t.FreeWindows {
		if w.From < 0 || w.To > 24*60 || w.To <= w.From {
			return invalid("free window %s–%s: the end must follow the start", w.From, w.To)
		}
	}
	return nil
}

// DaycareCharge returns what a daycare session costs under tariff t, and
// the number of periods counted. Rule:
//
//  1. The session [checkIn, checkOut) is read in checkIn's location (pass
//     school-local times) and clipped to the opening hours of checkIn's
//     day: nothing is counted before Opens or after Closes (a check-out
//     after closing is billed up to closing; a late-pickup fee is not this
//     function's business). A check-out at or before check-in costs 0.
//  2. Free windows are taken out; what remains is the billable time,
//     counted in whole minutes (a started minute is not counted, so taps
//     seconds apart never start a period).
//  3. Periods = billable minutes divided by PeriodMinutes, rounded up: every
//     started period counts; exactly 30 minutes is one period of 30.
//  4. Amount = min(periods × PeriodPrice, DailyCap), rounded once to cents,
//     half up.
func DaycareCharge(t DaycareTariff, checkIn, checkOut time.Time) (amount decimal.Decimal, periods int) {
	if !checkOut.After(checkIn) || t.PeriodMinutes <= 0 {
		return decimal.Zero, 0
	}
	loc := checkIn.Location()
	out := checkOut.In(loc)
	open, closing := t.Opens.On(checkIn, loc), t.Closes.On(checkIn, loc)
	from, to := maxTime(checkIn, open), minTime(out, closing)
	if !to.After(from) {
		return decimal.Zero, 0
	}
	billable := to.Sub(from)
	for _, w := range mergeWindows(t.FreeWindows) {
		ws, we := maxTime(w.From.On(checkIn, loc), from), minTime(w.To.On(checkIn, loc), to)
		if we.After(ws) {
			billable -= we.Sub(ws)
		}
	}
	minutes := int(billable / time.Minute)
	periods = (minutes + t.PeriodMinutes - 1) / t.PeriodMinutes
	amount = t.PeriodPrice.Mul(decimal.NewFromInt(int64(periods)))
	if t.DailyCap != nil && amount.GreaterThan(*t.DailyCap) {
		amount = *t.DailyCap
	}
	return amount.Round(2), periods
}

// mergeWindows sorts and merges overlapping windows so that no minute is
// taken out twice.
func mergeWindows(ws []Window) []Window {
	s := append([]Window(nil), ws...)
	sort.Slice(s, func(i, j int) bool { return s[i].From < s[j].From })
	var out []Window
	for _, w := range s {
		if w.To <= w.From {
			continue
		}
		if n := len(out); n > 0 && w.From <= out[n-1].To {
			if w.To > out[n-1].To {
				out[n-1].To = w.To
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
