package backoffice

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/school"
)

const userKey = "backoffice.user"

// requireStaff loads the active staff user of the session, or sends the
// browser to the staff login (which comes back to the page asked for).
func (a *App) requireStaff(c *gin.Context) {
	p := websession.CurrentPrincipal(c)
	if p == nil || p.Kind != websession.KindStaff {
		a.toLogin(c)
		return
	}
	u, err := a.School.StaffUser(c.Request.Context(), p.TenantID, p.ID)
	if errors.Is(err, school.ErrNotFound) || (err == nil && !u.Active) {
		_ = a.Sessions.Logout(c)
		a.toLogin(c)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Set(userKey, u)
	c.Next()
}

// toLogin sends the browser to the staff login, which comes back to the
// page asked for (a GET) or to the back office's home (a form post).
func (a *App) toLogin(c *gin.Context) {
	next := "/admin/"
	if r := c.Request; r.Method == http.MethodGet || r.Method == http.MethodHead {
		next = websession.LocalRedirect(r.URL.RequestURI(), "/admin", next)
	}
	c.Redirect(http.StatusSeeOther, web.StaffLoginURL(next))
	c.Abort()
}

// require lets through users who may act as role (admins may act as any).
func (a *App) require(role school.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !user(c).Can(role) {
			a.forbidden(c)
			return
		}
		c.Next()
	}
}

// requireAny lets through admins and accountants (the home page).
func (a *App) requireAny(c *gin.Context) {
	u := user(c)
	if !u.Can(school.RoleAdmin) && !u.Can(school.RoleAccountant) {
		a.forbidden(c)
		return
	}
	c.Next()
}

// user is the staff user loaded by requireStaff.
func user(c *gin.Context) school.StaffUser {
	v, _ := c.Get(userKey)
	u, _ := v.(school.StaffUser)
	return u
}

// visibleSchools returns the schools the user may manage: all the tenant's,
// or the one the user is bound to.
func (a *App) visibleSchools(c *gin.Context) ([]school.School, error) {
	u := user(c)
	all, err := a.School.Schools(c.Request.Context(), u.TenantID)
	if err != nil {
		return nil, err
	}
	if u.SchoolID == 0 {
		return all, nil
	}
	var out []school.School
	for _, s := range all {
		if s.ID == u.SchoolID {
			out = append(out, s)
		}
	}
	return out, nil
}

// schoolFor returns the visible school with this id, the first visible
// school when id is 0, or ErrNotFound.
func (a *App) schoolFor(c *gin.Context, id int64) (school.School, []school.School, error) {
	list, err := a.visibleSchools(c)
	if err != nil {
		return school.School{}, nil, err
	}
	for _, s := range list {
		if id == 0 || s.ID == id {
			return s, list, nil
		}
	}
	return school.School{}, list, school.ErrNotFound
}

// mayManagePupil reports whether the user's school scope covers the pupil.
func mayManagePupil(u school.StaffUser, p school.Pupil) bool {
	return u.SchoolID == 0 || u.SchoolID == p.SchoolID
}
