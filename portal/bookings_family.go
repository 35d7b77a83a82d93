package portal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/mail"
)

// Booking for several children at once: the family chooses children, a
// service, days (a range, narrowed to some weekdays: "every Monday and
// Thursday of December") and books or cancels them in one action. Each
// child and day goes through booking's Book or Cancel (one transaction
// each, one connection at a time); the page then lists, per child, what
// was done and what was refused with the reason.

// familyChild is a child of the form, checked or not.
type familyChild struct {
	child
	Key     string // "tenant:pupil", the checkbox value
	Checked bool
}

// familyLine is one day of the summary; Reason is a catalogue key.
type familyLine struct {
	Day    time.Time
	Reason string
}

// refusalGroup is the days refused for one reason (a catalogue key).
type refusalGroup struct {
	Reason string
	Days   []time.Time
}

// familyResult is what one action did for one child.
type familyResult struct {
	Child   child
	Done    []familyLine // booked, or cancelled
	Already []familyLine // already booked (book)
	Refused []familyLine // with the reason
	// A sick report (action "sick"): the school days recorded (in Done),
	// the bookings released and kept, or Note, the catalogue key of why
	// nothing was recorded for the child.
	Released int
	Kept     int
	Note     string
}

// ByReason groups the refused days by reason, in the order met.
func (r familyResult) ByReason() []refusalGroup {
	var out []refusalGroup
	for _, l := range r.Refused {
		i := slices.IndexFunc(out, func(g refusalGroup) bool { return g.Reason == l.Reason })
		if i < 0 {
			out = append(out, refusalGroup{Reason: l.Reason})
			i = len(out) - 1
		}
		out[i].Days = append(out[i].Days, l.Day)
	}
	return out
}

type familyData struct {
	Children []familyChild
	Services []booking.Service
	Names    map[booking.Service]string // the services' names for people, never codes
	Service  string
	Action   string // "book", "cancel" or "sick"
	From     string
	Until    string
	SickFrom string // the sick form's days: today by default
	SickTo   string
	Weekdays map[int]bool
	Month    time.Time
	Prev     string
	Next     string
	Results  []familyResult // nil before the action
	Empty    bool           // the action found nothing to do
}

// WeekdayList is 1 (Monday) to 5 for the template.
func (familyData) WeekdayList() []int { return []int{1, 2, 3, 4, 5} }

// familyForm prepares the form for the account's children and the month.
func (a *App) familyForm(c *gin.Context, acct *account, month time.Time) (familyData, error) {
	ctx := c.Request.Context()
	kids, err := a.children(ctx, acct)
	if err != nil {
		return familyData{}, err
	}
	d := familyData{Month: month, Prev: month.AddDate(0, -1, 0).Format("2006-01"), Next: month.AddDate(0, 1, 0).Format("2006-01"),
		Action: "book", Weekdays: map[int]bool{}}
	seen := map[int64]bool{}
	names := a.serviceNames(a.lang(c, acct))
	tenantOf := map[booking.Service]int64{}
	for _, k := range kids {
		d.Children = append(d.Children, familyChild{child: k, Key: fmt.Sprintf("%d:%d", k.TenantID, k.ID), Checked: true})
		if seen[k.TenantID] {
			continue
		}
		seen[k.TenantID] = true
		mts, err := a.Booking.MealTypes(ctx, k.TenantID)
		if err != nil {
			return familyData{}, err
		}
		known := make(map[string]string, len(mts))
		for _, mt := range mts {
			known[mt.Code] = strings.TrimSpace(mt.Name)
			if s := booking.Service(mt.Code); !slices.Contains(d.Services, s) {
				d.Services = append(d.Services, s)
				tenantOf[s] = k.TenantID
			}
		}
		names.meals[k.TenantID] = known // as the history names them, without reading them again
	}
	d.Services = append(d.Services, booking.DaycareMorning, booking.DaycareEvening)
	d.Names = make(map[booking.Service]string, len(d.Services))
	for _, s := range d.Services {
		n, err := names.name(ctx, a, tenantOf[s], string(s))
		if err != nil {
			return familyData{}, err
		}
		d.Names[s] = n
	}
	if len(d.Services) > 0 {
		d.Service = string(d.Services[0])
	}
	tomorrow := civilDate(a.Now().In(brussels())).AddDate(0, 0, 1)
	from, until := month, month.AddDate(0, 1, -1)
	if from.Before(tomorrow) {
		from = tomorrow
	}
	if until.Before(from) {
		until = from
	}
	d.From, d.Until = from.Format("2006-01-02"), until.Format("2006-01-02")
	d.SickFrom = civilDate(a.Now().In(brussels())).Format("2006-01-02")
	d.SickTo = d.SickFrom
	return d, nil
}

