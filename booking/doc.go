// Package booking is the school's service offer and what families book of
// it: meal types and daycare with effective-dated tariffs, the school
// calendar (FWB template plus edits), menus with allergens, and bookings of
// meals and daycare that hold money on the pupil's wallet in the ledger.
//
// # Days
//
// A day is a civil date. Functions taking a day use only its year, month
// and day (read in the time's own location) and store it as a PostgreSQL
// date. Times of day (cut-off, daycare windows) are wall-clock times in the
// school's time zone (schools.timezone, Europe/Brussels by default).
//
// # Money
//
// A meal booking places a ledger hold of the booked price on the pupil's
// wallet (idempotency key "booking:<id>"). The tap consumes it through
// Manager.Consume, which posts the hold to revenue:meals (key "tap:<tap
// id>"); the day-end job (Manager.DayEnd) posts unconsumed holds as no-shows
// (key "noshow:<id>", kind "meal-noshow") or voids them, per policy.
// Free-meal pupils book with no hold; their consumed meal is charged to
// subsidy:fwb-meals at the tariff price. Daycare bookings hold nothing: the
// amount depends on the time spent, and the terminal bills it at check-out
// with DaycareCharge.
//
// # Policy
//
// Booking rules are a school's policy (internal/policy, the one type of
// schools.settings that school stores and the back office edits): cut-off,
// refund after the cut-off, short wallets, no-shows, Wednesday meals, sick
// days reported after the cut-off.
package booking
