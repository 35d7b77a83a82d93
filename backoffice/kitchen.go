package backoffice

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/spreadsheet"
	"tartine/school"
)

// DaycarePresence is a pupil checked in at the school's daycare and not
// yet checked out (the terminal's daycare sessions).
type DaycarePresence struct {
	PupilID int64
	Since   time.Time
}

// DaycarePresent lists who is at the school's daycare now (wired to the
// terminal, which owns the daycare sessions).
type DaycarePresent func(ctx context.Context, tenantID, schoolID int64) ([]DaycarePresence, error)

// kitchenChild is a child on the kitchen or daycare list, with everything
// the kitchen must know: every allergy, its note, the diet.
type kitchenChild struct {
	ID        int64
	Name      string // "Emma Dubois"
	Class     string
	Allergens []string
	Notes     string
	Diet      []string
	Since     string // daycare: checked in at, "15:40" school-local ("": not present)
	Absent    bool   // reported sick by the family (booking.ReportSick)
}

// flagRow counts the children of a meal with one allergen or diet (or,
// Code "notes", an allergy noted outside the EU 14) and names them.
type flagRow struct {
	Code     string
	Kind     string // "allergen", "notes", "diet"
	Count    int
	Children []kitchenChild
}

type countRow struct {
	Label string
	Count int
}

// kitchenMeal is one meal type of the day: the total, per class, per
// allergen and diet, and the children.
type kitchenMeal struct {
	Type     booking.MealType
	Total    int
	Classes  []countRow
	Flags    []flagRow
	Children []kitchenChild
}

// daycareList is one daycare session of the day: the children expected
// (booked) and, today, who is there now.
type daycareList struct {
	Service  booking.Service
	Expected []kitchenChild
}

type kitchenData struct {
	Schools    []school.School
	School     school.School
	Day        time.Time
	Open       bool
	Reason     string
	Cutoff     time.Time
	Final      bool // the cut-off has passed: the list no longer changes
	Meals      []kitchenMeal
	Daycare    []daycareList
	Today      bool
	PresentNow []kitchenChild
	Absent     []kitchenChild // reported sick for the day
	CSV        string         // the CSV's address
}

// kitchenList builds the lists of a school's day from the bookings
// (booking), the pupils (school) and the daycare presence.
func (a *App) kitchenList(c *gin.Context, schoolID int64, day time.Time) (kitchenData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := kitchenData{Day: day}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, schoolID); err != nil {
		return d, err
	}
	d.CSV = fmt.Sprintf("/admin/kitchen.csv?school=%d&day=%s", d.School.ID, day.Format(time.DateOnly))
	if d.Open, d.Reason, err = a.Booking.IsOpen(ctx, u.TenantID, d.School.ID, day); err != nil {
		return d, err
	}
	now := a.Now()
	d.Today = civilDay(now.In(brussels())).Equal(civilDay(day))
	if d.Open {
		if d.Cutoff, err = a.Booking.Cutoff(ctx, u.TenantID, d.School.ID, day); err != nil {
			return d, err
		}
		d.Final = !now.Before(d.Cutoff)
	}
	types, err := a.Booking.MealTypes(ctx, u.TenantID)
	if err != nil {
		return d, err
	}
	bks, err := a.Booking.DayBookings(ctx, u.TenantID, d.School.ID, day)
	if err != nil {
		return d, err
	}
	pupils, err := a.School.PupilsOfSchool(ctx, u.TenantID, d.School.ID, true)
	if err != nil {
		return d, err
	}
	byID := make(map[int64]kitchenChild, len(pupils))
	for _, p := range pupils {
		k := kitchenChild{ID: p.ID, Name: strings.TrimSpace(p.FirstName + " " + p.LastName), Class: p.ClassCode, Notes: strings.TrimSpace(p.AllergyNotes)}
		for _, x := range p.Allergens {
			k.Allergens = append(k.Allergens, string(x))
		}
		for _, x := range p.Diet {
			k.Diet = append(k.Diet, string(x))
		}
		byID[p.ID] = k
	}
	absent, err := a.Booking.DayAbsences(ctx, u.TenantID, d.School.ID, day)
	if err != nil {
		return d, err
	}
	for _, id := range absent {
		if k, ok := byID[id]; ok {
			k.Absent = true
			byID[id] = k
			d.Absent = append(d.Absent, k)
		}
	}
	sortChildren(d.Absent)
	byService := map[booking.Service][]kitchenChild{}
	for _, b := range bks {
		if k, ok := byID[b.PupilID]; ok {
			byService[b.Service] = append(byService[b.Service], k)
		}
	}
	for _, mt := range types {
		d.Meals = append(d.Meals, mealList(mt, byService[booking.Service(mt.Code)]))
	}
	for _, s := range []booking.Service{booking.DaycareMorning, booking.DaycareEvening} {
		kids := byService[s]
		sortChildren(kids)
		d.Daycare = append(d.Daycare, daycareList{Service: s, Expected: kids})
	}
	if d.Today && a.Present != nil {
		present, err := a.Present(ctx, u.TenantID, d.School.ID)
		if err != nil {
			return d, err
		}
		for _, p := range present {
			if k, ok := byID[p.PupilID]; ok {
				k.Since = p.Since.In(brussels()).Format("15:04")
				d.PresentNow = append(d.PresentNow, k)
			}
		}
	}
	return d, nil
}