// civilDate is t's date at midnight in Brussels.
func civilDate(t time.Time) time.Time {
	y, m, dd := t.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, brussels())
}

// familyBookingsForm shows the form: children, service, days, action; with
// done, the summary of the action that redirected here (familyBook), the
// form as it was sent.
func (a *App) familyBookingsForm(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	if d, ok := a.family.get(acct.ID, c.Query("done")); ok {
		a.render(c, http.StatusOK, "bookings_family", "portal.family.title", d, acct)
		return
	}
	d, err := a.familyForm(c, acct, a.parseMonth(c.Query("month")))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "bookings_family", "portal.family.title", d, acct)
}

// familyBook books or cancels the chosen days for the chosen children, or
// reports them sick, and redirects to the summary (Post/Redirect/Get: a
// reload shows the summary again and sends nothing; repeating the action
// books nothing twice). A refused form is shown again at once (422).
func (a *App) familyBook(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	from, ok1 := parseDay(c.PostForm("from"))
	until, ok2 := parseDay(c.PostForm("until"))
	month := a.parseMonth("")
	if ok1 {
		month = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, brussels())
	}
	d, err := a.familyForm(c, acct, month)
	if err != nil {
		a.fail(c, err)
		return
	}
	// The form as sent, kept when it is shown again (the booking form
	// keeps its defaults after a sick report).
	sick := c.PostForm("action") == "sick"
	if !sick {
		d.Service, d.Action, d.From, d.Until = c.PostForm("service"), c.PostForm("action"), c.PostForm("from"), c.PostForm("until")
	}
	var chosen []child
	keys := c.PostFormArray("child")
	for i := range d.Children {
		d.Children[i].Checked = slices.Contains(keys, d.Children[i].Key)
		if d.Children[i].Checked {
			chosen = append(chosen, d.Children[i].child)
		}
	}
	if sick {
		a.familySick(c, acct, d, chosen)
		return
	}
	var wds []time.Weekday
	for _, v := range c.PostFormArray("weekday") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			a.familyError(c, acct, d, "portal.family.bad_days")
			return
		}
		d.Weekdays[n] = true
		wds = append(wds, time.Weekday(n))
	}
	if len(wds) == 0 {
		wds = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	switch {
	case len(chosen) == 0:
		a.familyError(c, acct, d, "portal.family.no_child")
		return
	case !ok1 || !ok2 || until.Before(from) || until.Sub(from) > 62*24*time.Hour:
		a.familyError(c, acct, d, "portal.family.bad_days")
		return
	case !slices.Contains(d.Services, booking.Service(d.Service)):
		a.familyError(c, acct, d, "portal.family.bad_service")
		return
	case d.Action != "book" && d.Action != "cancel":
		a.familyError(c, acct, d, "portal.family.bad_action")
		return
	}
	svc := booking.Service(d.Service)
	if d.Action == "book" {
		for _, ch := range chosen {
			res, err := a.familyBookChild(c, acct, ch, svc, wds, from, until)
			if err != nil {
				a.fail(c, err)
				return
			}
			d.Results = append(d.Results, res)
		}
	} else {
		if d.Results, err = a.familyCancel(c, acct, chosen, svc, wds, from, until); err != nil {
			a.fail(c, err)
			return
		}
	}
	d.Empty = true
	for _, r := range d.Results {
		if len(r.Done)+len(r.Already)+len(r.Refused) > 0 {
			d.Empty = false
		}
	}
	a.familyRedirect(c, acct, d)
}

