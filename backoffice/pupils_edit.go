package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/school"
)

// pupilFormData is the create/edit form of a pupil.
type pupilFormData struct {
	Pupil     school.Pupil // ID 0: a new pupil
	School    school.School
	Classes   []school.Class
	Allergens []school.Allergen // the EU-14, to tick
	Diets     []school.Diet
	Birth     string // YYYY-MM-DD
}

// Has reports whether the pupil has allergen or diet code (for the ticks).
func (d pupilFormData) Has(code string) bool {
	return slices.Contains(d.Pupil.Allergens, school.Allergen(code)) || slices.Contains(d.Pupil.Diet, school.Diet(code))
}

func (a *App) pupilForm(c *gin.Context, status int, p school.Pupil, msg string) {
	sc, _, err := a.schoolFor(c, p.SchoolID)
	if err != nil {
		a.fail(c, err)
		return
	}
	classes, err := a.School.Classes(c.Request.Context(), user(c).TenantID, sc.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := pupilFormData{Pupil: p, School: sc, Classes: classes, Allergens: school.Allergens(), Diets: school.Diets()}
	if !p.BirthDate.IsZero() {
		d.Birth = p.BirthDate.Format(time.DateOnly)
	}
	if msg != "" {
		a.formError(c, "pupil_form", "admin.pupil_form.title", "pupils", msg, d)
		return
	}
	a.render(c, status, "pupil_form", "admin.pupil_form.title", "pupils", d)
}

// newPupilPage shows an empty pupil form for a visible school (?school=).
func (a *App) newPupilPage(c *gin.Context) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	a.pupilForm(c, http.StatusOK, school.Pupil{SchoolID: sid}, "")
}

// editPupilPage shows the pupil's form.
func (a *App) editPupilPage(c *gin.Context) {
	p, ok := a.pupilParam(c)
	if !ok {
		return
	}
	a.pupilForm(c, http.StatusOK, p, "")
}

// pupilParam loads the :id pupil within the user's scope (404 otherwise).
func (a *App) pupilParam(c *gin.Context) (school.Pupil, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		a.notFound(c)
		return school.Pupil{}, false
	}
	p, err := a.School.Pupil(c.Request.Context(), user(c).TenantID, id)
	if err != nil || !mayManagePupil(user(c), p) {
		a.notFound(c)
		return school.Pupil{}, false
	}
	return p, true
}

// savePupil creates (no :id) or updates a pupil from the form: class,
// level, EU-14 allergens and free notes, diets, free meals, photo consent.
func (a *App) savePupil(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	var cur school.Pupil
	if c.Param("id") != "" {
		var ok bool
		if cur, ok = a.pupilParam(c); !ok {
			return
		}
	} else {
		sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
		sc, _, err := a.schoolFor(c, sid)
		if err != nil || sid == 0 {
			a.notFound(c)
			return
		}
		cur.SchoolID = sc.ID
	}
	in := school.PupilInput{SchoolID: cur.SchoolID, ExternalRef: c.PostForm("external_ref"), FirstName: c.PostForm("first_name"),
		LastName: c.PostForm("last_name"), Level: strings.TrimSpace(c.PostForm("level")), AllergyNotes: strings.TrimSpace(c.PostForm("allergy_notes")),
		FreeMeals: c.PostForm("free_meals") == "on", PhotoConsent: c.PostForm("photo_consent") == "on", Inactive: cur.ID != 0 && !cur.Active}
	in.ClassID, _ = strconv.ParseInt(c.PostForm("class"), 10, 64)
	handicap := c.PostForm("severe_handicap") == "on" // the tax certificate counts care until 21 (taxcert)
	in.SevereHandicap = &handicap
	for _, v := range c.PostFormArray("allergen") {
		in.Allergens = append(in.Allergens, school.Allergen(v))
	}
	for _, v := range c.PostFormArray("diet") {
		in.Diet = append(in.Diet, school.Diet(v))
	}
	// The form's values, shown again when refused.
	shown := cur
	shown.FirstName, shown.LastName, shown.ExternalRef, shown.Level = in.FirstName, in.LastName, in.ExternalRef, in.Level
	shown.ClassID, shown.Allergens, shown.Diet, shown.AllergyNotes, shown.FreeMeals = in.ClassID, in.Allergens, in.Diet, in.AllergyNotes, in.FreeMeals
	shown.PhotoConsent, shown.SevereHandicap = in.PhotoConsent, handicap
	if b := strings.TrimSpace(c.PostForm("birth_date")); b != "" {
		t, err := time.ParseInLocation(time.DateOnly, b, time.UTC)
		if err != nil {
			a.pupilForm(c, http.StatusUnprocessableEntity, shown, a.Catalog.T(l, "admin.pupil_form.bad_birth"))
			return
		}
		in.BirthDate, shown.BirthDate = t, t
	}
	var p school.Pupil
	var err error
	if cur.ID == 0 {
		p, err = a.School.CreatePupil(ctx, u.TenantID, in, u.Actor())
	} else {
		p, err = a.School.UpdatePupil(ctx, u.TenantID, cur.ID, in, u.Actor())
	}
	switch {
	case errors.Is(err, school.ErrInvalid), errors.Is(err, school.ErrConflict):
		a.pupilForm(c, http.StatusUnprocessableEntity, shown, a.Catalog.T(l, "admin.pupil_form.refused", err.Error()))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	a.flash(c, fmt.Sprint("/admin/pupils/", p.ID), "admin.pupil_form.saved", p.FirstName+" "+p.LastName)
}
