// Package tz gives the schools' time zones, with the zone database embedded
// in the binary (time/tzdata), so a machine without /usr/share/zoneinfo
// still computes school days, cut-offs and closing times in Brussels time.
// Nothing falls back to UTC: a zone name that does not load is an error
// where it is typed (a school's settings) and Brussels where it is read.
package tz

import (
	"fmt"
	"time"
	_ "time/tzdata" // the zone database, whatever the machine has
)

// Brussels is Europe/Brussels, the zone of the FWB's schools and the
// default of every school.
var Brussels = mustLoad("Europe/Brussels")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // the database is embedded: cannot happen
	}
	return loc
}

// Load returns the zone called name ("" is Brussels). It returns an error
// naming the zone when it does not exist.
func Load(name string) (*time.Location, error) {
	if name == "" {
		return Brussels, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// Of returns a stored school's zone: name, or Brussels when name is empty
// or unknown (names are checked when a school is saved, with Load).
func Of(name string) *time.Location {
	if loc, err := Load(name); err == nil {
		return loc
	}
	return Brussels
}
