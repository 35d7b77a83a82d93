package backoffice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/school"
)

// Tariffs (/admin/tariffs, admins only): a school's meal tariffs per meal
// type and its daycare tariffs, current ones first, future ones next, past
// ones greyed, and two forms that add a tariff effective from a day
// (booking.Manager.AddMealTariff, AddDaycareTariff). Tariffs are never
// edited or deleted: a new tariff with the same meal type and level pattern
// supersedes the older one from its first day, which keeps the price of
// every past meal explainable. A new tariff starts today at the earliest.
// A running or future tariff may be ended without a replacement, from
// tomorrow at the earliest (booking.Manager.EndMealTariff,
// EndDaycareTariff): from that day the service has no price for that level
// (unless a wider level pattern has one), so it can no longer be booked
// (booking.ErrNoTariff) nor taken unbooked at the canteen (refused,
// "no_tariff"); bookings already made stay, and the confirmation says how
// many. That confirmation offers a second, explicit action: cancel those
// bookings (booking.Manager.CancelUnpriced: holds voided, no family
// cut-off) and email each family the cancelled days and the amount
// released (Deps.Families). It is a second step rather than part of the
// end so that the admin sees how many families are concerned before
// anything is cancelled, and may first add a tariff that prices them
// instead.

// CancellationNotifier tells the families about bookings the school
// cancelled: one email per guardian listing the cancelled days and the
// amount released (portal.App implements it).
type CancellationNotifier interface {
	BookingsCancelledBySchool(ctx context.Context, tenantID int64, cancelled []booking.Cancellation) error
}

// tariffLevelRE is booking's rule for level patterns, checked here first so
// that people get the reason in their language.
var tariffLevelRE = regexp.MustCompile(`^(\*|[MPS]|M[1-3]|P[1-6]|S[1-6])$`)

// tariffState is where a tariff stands on the day the page is shown.
type tariffState int

const (
	tariffCurrent tariffState = iota // applies today
	tariffFuture                     // starts later
	tariffPast                       // ended, or superseded by a newer one
)

// Current reports whether the tariff applies today (for the templates).
func (s tariffState) Current() bool { return s == tariffCurrent }

// Future reports whether the tariff starts later.
func (s tariffState) Future() bool { return s == tariffFuture }

// Past reports whether the tariff ended or was superseded.
func (s tariffState) Past() bool { return s == tariffPast }

// mealTariffRow is a meal tariff and its state.
type mealTariffRow struct {
	booking.MealTariff
	tariffState
}

// daycareTariffRow is a daycare tariff and its state.
type daycareTariffRow struct {
	booking.DaycareTariff
	tariffState
}

// levelKey is the catalogue key naming a level pattern that is not an
// exact level: every level, or a cycle.
func levelKey(level string) string {
	if level == "*" {
		return "tariffs.level_of.any"
	}
	return "tariffs.level_of." + level
}

// LevelKey names the row's level pattern (for the templates).
func (r mealTariffRow) LevelKey() string { return levelKey(r.Level) }

// LevelKey names the row's level pattern (for the templates).
func (r daycareTariffRow) LevelKey() string { return levelKey(r.Level) }

// mealTypeTariffs is a meal type with its tariffs.
type mealTypeTariffs struct {
	booking.MealType
	Tariffs []mealTariffRow
}

// mealTariffForm is the meal tariff form as typed.
type mealTariffForm struct {
	MealType, Level, Booked, Unbooked, From string
}

// daycareTariffForm is the daycare tariff form as typed.
type daycareTariffForm struct {
	Level, Period, Price, Cap, Opens, Closes, FreeFrom, FreeTo, From string
}

type tariffsData struct {
	Schools []school.School
	School  school.School
	Today   time.Time
	Meals   []mealTypeTariffs
	Daycare []daycareTariffRow
	Meal    mealTariffForm
	Care    daycareTariffForm
	Field   string // the field an error is about: "meal.booked", "daycare.opens", "end.meal.12"…
	Done    string // confirmation after a redirect
	Warn    string // warning after a redirect: bookings left without a tariff
	EndKind string // "meal" or "daycare": the end form shown again
	EndID   int64  // the tariff of that end form
	EndFrom string // the end day as typed
	// Offers are the forms cancelling the bookings that ended tariffs left
	// without a price, one per service with such bookings from today on.
	Offers []cancelOffer
}

