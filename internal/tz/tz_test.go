package tz

import (
	"testing"
	"time"
)

func TestZones(t *testing.T) {
	if Brussels.String() != "Europe/Brussels" {
		t.Fatalf("Brussels = %v", Brussels)
	}
	// Summer and winter offsets come from the embedded database.
	for _, c := range []struct {
		day    time.Time
		offset int
	}{{time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC), 3600}, {time.Date(2027, 7, 1, 12, 0, 0, 0, time.UTC), 7200}} {
		if _, off := c.day.In(Of("")).Zone(); off != c.offset {
			t.Errorf("%v: offset %d, want %d", c.day, off, c.offset)
		}
	}
	if _, err := Load("Europe/Nowhere"); err == nil {
		t.Error("an unknown zone loads")
	}
	if Of("Europe/Nowhere") != Brussels || Of("Europe/Paris").String() != "Europe/Paris" {
		t.Error("Of: unknown names are Brussels, known ones themselves")
	}
}
