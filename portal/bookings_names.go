package portal

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/mail"
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

// serviceNames are a tenant's meal type names by code, for the booking
// confirmations: « Potage », not « repas », for a soup booked.
type serviceNames map[booking.Service]string

// line is a confirmation's line for a service booked or cancelled on day.
func (n serviceNames) line(day time.Time, s booking.Service, price decimal.Decimal) mail.BookingLine {
	l := mail.BookingLine{Date: day, Service: serviceKind(s), Price: price}
	if !s.IsDaycare() {
		l.Name = n[s]
	}
	return l
}

// mealNamesTTL is how long a tenant's meal type names are kept in memory
// (a book or cancel at the rush reads none).
const mealNamesTTL = time.Minute

type mealNamesCache struct {
	mu sync.Mutex
	m  map[int64]cachedNames
}

type cachedNames struct {
	names serviceNames
	at    time.Time
}

// mealNames is the tenant's meal type names, from memory when read less
// than mealNamesTTL ago. On a database error it is empty: the
// confirmation then names the service's kind (« repas »). Call it outside
// a transaction (it may use a pool connection).
func (a *App) mealNames(ctx context.Context, tenantID int64) serviceNames {
	c := &a.mealNamesCache
	c.mu.Lock()
	e, ok := c.m[tenantID]
	c.mu.Unlock()
	if ok && time.Since(e.at) < mealNamesTTL {
		return e.names
	}
	mts, err := a.Booking.MealTypes(ctx, tenantID)
	if err != nil {
		a.Log.Warn("portal: meal type names for a confirmation", "tenant", tenantID, "err", err)
		return nil
	}
	names := make(serviceNames, len(mts))
	for _, mt := range mts {
		names[booking.Service(mt.Code)] = strings.TrimSpace(mt.Name)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10_000 {
		c.m = map[int64]cachedNames{}
	}
	c.m[tenantID] = cachedNames{names: names, at: time.Now()}
	c.mu.Unlock()
	return names
}