// familyRedirect redirects (303) to the family page showing d's summary.
func (a *App) familyRedirect(c *gin.Context, acct *account, d familyData) {
	tok, err := a.family.put(acct.ID, d)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/bookings?month="+d.Month.Format("2006-01")+"&done="+tok)
}

// familyDoneTTL is how long the summary of a family action can be shown
// (reloaded) after it.
const familyDoneTTL = 10 * time.Minute

// familyDone keeps the summaries of the family actions for the page their
// POST redirects to, each for its account only, familyDoneTTL. They live in
// this process's memory, like the accounts (accounts.go): a summary lost
// (expired, or a restart) shows the form alone; the bookings are made.
type familyDone struct {
	mu sync.Mutex
	m  map[string]familySummary
}

type familySummary struct {
	account int64
	data    familyData
	at      time.Time
}

// put keeps d for the account and returns its token (128 random bits).
func (f *familyDone) put(accountID int64, d familyData) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("portal: family summary token: %w", err)
	}
	tok := hex.EncodeToString(b[:])
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m) >= 10_000 {
		f.m = map[string]familySummary{}
	}
	for k, s := range f.m {
		if now.Sub(s.at) >= familyDoneTTL {
			delete(f.m, k)
		}
	}
	f.m[tok] = familySummary{account: accountID, data: d, at: now}
	return tok, nil
}

// get returns the summary kept under tok for the account, if still there.
func (f *familyDone) get(accountID int64, tok string) (familyData, bool) {
	if tok == "" {
		return familyData{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[tok]
	if !ok || s.account != accountID || time.Since(s.at) >= familyDoneTTL {
		return familyData{}, false
	}
	return s.data, true
}

// familySick reports the chosen children absent (sick) from "from" to
// "until" (the sick form), each with booking's ReportSick as a child's own
// report does (bookings_sick.go): one transaction per child, the school's
// policy decides what happens to the days' bookings, the released ones are
// emailed. The summary says per child what was recorded, or why not.
func (a *App) familySick(c *gin.Context, acct *account, d familyData, chosen []child) {
	ctx := c.Request.Context()
	d.Action, d.SickFrom, d.SickTo = "sick", c.PostForm("from"), c.PostForm("until")
	from, ok1 := parseDay(d.SickFrom)
	until, ok2 := from, true
	if d.SickTo != "" {
		until, ok2 = parseDay(d.SickTo)
	}
	switch {
	case len(chosen) == 0:
		a.familyError(c, acct, d, "portal.family.no_child")
		return
	case !ok1 || !ok2 || until.Before(from):
		a.familyError(c, acct, d, "portal.bookings.bad_sick")
		return
	}
	for _, ch := range chosen {
		res := familyResult{Child: ch}
		rep, err := a.Booking.ReportSick(ctx, booking.SickRequest{TenantID: ch.TenantID, PupilID: ch.ID, From: from, Until: until, Actor: ch.Actor()})
		switch {
		case errors.Is(err, booking.ErrInvalid):
			res.Note = "portal.bookings.bad_sick"
		case errors.Is(err, booking.ErrClosedDay):
			res.Note = "portal.bookings.sick_closed"
		case err != nil && booking.MessageKey(err) != "error.internal":
			res.Note = booking.MessageKey(err)
		case err != nil:
			a.fail(c, err)
			return
		}
		var released []mail.BookingLine
		names := a.mealNames(ctx, ch.TenantID)
		for _, day := range rep.Days {
			res.Done = append(res.Done, familyLine{Day: day})
		}
		for _, b := range rep.Bookings {
			if b.Outcome == booking.SickReleased {
				released = append(released, names.line(b.Booking.Day, b.Booking.Service, decimal.Zero))
			}
		}
		res.Released, res.Kept = rep.Count(booking.SickReleased), rep.Count(booking.SickKept)
		if len(released) > 0 {
			a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Cancelled: released,
				Link: a.BaseURL + dayAnchor(ch, rep.Days[0])})
		}
		d.Results = append(d.Results, res)
	}
	a.familyRedirect(c, acct, d)
}

