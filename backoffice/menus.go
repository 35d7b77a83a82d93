package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/school"
)

// menuRows is how many dish rows a meal type's form offers beyond the
// dishes already there.
const menuRows = 2

type menuForm struct {
	MealType booking.MealType
	Items    []booking.MenuItem
}

type menusData struct {
	Schools   []school.School
	School    school.School
	Day       time.Time
	Open      bool
	Reason    string
	Forms     []menuForm
	Allergens []string
}

func (a *App) menusData(c *gin.Context, schoolID int64, day time.Time) (menusData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := menusData{Day: day, Allergens: booking.Allergens()}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, schoolID); err != nil {
		return d, err
	}
	if d.Open, d.Reason, err = a.Booking.IsOpen(ctx, u.TenantID, d.School.ID, day); err != nil {
		return d, err
	}
	types, err := a.Booking.MealTypes(ctx, u.TenantID)
	if err != nil {
		return d, err
	}
	items, err := a.Booking.Menus(ctx, u.TenantID, d.School.ID, day, day)
	if err != nil {
		return d, err
	}
	for _, mt := range types {
		f := menuForm{MealType: mt}
		for _, it := range items {
			if it.MealType == mt.Code {
				f.Items = append(f.Items, it)
			}
		}
		for range menuRows {
			f.Items = append(f.Items, booking.MenuItem{})
		}
		d.Forms = append(d.Forms, f)
	}
	return d, nil
}

// menus shows the menus of a day, one form per meal type.
func (a *App) menus(c *gin.Context) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	day, ok := parseDay(c.Query("day"))
	if !ok {
		day = civilDay(a.Now().In(brussels()))
	}
	d, err := a.menusData(c, sid, day)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "menus", "admin.menus.title", "menus", d)
}

// saveMenu replaces the menu of a day and meal type. Rows with an empty
// dish are dropped (that is how a dish is removed).
func (a *App) saveMenu(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil || sid == 0 {
		a.notFound(c)
		return
	}
	day, ok := parseDay(c.PostForm("day"))
	if !ok {
		a.flash(c, "/admin/menus", "admin.error.day", c.PostForm("day"))
		return
	}
	mealType := c.PostForm("meal_type")
	back := fmt.Sprintf("/admin/menus?school=%d&day=%s", sc.ID, day.Format(time.DateOnly))
	n, _ := strconv.Atoi(c.PostForm("rows"))
	if n < 0 || n > 50 {
		n = 0
	}
	var items []booking.MenuItem
	for i := range n {
		dish := strings.TrimSpace(c.PostForm(fmt.Sprint("dish_", i)))
		if dish == "" {
			continue
		}
		items = append(items, booking.MenuItem{Course: strings.TrimSpace(c.PostForm(fmt.Sprint("course_", i))), Dish: dish,
			Allergens: c.PostFormArray(fmt.Sprint("allergen_", i))})
	}
	err = a.Booking.SetMenu(ctx, u.TenantID, sc.ID, day, mealType, items)
	switch {
	case errors.Is(err, booking.ErrUnknownService):
		a.flash(c, back, "admin.error.meal_type", mealType)
		return
	case errors.Is(err, booking.ErrInvalid):
		a.flash(c, back, "admin.error.menu", err.Error())
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "menu.set", fmt.Sprint("school:", sc.ID),
		map[string]any{"day": day.Format(time.DateOnly), "meal_type": mealType, "dishes": len(items)})
	a.flash(c, back, "admin.flash.menu_saved", day.Format("02/01/2006"), mealType)
}