// mealList counts one meal type's children per class, allergen (the EU 14
// in the regulation's order, then allergies noted outside the list) and
// diet; a child reported sick stays on the list, marked, but is not
// counted (nobody cooks for them).
func mealList(mt booking.MealType, all []kitchenChild) kitchenMeal {
	sortChildren(all)
	var kids []kitchenChild
	for _, k := range all {
		if !k.Absent {
			kids = append(kids, k)
		}
	}
	m := kitchenMeal{Type: mt, Total: len(kids), Children: all}
	for _, k := range kids {
		if n := len(m.Classes); n > 0 && m.Classes[n-1].Label == k.Class {
			m.Classes[n-1].Count++
		} else {
			m.Classes = append(m.Classes, countRow{Label: k.Class, Count: 1})
		}
	}
	add := func(code, kind string, has func(kitchenChild) bool) {
		r := flagRow{Code: code, Kind: kind}
		for _, k := range kids {
			if has(k) {
				r.Count++
				r.Children = append(r.Children, k)
			}
		}
		if r.Count > 0 {
			m.Flags = append(m.Flags, r)
		}
	}
	for _, al := range booking.Allergens() {
		add(al, "allergen", func(k kitchenChild) bool { return slices.Contains(k.Allergens, al) })
	}
	add("notes", "notes", func(k kitchenChild) bool { return k.Notes != "" })
	for _, dt := range school.Diets() {
		add(string(dt), "diet", func(k kitchenChild) bool { return slices.Contains(k.Diet, string(dt)) })
	}
	return m
}

// sortChildren orders by class, then name.
func sortChildren(kids []kitchenChild) {
	slices.SortFunc(kids, func(a, b kitchenChild) int {
		if c := strings.Compare(a.Class, b.Class); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// kitchenDay reads ?school= and ?day= (default: the next school day after
// 14:00, when the kitchen prepares tomorrow; today before).
func (a *App) kitchenDay(c *gin.Context) (int64, time.Time) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	if day, ok := parseDay(c.Query("day")); ok {
		return sid, day
	}
	now := a.Now().In(brussels())
	day := civilDay(now)
	if now.Hour() >= 14 || day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = nextWeekday(day)
	}
	return sid, day
}

// kitchen shows the kitchen and daycare lists of a school's day, printable
// on A4.
func (a *App) kitchen(c *gin.Context) {
	sid, day := a.kitchenDay(c)
	d, err := a.kitchenList(c, sid, day)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "kitchen", "kitchen.title", "kitchen", d)
}

// kitchenCSV is the same list as a spreadsheet: one line per child and
// service, every cell defused (spreadsheet.Writer).
func (a *App) kitchenCSV(c *gin.Context) {
	sid, day := a.kitchenDay(c)
	d, err := a.kitchenList(c, sid, day)
	if err != nil {
		a.fail(c, err)
		return
	}
	l := lang(c)
	T := func(k string, args ...any) string { return a.Catalog.T(l, k, args...) }
	label := func(kind, code string) string {
		k := "school." + kind + "." + code
		if a.Catalog.Has(l, k) {
			return T(k)
		}
		return code
	}
	labels := func(kind string, codes []string) string {
		out := make([]string, len(codes))
		for i, x := range codes {
			out[i] = label(kind, x)
		}
		return strings.Join(out, ", ")
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="cuisine-%s-%s.csv"`, d.School.Code, day.Format("20060102")))
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write([]byte("\ufeff")) // Excel reads UTF-8 with a BOM
	w := spreadsheet.NewWriter(c.Writer)    // defuses formulas in every cell
	w.Comma = ';'
	w.UseCRLF = true
	_ = w.Write([]string{T("kitchen.csv.day"), T("kitchen.csv.school"), T("kitchen.csv.service"), T("kitchen.csv.class"),
		T("kitchen.csv.child"), T("kitchen.csv.allergens"), T("kitchen.csv.notes"), T("kitchen.csv.diet")})
	row := func(service string, k kitchenChild) {
		_ = w.Write([]string{day.Format("02/01/2006"), d.School.Name, service, k.Class, k.Name,
			labels("allergen", k.Allergens), k.Notes, labels("diet", k.Diet)})
	}
	for _, m := range d.Meals {
		for _, k := range m.Children {
			row(m.Type.Name, k)
		}
	}
	for _, s := range d.Daycare {
		for _, k := range s.Expected {
			row(T("kitchen.service."+string(s.Service)), k)
		}
	}
	w.Flush()
}
