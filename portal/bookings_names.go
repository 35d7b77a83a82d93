package portal

import (
	"strings"

	"tartine/booking"
)

// Service names are words, never codes (issue 14): page.ServiceLabel asks
// the page's data for the meal type's name (« Potage », as the history
// names it: booking's meal types), so a page that lists services carries
// the meal types it read.

// mealNamer is page data that knows the names of the meal types it shows.
type mealNamer interface {
	// mealName is the meal type's name, "" when unknown.
	mealName(code string) string
}

// mealName is the name of the month's meal type code.
func (d bookingsData) mealName(code string) string {
	for _, mt := range d.Meals {
		if mt.Code == code {
			return strings.TrimSpace(mt.Name)
		}
	}
	return ""
}

// mealName is the name the form gives the service.
func (d familyData) mealName(code string) string { return d.Names[booking.Service(code)] }
