// Package testclock gives tests a clock that can be pinned to any date, so
// that a test passes on a Saturday, on 1 January and in July alike.
//
// Tests that depend on "today" (calendars, cut-offs, day end, the demo
// seed, school years) take their clock from Now instead of time.Now. By
// default it is the real clock; with TARTINE_TEST_NOW set it starts at that
// instant and advances with real time, so timeouts and durations behave as
// usual. `make test-dates` runs the date-sensitive packages at a fixed set of
// hard dates (1 January, a Saturday, a Wednesday, the summer holidays, both
// DST changes, 29 February).
package testclock

import (
	"fmt"
	"os"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Brussels on any machine
)

// Env is the variable that pins the tests' clock: an RFC 3339 instant
// (2027-01-01T07:30:00+01:00) or a date (2027-01-01), taken at 10:00 in
// Brussels.
const Env = "TARTINE_TEST_NOW"

var (
	once  sync.Once
	start time.Time
	real0 time.Time
	err   error
)

// Brussels is the schools' time zone.
var Brussels = mustLoad("Europe/Brussels")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is embedded: cannot happen
	}
	return loc
}

// Parse reads a value of TARTINE_TEST_NOW.
func Parse(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, Brussels)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q: want an RFC 3339 time or a date (YYYY-MM-DD)", Env, v)
	}
	return d.Add(10 * time.Hour), nil
}

func load() {
	real0 = time.Now()
	start = real0
	if v := os.Getenv(Env); v != "" {
		start, err = Parse(v)
	}
}

// Now is the tests' clock: the real time, or the pinned instant plus the
// time elapsed since the test process first asked. An invalid
// TARTINE_TEST_NOW panics: a test run must not silently use the real date.
//
// It is in UTC, like a server's clock: code that takes the calendar date of
// an instant without converting it to the school's zone shows up between
// midnight and 01:00 or 02:00 in Brussels (the pinned 00:30 dates).
func Now() time.Time {
	once.Do(load)
	if err != nil {
		panic(err)
	}
	return start.Add(time.Since(real0)).UTC()
}

// Pinned reports whether TARTINE_TEST_NOW is set.
func Pinned() bool { return os.Getenv(Env) != "" }

// Today is Now's date at midnight in Brussels.
func Today() time.Time {
	n := Now().In(Brussels)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, Brussels)
}
