package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/school"
)

// A pupil's guardians in the back office (admins), reached from the
// pupil's page: a guardian's contact (name, email, phone, address) and
// language, which of their children's statements they receive, adding a
// guardian to the pupil (an existing one by email, or a new one) and
// removing one. Separated parents each have their own guardian row; how a
// pupil's statements are split between them is the statements' split page
// (statements_split.go), linked from here. Every change goes through
// package school, which audits it.

// guardianChild is one of the guardian's children as the page shows it.
type guardianChild struct {
	school.Pupil
	Relation   string
	Statements bool
	Mine       bool // in the user's scope (always: others are left out)
}

type guardianData struct {
	Pupil    school.Pupil // the page the guardian was reached from
	Guardian school.GuardianLink
	Children []guardianChild
	Form     school.GuardianInput
}

// guardianParams loads the :id pupil (in the user's scope) and its :guardian.
func (a *App) guardianParams(c *gin.Context) (school.Pupil, school.GuardianLink, bool) {
	p, ok := a.pupilParam(c)
	if !ok {
		return p, school.GuardianLink{}, false
	}
	gid, err := strconv.ParseInt(c.Param("guardian"), 10, 64)
	if err != nil {
		a.notFound(c)
		return p, school.GuardianLink{}, false
	}
	links, err := a.School.GuardiansOfPupil(c.Request.Context(), p.TenantID, p.ID)
	if err != nil {
		a.fail(c, err)
		return p, school.GuardianLink{}, false
	}
	for _, g := range links {
		if g.ID == gid {
			return p, g, true
		}
	}
	a.notFound(c)
	return p, school.GuardianLink{}, false
}

