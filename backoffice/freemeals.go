package backoffice

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/spreadsheet"
	"tartine/school"
)

// The free-meals monthly claim to the FWB (FEES.md §9), per school and
// month: the meals served per day and class, the pupils enrolled at the
// canteen per class, and the amount at the programme's rate
// (booking.FreeMealClaim). A page and its CSV, in the books.

func (a *App) mountFreeMeals(ac *gin.RouterGroup) {
	ac.GET("/free-meals", a.freeMealsPage)
	ac.GET("/free-meals.csv", a.freeMealsCSV)
}

// freeMealRow is a claim row with its class named.
type freeMealRow struct {
	Day   time.Time
	Class string
	Level string
	Meals int
}

// freeMealClass is a class's line of the claim.
type freeMealClass struct {
	Class  string
	Pupils int
	Meals  int
}

type freeMealsData struct {
	School   school.School
	Schools  []school.School
	Month    string // "2026-11"
	Claim    booking.Claim
	Rows     []freeMealRow
	Classes  []freeMealClass
	Rate     string // "3,70 €"
	Source   string
	CSV      string
	HasMeals bool
}

// freeMealsClaim reads the claim asked for (?school=&month=YYYY-MM; by
// default the user's first school and the month before the current one,
// the one to claim).
func (a *App) freeMealsClaim(c *gin.Context) (freeMealsData, error) {
	ctx := c.Request.Context()
	u := user(c)
	var d freeMealsData
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, sid); err != nil {
		return d, err
	}
	month, err := time.Parse("2006-01", c.Query("month"))
	if err != nil {
		now := a.Now().In(brussels())
		month = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	}
	if d.Claim, err = a.Booking.FreeMealClaim(ctx, u.TenantID, d.School.ID, month); err != nil {
		return d, err
	}
	classes, err := a.School.Classes(ctx, u.TenantID, d.School.ID)
	if err != nil {
		return d, err
	}
	code := map[int64]string{}
	for _, cl := range classes {
		code[cl.ID] = cl.Code
	}
	for _, r := range d.Claim.Rows {
		d.Rows = append(d.Rows, freeMealRow{Day: r.Day, Class: code[r.ClassID], Level: r.Level, Meals: r.Meals})
	}
	for _, cl := range d.Claim.Classes {
		d.Classes = append(d.Classes, freeMealClass{Class: code[cl.ClassID], Pupils: cl.Pupils, Meals: cl.Meals})
	}
	d.Month = d.Claim.Month.Format("2006-01")
	d.Rate = i18n.FormatEUR(booking.FreeMealRate.Amount, lang(c))
	d.Source = booking.FreeMealRate.Source
	d.CSV = fmt.Sprintf("/admin/books/free-meals.csv?school=%d&month=%s", d.School.ID, d.Month)
	d.HasMeals = d.Claim.Meals > 0 || d.Claim.Pupils > 0
	return d, nil
}

// freeMealsPage shows a school's monthly free-meals claim.
func (a *App) freeMealsPage(c *gin.Context) {
	d, err := a.freeMealsClaim(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "freemeals", "admin.freemeals.title", "books", d)
}

// freeMealsCSV is the claim as a spreadsheet: one line per day and class
// with the meals served, then one per class with the pupils enrolled at
// the canteen, then the totals and the amount.
func (a *App) freeMealsCSV(c *gin.Context) {
	d, err := a.freeMealsClaim(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l := lang(c)
	T := func(k string, args ...any) string { return a.Catalog.T(l, k, args...) }
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="repas-gratuits-%s-%s.csv"`, d.School.Code, d.Month))
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write([]byte("\ufeff")) // Excel reads UTF-8 with a BOM
	w := spreadsheet.NewWriter(c.Writer)    // defuses formulas in every cell
	w.Comma = ';'
	w.UseCRLF = true
	_ = w.Write([]string{T("admin.freemeals.csv.school"), T("admin.freemeals.csv.day"), T("admin.freemeals.csv.class"),
		T("admin.freemeals.csv.level"), T("admin.freemeals.csv.meals")})
	for _, r := range d.Rows {
		_ = w.Write([]string{d.School.Name, r.Day.Format("02/01/2006"), r.Class, r.Level, strconv.Itoa(r.Meals)})
	}
	_ = w.Write(nil)
	_ = w.Write([]string{T("admin.freemeals.csv.school"), T("admin.freemeals.csv.month"), T("admin.freemeals.csv.class"),
		T("admin.freemeals.csv.enrolled"), T("admin.freemeals.csv.meals")})
	for _, cl := range d.Classes {
		_ = w.Write([]string{d.School.Name, d.Month, cl.Class, strconv.Itoa(cl.Pupils), strconv.Itoa(cl.Meals)})
	}
	_ = w.Write([]string{d.School.Name, d.Month, T("admin.freemeals.csv.total"), strconv.Itoa(d.Claim.Pupils), strconv.Itoa(d.Claim.Meals)})
	_ = w.Write([]string{T("admin.freemeals.csv.amount", d.Claim.Meals, d.Rate), i18n.FormatEUR(d.Claim.Amount, l)})
	w.Flush()
}