// cancelOffer is the form cancelling the bookings of a service that ended
// tariffs left without a price.
type cancelOffer struct {
	Kind    string // "meal" or "daycare"
	ID      int64  // the service's most recently ended tariff
	Service string // the meal type's name; "" for daycare
	Count   int    // bookings from today on that no tariff prices any more
	code    string // the meal type's code
}

// endedTariff finds the tariff kind/id among the page's tariffs and returns
// its service (meal type, or "daycare"); ok is false when it is not there,
// ended false when it has no last day.
func (d tariffsData) endedTariff(kind string, id int64) (service string, ok, ended bool) {
	switch kind {
	case "meal":
		for _, g := range d.Meals {
			for _, t := range g.Tariffs {
				if t.ID == id {
					return t.MealType, true, t.ValidTo != nil
				}
			}
		}
	case "daycare":
		for _, t := range d.Daycare {
			if t.ID == id {
				return "daycare", true, t.ValidTo != nil
			}
		}
	}
	return "", false, false
}

// Endable reports whether the row may be ended: it runs today or later and
// has no last day yet (for the templates).
func (s tariffState) Endable(validTo *time.Time) bool { return s != tariffPast && validTo == nil }

// tariffKey identifies the tariffs that supersede one another: same meal
// type (or daycare) and same level pattern.
type tariffKey struct{ service, level string }

// tariffStates says, for tariffs listed with their key, validity and id,
// which one applies today: among the tariffs of a key covering today the
// latest ValidFrom (then the highest id) wins, as in MealTariffFor.
func tariffStates(today time.Time, n int, at func(i int) (tariffKey, time.Time, *time.Time, int64)) []tariffState {
	type best struct {
		from time.Time
		id   int64
	}
	winners := map[tariffKey]best{}
	for i := range n {
		k, from, to, id := at(i)
		if from.After(today) || (to != nil && civilDay(*to).Before(today)) {
			continue
		}
		if b, ok := winners[k]; !ok || from.After(b.from) || (from.Equal(b.from) && id > b.id) {
			winners[k] = best{from, id}
		}
	}
	out := make([]tariffState, n)
	for i := range n {
		k, from, _, id := at(i)
		switch b := winners[k]; {
		case civilDay(from).After(today):
			out[i] = tariffFuture
		case b.id == id:
			out[i] = tariffCurrent
		default:
			out[i] = tariffPast
		}
	}
	return out
}

// tariffsData loads the school's meal types and tariffs.
func (a *App) tariffsData(c *gin.Context, schoolID int64) (tariffsData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := tariffsData{Today: civilDay(a.Now().In(brussels()))}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, schoolID); err != nil {
		return d, err
	}
	types, err := a.Booking.MealTypes(ctx, u.TenantID)
	if err != nil {
		return d, err
	}
	meals, err := a.Booking.MealTariffs(ctx, u.TenantID, d.School.ID)
	if err != nil {
		return d, err
	}
	care, err := a.Booking.DaycareTariffs(ctx, u.TenantID, d.School.ID)
	if err != nil {
		return d, err
	}
	ms := tariffStates(d.Today, len(meals), func(i int) (tariffKey, time.Time, *time.Time, int64) {
		t := meals[i]
		return tariffKey{t.MealType, t.Level}, civilDay(t.ValidFrom), t.ValidTo, t.ID
	})
	for _, mt := range types {
		g := mealTypeTariffs{MealType: mt}
		for i, t := range meals {
			if t.MealType == mt.Code {
				g.Tariffs = append(g.Tariffs, mealTariffRow{MealTariff: t, tariffState: ms[i]})
			}
		}
		slices.SortStableFunc(g.Tariffs, func(x, y mealTariffRow) int { return int(x.tariffState) - int(y.tariffState) })
		d.Meals = append(d.Meals, g)
	}
	cs := tariffStates(d.Today, len(care), func(i int) (tariffKey, time.Time, *time.Time, int64) {
		t := care[i]
		return tariffKey{"daycare", t.Level}, civilDay(t.ValidFrom), t.ValidTo, t.ID
	})
	for i, t := range care {
		d.Daycare = append(d.Daycare, daycareTariffRow{DaycareTariff: t, tariffState: cs[i]})
	}
	slices.SortStableFunc(d.Daycare, func(x, y daycareTariffRow) int { return int(x.tariffState) - int(y.tariffState) })
	if err := a.cancelOffers(c, &d); err != nil {
		return d, err
	}
	from := d.Today.Format(time.DateOnly)
	d.Meal = mealTariffForm{Level: "*", From: from}
	if len(types) > 0 {
		d.Meal.MealType = types[0].Code
	}
	d.Care = daycareTariffForm{Level: "*", Period: "30", Opens: "07:00", Closes: "18:00", From: from}
	return d, nil
}