func (a *App) guardianPage(c *gin.Context, status int, p school.Pupil, g school.GuardianLink, form *school.GuardianInput, msg string) {
	ctx := c.Request.Context()
	u := user(c)
	d := guardianData{Pupil: p, Guardian: g, Form: school.GuardianInput{FirstName: g.FirstName, LastName: g.LastName, Email: g.Email,
		Phone: g.Phone, Address: g.Address, Language: g.Language}}
	if form != nil {
		d.Form = *form
	}
	kids, err := a.School.PupilsOfGuardian(ctx, p.TenantID, g.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, k := range kids {
		if !mayManagePupil(u, k) {
			continue // another school's child: not this admin's to see
		}
		links, err := a.School.GuardiansOfPupil(ctx, p.TenantID, k.ID)
		if err != nil {
			a.fail(c, err)
			return
		}
		gc := guardianChild{Pupil: k, Mine: mayManagePupil(u, k)}
		for _, l := range links {
			if l.ID == g.ID {
				gc.Relation, gc.Statements = l.Relation, l.Statements
			}
		}
		d.Children = append(d.Children, gc)
	}
	if msg != "" {
		a.formError(c, "pupil_guardian", "admin.guardian.title", "pupils", msg, d)
		return
	}
	a.render(c, status, "pupil_guardian", "admin.guardian.title", "pupils", d)
}

// guardianShow shows a guardian of the pupil.
func (a *App) guardianShow(c *gin.Context) {
	p, g, ok := a.guardianParams(c)
	if !ok {
		return
	}
	a.guardianPage(c, http.StatusOK, p, g, nil, "")
}

func guardianForm(c *gin.Context) school.GuardianInput {
	return school.GuardianInput{FirstName: c.PostForm("first_name"), LastName: c.PostForm("last_name"), Email: c.PostForm("email"),
		Phone: strings.TrimSpace(c.PostForm("phone")), Address: strings.TrimSpace(c.PostForm("address")), Language: c.PostForm("language")}
}

// guardianSave saves a guardian's contact and language (audited).
func (a *App) guardianSave(c *gin.Context) {
	p, g, ok := a.guardianParams(c)
	if !ok {
		return
	}
	u := user(c)
	in := guardianForm(c)
	if len(in.Phone) > 40 || len(in.Address) > 300 || strings.ContainsAny(in.Phone, "<>\r\n") {
		a.guardianPage(c, http.StatusUnprocessableEntity, p, g, &in, a.Catalog.T(lang(c), "admin.guardian.bad_contact"))
		return
	}
	in.ExternalRef = g.ExternalRef
	saved, err := a.School.UpdateGuardian(c.Request.Context(), u.TenantID, g.ID, in, u.Actor())
	switch {
	case errors.Is(err, school.ErrInvalid), errors.Is(err, school.ErrConflict):
		a.guardianPage(c, http.StatusUnprocessableEntity, p, g, &in, a.Catalog.T(lang(c), "admin.guardian.refused", err.Error()))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	a.flash(c, fmt.Sprintf("/admin/pupils/%d/guardians/%d", p.ID, g.ID), "admin.guardian.saved", saved.FirstName+" "+saved.LastName)
}

// guardianStatements says whether the guardian receives the statements of
// one of their children (child=, in the user's scope).
func (a *App) guardianStatements(c *gin.Context) {
	p, g, ok := a.guardianParams(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	child, _ := strconv.ParseInt(c.PostForm("child"), 10, 64)
	k, err := a.School.Pupil(ctx, u.TenantID, child)
	if err != nil || !mayManagePupil(u, k) {
		a.notFound(c)
		return
	}
	back := fmt.Sprintf("/admin/pupils/%d/guardians/%d", p.ID, g.ID)
	receives := c.PostForm("statements") == "1"
	err = a.School.SetGuardianStatements(ctx, u.TenantID, g.ID, k.ID, receives, u.Actor())
	switch {
	case errors.Is(err, school.ErrNotFound):
		a.notFound(c)
		return
	case errors.Is(err, school.ErrInvalid):
		a.flash(c, back, "admin.guardian.last_receiver", k.FirstName)
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	key := "admin.guardian.statements_off"
	if receives {
		key = "admin.guardian.statements_on"
	}
	a.flash(c, back, key, k.FirstName)
}

// guardianUnlink removes the guardian from the pupil (audited).
func (a *App) guardianUnlink(c *gin.Context) {
	p, g, ok := a.guardianParams(c)
	if !ok {
		return
	}
	u := user(c)
	if err := a.School.UnlinkGuardian(c.Request.Context(), u.TenantID, g.ID, p.ID, u.Actor()); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, fmt.Sprintf("/admin/pupils/%d", p.ID), "admin.guardian.unlinked", g.FirstName+" "+g.LastName, p.FirstName)
}

// guardianAdd adds a guardian to the pupil: the tenant's guardian with
// this email when there is one (their other details are left as they
// are), otherwise a new guardian from the form.
func (a *App) guardianAdd(c *gin.Context) {
	p, ok := a.pupilParam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	back := fmt.Sprintf("/admin/pupils/%d", p.ID)
	in := guardianForm(c)
	relation := strings.TrimSpace(c.PostForm("relation"))
	if len(relation) > 40 {
		relation = relation[:40]
	}
	reject := func(msg string) {
		d, err := a.pupilData(c, p)
		if err != nil {
			a.fail(c, err)
			return
		}
		d.GuardianForm, d.Relation = in, relation
		a.formError(c, "pupil", "admin.pupil.title", "pupils", msg, d)
	}
	if len(in.Phone) > 40 || len(in.Address) > 300 || strings.ContainsAny(in.Phone, "<>\r\n") {
		reject(a.Catalog.T(l, "admin.guardian.bad_contact"))
		return
	}
	var g school.Guardian
	var err error
	email, eerr := school.NormaliseEmail(in.Email)
	if eerr == nil && email != "" {
		g, err = a.School.GuardianByEmail(ctx, u.TenantID, email)
	}
	if eerr != nil || email == "" || errors.Is(err, school.ErrNotFound) {
		g, err = a.School.CreateGuardian(ctx, u.TenantID, in, u.Actor())
	}
	if errors.Is(err, school.ErrInvalid) || errors.Is(err, school.ErrConflict) {
		reject(a.Catalog.T(l, "admin.guardian.refused", err.Error()))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if err := a.School.LinkGuardian(ctx, u.TenantID, g.ID, p.ID, relation, u.Actor()); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, back, "admin.guardian.linked", g.FirstName+" "+g.LastName, p.FirstName)
}