func (a *App) familyError(c *gin.Context, acct *account, d familyData, key string) {
	l := a.lang(c, acct)
	a.formError(c, http.StatusUnprocessableEntity, "bookings_family", "portal.family.title", a.Catalog.T(l, key), d, acct)
}

// familyBookChild books the days for one child (booking.BookPattern: each
// day on its own), emails what was booked and checks the balance.
func (a *App) familyBookChild(c *gin.Context, acct *account, ch child, svc booking.Service, wds []time.Weekday, from, until time.Time) (familyResult, error) {
	ctx := c.Request.Context()
	res := familyResult{Child: ch}
	rep, err := a.Booking.BookPattern(ctx, booking.PatternRequest{TenantID: ch.TenantID, PupilID: ch.ID, Service: svc,
		Weekdays: wds, From: from, Until: until, Actor: ch.Actor()})
	if err != nil {
		return res, err
	}
	var booked []mail.BookingLine
	names := a.mealNames(ctx, ch.TenantID)
	for _, r := range rep.Days {
		switch r.Outcome {
		case booking.OutcomeBooked:
			res.Done = append(res.Done, familyLine{Day: r.Day})
			booked = append(booked, names.line(r.Day, svc, r.Booking.Price))
		case booking.OutcomeAlreadyBooked:
			res.Already = append(res.Already, familyLine{Day: r.Day})
		case booking.OutcomeFailed:
			if booking.MessageKey(r.Err) == "error.internal" {
				return res, r.Err
			}
			fallthrough
		default:
			res.Refused = append(res.Refused, familyLine{Day: r.Day, Reason: refusal(r.Err)})
		}
	}
	if len(booked) > 0 {
		a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Booked: booked, Link: a.BaseURL + ch.Path() + "/bookings?month=" + from.Format("2006-01")})
		a.lowBalanceCheckChild(ctx, ch)
	}
	return res, nil
}

// familyCancel cancels the chosen children's bookings of svc on the days
// (read in one query), each with booking's Cancel, and emails each child's
// cancellations.
func (a *App) familyCancel(c *gin.Context, acct *account, kids []child, svc booking.Service, wds []time.Weekday, from, until time.Time) ([]familyResult, error) {
	ctx := c.Request.Context()
	refs := make([]booking.PupilRef, len(kids))
	for i, ch := range kids {
		refs[i] = booking.PupilRef{TenantID: ch.TenantID, PupilID: ch.ID}
	}
	bks, err := a.Booking.BookingsOf(ctx, refs, from, until)
	if err != nil {
		return nil, err
	}
	out := make([]familyResult, len(kids))
	for i, ch := range kids {
		out[i].Child = ch
		names := a.mealNames(ctx, ch.TenantID)
		var cancelled []mail.BookingLine
		for _, b := range bks {
			if b.TenantID != ch.TenantID || b.PupilID != ch.ID || b.Service != svc || b.Status != booking.StatusBooked || !slices.Contains(wds, b.Day.Weekday()) {
				continue
			}
			_, err := a.Booking.Cancel(ctx, b.TenantID, b.ID, ch.Actor())
			switch {
			case err == nil:
				out[i].Done = append(out[i].Done, familyLine{Day: b.Day})
				cancelled = append(cancelled, names.line(b.Day, svc, decimal.Zero))
			case booking.MessageKey(err) == "error.internal":
				return nil, err
			default:
				out[i].Refused = append(out[i].Refused, familyLine{Day: b.Day, Reason: refusal(err)})
			}
		}
		if len(cancelled) > 0 {
			a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Cancelled: cancelled, Link: a.BaseURL + ch.Path() + "/bookings?month=" + from.Format("2006-01")})
		}
	}
	return out, nil
}

// refusal is the catalogue key that explains why a day was refused: the
// booking error's, more precise for a Wednesday without meals.
func refusal(err error) string {
	if errors.Is(err, booking.ErrClosedDay) && strings.Contains(err.Error(), booking.ReasonNoWednesday) {
		return "portal.family.no_wednesday"
	}
	if errors.Is(err, booking.ErrInvalid) {
		return "portal.family.refused"
	}
	return booking.MessageKey(err)
}