// cancelOffers fills d.Offers: for each service with an ended tariff, the
// bookings from today on that no tariff prices any more, if any.
func (a *App) cancelOffers(c *gin.Context, d *tariffsData) error {
	ctx := c.Request.Context()
	u := user(c)
	offer := func(kind, service, name string, id int64) error {
		n, err := a.Booking.CountUnpriced(ctx, u.TenantID, d.School.ID, service, d.Today)
		if err == nil && n > 0 {
			d.Offers = append(d.Offers, cancelOffer{Kind: kind, ID: id, Service: name, Count: n, code: service})
		}
		return err
	}
	latest := func(id int64, to *time.Time, best *time.Time, bestID *int64) {
		if to != nil && (best.IsZero() || to.After(*best)) {
			*best, *bestID = *to, id
		}
	}
	for _, g := range d.Meals {
		var to time.Time
		var id int64
		for _, t := range g.Tariffs {
			latest(t.ID, t.ValidTo, &to, &id)
		}
		if id != 0 {
			if err := offer("meal", g.Code, g.Name, id); err != nil {
				return err
			}
		}
	}
	var to time.Time
	var id int64
	for _, t := range d.Daycare {
		latest(t.ID, t.ValidTo, &to, &id)
	}
	if id != 0 {
		return offer("daycare", "daycare", "", id)
	}
	return nil
}

// tariffsDone are the confirmations a redirect may ask for (?done=…).
var tariffsDone = map[string]string{
	"meal":    "tariffs.done.meal",
	"daycare": "tariffs.done.daycare",
	"ended":   "tariffs.done.ended",
}

// tariffs shows the school's tariffs and the forms to add one.
func (a *App) tariffs(c *gin.Context) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	d, err := a.tariffsData(c, sid)
	if err != nil {
		a.fail(c, err)
		return
	}
	if key, ok := tariffsDone[c.Query("done")]; ok {
		if day, ok := parseDay(c.Query("from")); ok {
			d.Done = a.Catalog.T(lang(c), key, i18n.FormatDate(day, lang(c)))
		}
	}
	if c.Query("done") == "ended" {
		// The bookings the end left without a price, counted again (a
		// family may have cancelled meanwhile); the form that cancels them
		// is among d.Offers.
		id, _ := strconv.ParseInt(c.Query("id"), 10, 64)
		if service, _, ended := d.endedTariff(c.Query("kind"), id); ended {
			for _, o := range d.Offers {
				if o.Kind == c.Query("kind") && (o.Kind == "daycare" || o.code == service) {
					d.Warn = a.Catalog.T(lang(c), "tariffs.done.bookings_left", o.Count)
				}
			}
		}
	}
	if c.Query("done") == "cancelled" {
		n, _ := strconv.Atoi(c.Query("n"))
		released, err := decimal.NewFromString(c.Query("released"))
		switch {
		case n <= 0:
			d.Done = a.Catalog.T(lang(c), "tariffs.cancel.none")
		case err == nil:
			d.Done = a.Catalog.T(lang(c), "tariffs.cancel.done", n, i18n.FormatEUR(released, lang(c)))
		}
		if c.Query("mail") == "failed" {
			d.Warn = a.Catalog.T(lang(c), "tariffs.cancel_mail.failed")
		}
	}
	a.render(c, http.StatusOK, "tariffs", "tariffs.title", "tariffs", d)
}

