package backoffice

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/school"
	"tartine/statements"
)

// Statement settings (admins): how a pupil's statements are split between
// separated guardians (none, equal shares, or each fee category to a named
// guardian, each payer with an amount and communication of their own),
// and each school's contact printed on its statements.

type splitData struct {
	Pupil      school.Pupil
	Guardians  []school.GuardianLink
	Mode       string
	Lines      map[string]int64
	Categories []string
}

// Line returns the guardian of a category in the form ("*": the rest).
func (d splitData) Line(cat string) int64 { return d.Lines[cat] }

func (a *App) splitPupil(c *gin.Context) (school.Pupil, bool) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("pupil"), 10, 64)
	p, err := a.School.Pupil(c.Request.Context(), u.TenantID, id)
	if err != nil || !mayManagePupil(u, p) {
		a.notFound(c)
		return p, false
	}
	return p, true
}

// splitPage shows a pupil's split form.
func (a *App) splitPage(c *gin.Context) {
	p, ok := a.splitPupil(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d := splitData{Pupil: p, Categories: a.Fees.Rules().Categories()}
	var err error
	if d.Guardians, err = a.School.GuardiansOfPupil(ctx, p.TenantID, p.ID); err != nil {
		a.fail(c, err)
		return
	}
	if d.Mode, d.Lines, err = a.Statements.Split(ctx, p.TenantID, p.ID); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "statements_split", "admin.statements.split.title", "statements", d)
}

// saveSplit records a pupil's split (audited).
func (a *App) saveSplit(c *gin.Context) {
	p, ok := a.splitPupil(c)
	if !ok {
		return
	}
	u := user(c)
	back := fmt.Sprintf("/admin/statements/split/%d", p.ID)
	mode := c.PostForm("mode")
	lines := map[string]int64{}
	if mode == statements.SplitLines {
		cats := append([]string{"*"}, a.Fees.Rules().Categories()...)
		for _, cat := range cats {
			if g, _ := strconv.ParseInt(c.PostForm("line_"+cat), 10, 64); g != 0 {
				lines[cat] = g
			}
		}
	}
	if err := a.Statements.SetSplit(c.Request.Context(), u.TenantID, p.ID, mode, lines, u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.split.saved", p.FirstName+" "+p.LastName)
}

// saveContact sets the contact printed on a school's statements (audited).
func (a *App) saveContact(c *gin.Context) {
	u := user(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil {
		a.notFound(c)
		return
	}
	back := "/admin/statements"
	if err := a.Statements.SetContact(c.Request.Context(), u.TenantID, sc.ID, c.PostForm("contact"), u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.contact_saved", sc.Name)
}