// tariffSchool reads the posted school among the visible ones; it answers
// 404 itself and returns false otherwise.
func (a *App) tariffSchool(c *gin.Context) (school.School, bool) {
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil || sid == 0 {
		a.notFound(c)
		return school.School{}, false
	}
	return sc, true
}

// tariffsError shows the page again with the typed values and a refusal
// naming the field (422).
func (a *App) tariffsError(c *gin.Context, sc school.School, field, msg string, keep func(*tariffsData)) {
	d, err := a.tariffsData(c, sc.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	keep(&d)
	d.Field = field
	a.formError(c, "tariffs", "tariffs.title", "tariffs", msg, d)
}

// tariffAmount parses a price typed by a person; msg names the field.
func (a *App) tariffAmount(l, fieldKey, s string) (decimal.Decimal, string) {
	v, err := i18n.ParseAmount(s, i18n.RejectNegative)
	if err == nil {
		return v, ""
	}
	var ae *i18n.AmountError
	reason := err.Error()
	if errors.As(err, &ae) {
		reason = ae.Message(a.Catalog, l)
	}
	return decimal.Decimal{}, a.Catalog.T(l, "tariffs.error.amount", a.Catalog.T(l, fieldKey), s, reason)
}

// tariffFrom parses the first day of a new tariff: a date, today or later.
func (a *App) tariffFrom(l, s string, today time.Time) (time.Time, string) {
	day, ok := parseDay(s)
	if !ok {
		return time.Time{}, a.Catalog.T(l, "tariffs.error.from", s)
	}
	if day.Before(today) {
		return time.Time{}, a.Catalog.T(l, "tariffs.error.from_past", i18n.FormatDate(day, l), i18n.FormatDate(today, l))
	}
	return day, ""
}

func tariffsURL(schoolID int64, done string, from time.Time) string {
	return fmt.Sprintf("/admin/tariffs?school=%d&done=%s&from=%s", schoolID, done, from.Format(time.DateOnly))
}

// addMealTariff records a meal tariff from a day on.
func (a *App) addMealTariff(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sc, ok := a.tariffSchool(c)
	if !ok {
		return
	}
	f := mealTariffForm{
		MealType: strings.TrimSpace(c.PostForm("meal_type")),
		Level:    strings.ToUpper(strings.TrimSpace(c.PostForm("level"))),
		Booked:   strings.TrimSpace(c.PostForm("booked")),
		Unbooked: strings.TrimSpace(c.PostForm("unbooked")),
		From:     strings.TrimSpace(c.PostForm("from")),
	}
	reject := func(field, msg string) {
		a.tariffsError(c, sc, field, msg, func(d *tariffsData) { d.Meal = f })
	}
	types, err := a.Booking.MealTypes(ctx, u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	if !slices.ContainsFunc(types, func(mt booking.MealType) bool { return mt.Code == f.MealType }) {
		reject("meal.meal_type", a.Catalog.T(l, "tariffs.error.meal_type", f.MealType))
		return
	}
	if !tariffLevelRE.MatchString(f.Level) {
		reject("meal.level", a.Catalog.T(l, "tariffs.error.level", f.Level))
		return
	}
	booked, msg := a.tariffAmount(l, "tariffs.meal.booked", f.Booked)
	if msg != "" {
		reject("meal.booked", msg)
		return
	}
	unbooked, msg := a.tariffAmount(l, "tariffs.meal.unbooked", f.Unbooked)
	if msg != "" {
		reject("meal.unbooked", msg)
		return
	}
	today := civilDay(a.Now().In(brussels()))
	from, msg := a.tariffFrom(l, f.From, today)
	if msg != "" {
		reject("meal.from", msg)
		return
	}
	id, err := a.Booking.AddMealTariff(ctx, u.TenantID, booking.MealTariff{SchoolID: sc.ID, MealType: f.MealType, Level: f.Level,
		BookedPrice: booked, UnbookedPrice: unbooked, ValidFrom: from})
	switch {
	case errors.Is(err, booking.ErrUnknownService):
		reject("meal.meal_type", a.Catalog.T(l, "tariffs.error.meal_type", f.MealType))
		return
	case errors.Is(err, booking.ErrInvalid):
		reject("", a.Catalog.T(l, "tariffs.error.invalid", err.Error()))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "tariff.meal.add", fmt.Sprint("school:", sc.ID), map[string]any{
		"id": id, "meal_type": f.MealType, "level": f.Level, "booked": booked.StringFixed(2), "unbooked": unbooked.StringFixed(2),
		"valid_from": from.Format(time.DateOnly)})
	c.Redirect(http.StatusSeeOther, tariffsURL(sc.ID, "meal", from))
}

// parseFormClock reads a time of day typed as "07:00" or "7:00".
func parseFormClock(s string) (booking.Clock, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 4 && s[1] == ':' {
		s = "0" + s
	}
	v, err := booking.ParseClock(s)
	return v, err == nil
}

// addDaycareTariff records a daycare tariff from a day on.
func (a *App) addDaycareTariff(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sc, ok := a.tariffSchool(c)
	if !ok {
		return
	}
	f := daycareTariffForm{
		Level:    strings.ToUpper(strings.TrimSpace(c.PostForm("level"))),
		Period:   strings.TrimSpace(c.PostForm("period")),
		Price:    strings.TrimSpace(c.PostForm("price")),
		Cap:      strings.TrimSpace(c.PostForm("cap")),
		Opens:    strings.TrimSpace(c.PostForm("opens")),
		Closes:   strings.TrimSpace(c.PostForm("closes")),
		FreeFrom: strings.TrimSpace(c.PostForm("free_from")),
		FreeTo:   strings.TrimSpace(c.PostForm("free_to")),
		From:     strings.TrimSpace(c.PostForm("from")),
	}
	reject := func(field, msg string) {
		a.tariffsError(c, sc, field, msg, func(d *tariffsData) { d.Care = f })
	}
	t := booking.DaycareTariff{SchoolID: sc.ID, Level: f.Level}
	if !tariffLevelRE.MatchString(f.Level) {
		reject("daycare.level", a.Catalog.T(l, "tariffs.error.level", f.Level))
		return
	}
	period, err := strconv.Atoi(f.Period)
	if err != nil || period < 1 || period > 720 {
		reject("daycare.period", a.Catalog.T(l, "tariffs.error.period", f.Period))
		return
	}
	t.PeriodMinutes = period
	var msg string
	if t.PeriodPrice, msg = a.tariffAmount(l, "tariffs.daycare.price", f.Price); msg != "" {
		reject("daycare.price", msg)
		return
	}
	if f.Cap != "" {
		capAmount, msg := a.tariffAmount(l, "tariffs.daycare.cap", f.Cap)
		if msg != "" {
			reject("daycare.cap", msg)
			return
		}
		t.DailyCap = &capAmount
	}
	if t.Opens, ok = parseFormClock(f.Opens); !ok {
		reject("daycare.opens", a.Catalog.T(l, "tariffs.error.clock", a.Catalog.T(l, "tariffs.daycare.opens"), f.Opens))
		return
	}
	if t.Closes, ok = parseFormClock(f.Closes); !ok {
		reject("daycare.closes", a.Catalog.T(l, "tariffs.error.clock", a.Catalog.T(l, "tariffs.daycare.closes"), f.Closes))
		return
	}
	if t.Closes <= t.Opens {
		reject("daycare.closes", a.Catalog.T(l, "tariffs.error.hours", t.Opens.String(), t.Closes.String()))
		return
	}
	switch {
	case f.FreeFrom == "" && f.FreeTo == "":
	case f.FreeFrom == "" || f.FreeTo == "":
		reject("daycare.free", a.Catalog.T(l, "tariffs.error.free_pair"))
		return
	default:
		from, ok1 := parseFormClock(f.FreeFrom)
		to, ok2 := parseFormClock(f.FreeTo)
		if !ok1 || !ok2 || to <= from {
			reject("daycare.free", a.Catalog.T(l, "tariffs.error.free", f.FreeFrom, f.FreeTo))
			return
		}
		t.FreeWindows = []booking.Window{{From: from, To: to}}
	}
	today := civilDay(a.Now().In(brussels()))
	if t.ValidFrom, msg = a.tariffFrom(l, f.From, today); msg != "" {
		reject("daycare.from", msg)
		return
	}
	id, err := a.Booking.AddDaycareTariff(ctx, u.TenantID, t)
	switch {
	case errors.Is(err, booking.ErrInvalid):
		reject("", a.Catalog.T(l, "tariffs.error.invalid", err.Error()))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	audit := map[string]any{"id": id, "level": t.Level, "period_minutes": t.PeriodMinutes, "price": t.PeriodPrice.String(),
		"opens": t.Opens.String(), "closes": t.Closes.String(), "free_windows": t.FreeWindows, "valid_from": t.ValidFrom.Format(time.DateOnly)}
	if t.DailyCap != nil {
		audit["daily_cap"] = t.DailyCap.StringFixed(2)
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "tariff.daycare.add", fmt.Sprint("school:", sc.ID), audit)
	c.Redirect(http.StatusSeeOther, tariffsURL(sc.ID, "daycare", t.ValidFrom))
}

// tariffTarget reads the posted school and the tariff id of the path; it
// answers the request itself (ok false) when either is wrong.
func (a *App) tariffTarget(c *gin.Context) (school.School, int64, bool) {
	sc, ok := a.tariffSchool(c)
	if !ok {
		return school.School{}, 0, false
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		a.notFound(c)
		return school.School{}, 0, false
	}
	return sc, id, true
}

// endMealTariff ends a meal tariff from a day on (POST
// /admin/tariffs/meal/:id/end).
func (a *App) endMealTariff(c *gin.Context) { a.endTariff(c, "meal") }

// endDaycareTariff ends a daycare tariff from a day on (POST
// /admin/tariffs/daycare/:id/end).
func (a *App) endDaycareTariff(c *gin.Context) { a.endTariff(c, "daycare") }

// endTariff ends the tariff of the :id parameter at the posted school from
// the posted day ("from": the first day without it) on.
func (a *App) endTariff(c *gin.Context, kind string) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sc, id, ok := a.tariffTarget(c)
	if !ok {
		return
	}
	typed := strings.TrimSpace(c.PostForm("from"))
	reject := func(msg string) {
		a.tariffsError(c, sc, fmt.Sprintf("end.%s.%d", kind, id), msg, func(d *tariffsData) {
			d.EndKind, d.EndID, d.EndFrom = kind, id, typed
		})
	}
	from, ok := parseDay(typed)
	if !ok {
		reject(a.Catalog.T(l, "tariffs.error.end_from", typed))
		return
	}
	tomorrow := civilDay(a.Now().In(brussels())).AddDate(0, 0, 1)
	if from.Before(tomorrow) {
		reject(a.Catalog.T(l, "tariffs.error.end_not_future", i18n.FormatDate(tomorrow, l)))
		return
	}
	end := a.Booking.EndMealTariff
	if kind == "daycare" {
		end = a.Booking.EndDaycareTariff
	}
	res, err := end(ctx, u.TenantID, sc.ID, id, from)
	var te *booking.TariffEndError
	switch {
	case errors.Is(err, booking.ErrNotFound):
		a.notFound(c)
		return
	case errors.As(err, &te):
		key := map[error]string{
			booking.ErrEndNotFuture:   "tariffs.error.end_not_future",
			booking.ErrEndBeforeStart: "tariffs.error.end_before_start",
			booking.ErrTariffEnded:    "tariffs.error.end_ended",
			booking.ErrTariffReplaced: "tariffs.error.end_replaced",
		}[te.Reason]
		reject(a.Catalog.T(l, key, i18n.FormatDate(te.Day, l)))
		return
	case errors.Is(err, booking.ErrInvalid):
		reject(a.Catalog.T(l, "tariffs.error.invalid", err.Error()))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	detail := map[string]any{"id": id, "level": res.Level, "valid_to": res.LastDay.Format(time.DateOnly),
		"ends_from": from.Format(time.DateOnly), "bookings_left": res.Bookings}
	if kind == "meal" {
		detail["meal_type"] = res.Service
	}
	if len(res.Capped) > 0 {
		detail["also_ended"] = res.Capped
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "tariff."+kind+".end", fmt.Sprint("school:", sc.ID), detail)
	c.Redirect(http.StatusSeeOther, tariffsURL(sc.ID, "ended", from)+fmt.Sprintf("&kind=%s&id=%d", kind, id))
}

// cancelMealBookings cancels the bookings an ended meal tariff left
// without a price (POST /admin/tariffs/meal/:id/cancel-bookings).
func (a *App) cancelMealBookings(c *gin.Context) { a.cancelUnpriced(c, "meal") }

// cancelDaycareBookings cancels the bookings an ended daycare tariff left
// without a price (POST /admin/tariffs/daycare/:id/cancel-bookings).
func (a *App) cancelDaycareBookings(c *gin.Context) { a.cancelUnpriced(c, "daycare") }

// cancelUnpriced cancels the bookings of the service of the ended tariff
// kind/:id that no tariff prices from today on (the offers at the top of
// the tariffs page), audits them, and has the families told. Running it
// again cancels nothing more.
func (a *App) cancelUnpriced(c *gin.Context, kind string) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sc, id, ok := a.tariffTarget(c)
	if !ok {
		return
	}
	d, err := a.tariffsData(c, sc.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	// From today on: the bookings of earlier days were served or closed.
	service, found, ended := d.endedTariff(kind, id)
	from := d.Today
	switch {
	case !found:
		a.notFound(c)
		return
	case !ended:
		d.Field = fmt.Sprintf("end.%s.%d", kind, id)
		d.EndKind, d.EndID = kind, id
		a.formError(c, "tariffs", "tariffs.title", "tariffs", a.Catalog.T(l, "tariffs.cancel.open"), d)
		return
	}
	done, err := a.Booking.CancelUnpriced(ctx, u.TenantID, sc.ID, service, from, u.Actor())
	// What was cancelled before an error stays cancelled: audit it and
	// tell the families all the same.
	released := decimal.Zero
	ids := make([]int64, 0, len(done))
	for _, x := range done {
		released = released.Add(x.Released)
		ids = append(ids, x.Booking.ID)
	}
	if len(done) > 0 {
		detail := map[string]any{"id": id, "service": service, "from": from.Format(time.DateOnly), "cancelled": len(done),
			"released": released.StringFixed(2), "bookings": ids}
		_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "tariff."+kind+".cancel_bookings", fmt.Sprint("school:", sc.ID), detail)
	}
	mailed := true
	if a.Families != nil && len(done) > 0 {
		if merr := a.Families.BookingsCancelledBySchool(ctx, u.TenantID, done); merr != nil {
			a.Log.Error("email about cancelled bookings", "tenant", u.TenantID, "school", sc.ID, "tariff", id, "err", merr)
			mailed = false
		}
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	to := tariffsURL(sc.ID, "cancelled", from) + fmt.Sprintf("&n=%d&released=%s", len(done), released.StringFixed(2))
	if !mailed {
		to += "&mail=failed"
	}
	c.Redirect(http.StatusSeeOther, to)
}
