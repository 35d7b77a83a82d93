package backoffice

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/internal/i18n"
	"tartine/school"
	"tartine/statements"
)

// Statements (/admin/statements, admins): the periods of a school year
// (set by an organising-body admin before the year starts, 1 to 4 months
// each), the statement runs (preview → issue → send, organising-body
// admins), each statement as families see it with its PDF, re-issue and
// sends, and the annual estimates with their proof of sending and the
// override of the "estimate sent" rule (admin, with a reason). Every
// refusal of a rule names it and its source. A staff user bound to one
// school sees only that school's statements. The accountant's aged
// receivables, write-offs and reminders are in statements_books.go.

// mayRunStatements reports whether the user may set periods and issue or
// send statements: an organising-body admin (bound to no school).
func mayRunStatements(u school.StaffUser) bool { return u.Can(school.RoleAdmin) && u.SchoolID == 0 }

// stmtFail shows a statements refusal or invalid input on the next page,
// or fails the request.
func (a *App) stmtFail(c *gin.Context, to string, err error) {
	var re *statements.RuleError
	switch {
	case errors.As(err, &re):
		a.flash(c, to, "admin.statements.error.refused", a.Catalog.T(lang(c), "statements.rule."+re.Rule, re.Source))
	case errors.Is(err, statements.ErrInvalid), errors.Is(err, statements.ErrUnchanged):
		a.flash(c, to, "admin.statements.error.invalid", err.Error())
	case errors.Is(err, statements.ErrNotFound):
		a.notFound(c)
	default:
		a.fail(c, err)
	}
}

func (a *App) statementYear(s string) string {
	if _, err := statements.ParseSchoolYear(s); err == nil {
		return s
	}
	return statements.SchoolYearOf(a.Now().In(brussels()).AddDate(0, 3, 0)) // from June, next year's
}

// schoolContact is a school with the contact on its statements.
type schoolContact struct {
	School  school.School
	Contact string
}

type statementsData struct {
	Contacts     []schoolContact
	Year         string
	Years        []string
	Periods      []statements.Period
	PeriodsText  string
	Runs         []statements.Run
	PeriodLabel  map[int64]string
	EstimateSent bool
	MayRun       bool
	// Asked are the instalment plans waiting for a decision (of the
	// user's school when it has one), with their statements' ids.
	Asked []statements.Plan
}

// statementsHome shows a year's periods, runs and estimate state.
func (a *App) statementsHome(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	d := statementsData{Year: a.statementYear(c.Query("year")), MayRun: mayRunStatements(u), PeriodLabel: map[int64]string{}}
	now := a.Now().In(brussels())
	for _, y := range []string{statements.SchoolYearOf(now.AddDate(-1, 0, 0)), statements.SchoolYearOf(now), statements.SchoolYearOf(now.AddDate(1, 0, 0))} {
		if !slices.Contains(d.Years, y) {
			d.Years = append(d.Years, y)
		}
	}
	var err error
	if d.Periods, err = a.Statements.Periods(ctx, u.TenantID, d.Year); err != nil {
		a.fail(c, err)
		return
	}
	var lines []string
	for _, p := range d.Periods {
		lines = append(lines, p.From.Format("02/01/2006")+" - "+p.To.Format("02/01/2006"))
		d.PeriodLabel[p.ID] = p.Label()
	}
	d.PeriodsText = strings.Join(lines, "\n")
	all, err := a.Statements.Runs(ctx, u.TenantID, 0)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, r := range all {
		if _, ok := d.PeriodLabel[r.PeriodID]; ok {
			d.Runs = append(d.Runs, r)
		}
	}
	if d.EstimateSent, err = a.Statements.EstimateSentOrOverridden(ctx, u.TenantID, d.Year); err != nil {
		a.fail(c, err)
		return
	}
	schools, err := a.visibleSchools(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, sc := range schools {
		ct, err := a.Statements.Contact(ctx, u.TenantID, sc.ID)
		if err != nil {
			a.fail(c, err)
			return
		}
		d.Contacts = append(d.Contacts, schoolContact{School: sc, Contact: ct})
	}
	if d.Asked, err = a.askedPlans(c); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "statements", "admin.statements.title", "statements", d)
}

// parsePeriods reads one period per line: "01/09/2026 - 31/10/2026".
func parsePeriods(s string) ([]statements.PeriodInput, bool) {
	var out []statements.PeriodInput
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '-' || r == '–' || r == '\t' || r == ';' })
		if len(f) != 2 {
			return nil, false
		}
		var ds [2]time.Time
		for i, x := range f {
			d, err := time.Parse("02/01/2006", x)
			if err != nil {
				if d, err = time.Parse("2/1/2006", x); err != nil {
					return nil, false
				}
			}
			ds[i] = d
		}
		out = append(out, statements.PeriodInput{From: ds[0], To: ds[1]})
	}
	return out, len(out) > 0
}

// setPeriods replaces a year's periods (organising-body admins).
func (a *App) setPeriods(c *gin.Context) {
	u := user(c)
	year := a.statementYear(c.PostForm("year"))
	back := "/admin/statements?year=" + year
	if !mayRunStatements(u) {
		a.forbidden(c)
		return
	}
	ps, ok := parsePeriods(c.PostForm("periods"))
	if !ok {
		a.flash(c, back, "admin.statements.error.periods_format")
		return
	}
	if _, err := a.Statements.SetPeriods(c.Request.Context(), u.TenantID, year, ps, u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.periods_saved", year)
}

type previewRow struct {
	statements.Content
	Lines int
}

type previewData struct {
	Period  statements.Period
	Preview statements.Preview
	Rows    []previewRow
	MayRun  bool
}

// previewPeriod shows what issuing a period would produce (nothing is
// written), to organising-body admins: a period and its run cover every
// school of the organising body.
func (a *App) previewPeriod(c *gin.Context) {
	u := user(c)
	if !mayRunStatements(u) {
		a.notFound(c)
		return
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	pv, err := a.Statements.Preview(c.Request.Context(), u.TenantID, id)
	if err != nil {
		a.stmtFail(c, "/admin/statements", err)
		return
	}
	d := previewData{Period: pv.Period, Preview: pv, MayRun: mayRunStatements(u)}
	for _, st := range pv.Statements {
		if u.SchoolID != 0 && st.School.ID != u.SchoolID {
			continue
		}
		d.Rows = append(d.Rows, previewRow{Content: st, Lines: len(st.Lines)})
	}
	a.render(c, http.StatusOK, "statements_preview", "admin.statements.preview.title", "statements", d)
}

// issuePeriod issues a period's statements (organising-body admins).
func (a *App) issuePeriod(c *gin.Context) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	back := fmt.Sprintf("/admin/statements/periods/%d", id)
	if !mayRunStatements(u) {
		a.forbidden(c)
		return
	}
	run, err := a.Statements.Issue(c.Request.Context(), u.TenantID, id, u.Actor(), nil)
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, fmt.Sprintf("/admin/statements/runs/%d", run.ID), "admin.statements.issued", strconv.Itoa(run.Statements), i18n.FormatEUR(run.Total, lang(c)))
}

// overrideEstimate lets a year's statements be issued without a sent
// estimate (organising-body admins, with a reason, audited).
func (a *App) overrideEstimate(c *gin.Context) {
	u := user(c)
	year := a.statementYear(c.PostForm("year"))
	back := "/admin/statements?year=" + year
	if !mayRunStatements(u) {
		a.forbidden(c)
		return
	}
	if err := a.Statements.OverrideEstimate(c.Request.Context(), u.TenantID, year, c.PostForm("reason"), u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.overridden", year)
}

type runData struct {
	Run        statements.Run
	Statements []statements.Statement
	MayRun     bool
}

// runPage lists a run's statements (organising-body admins; a school's
// admin finds the school's statements on its pupils' pages).
func (a *App) runPage(c *gin.Context) {
	u := user(c)
	if !mayRunStatements(u) {
		a.notFound(c)
		return
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	ctx := c.Request.Context()
	runs, err := a.Statements.Runs(ctx, u.TenantID, 0)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := runData{MayRun: mayRunStatements(u)}
	for _, r := range runs {
		if r.ID == id {
			d.Run = r
		}
	}
	if d.Run.ID == 0 {
		a.notFound(c)
		return
	}
	sts, err := a.Statements.OfRun(ctx, u.TenantID, id)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, st := range sts {
		if u.SchoolID == 0 || st.Content.School.ID == u.SchoolID {
			d.Statements = append(d.Statements, st)
		}
	}
	a.render(c, http.StatusOK, "statements_run", "admin.statements.run.title", "statements", d)
}

// sendRun emails a run's statements to the guardians (organising-body
// admins): a link to the portal, never an attachment.
func (a *App) sendRun(c *gin.Context) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	back := fmt.Sprintf("/admin/statements/runs/%d", id)
	if !mayRunStatements(u) {
		a.forbidden(c)
		return
	}
	rep, err := a.Statements.Send(c.Request.Context(), u.TenantID, id, a.BaseURL+"/portal", u.Actor(), nil)
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.sent", strconv.Itoa(rep.Sent), strconv.Itoa(rep.NoEmail), strconv.Itoa(rep.Failed))
}

type statementData struct {
	Statement statements.Statement
	HTML      template.HTML
	Sends     []statements.Send
	Versions  []statements.Statement
	Guardians map[int64]string
	Plans     []statements.Plan // instalment plans asked on the statement
}

// statementFor loads a statement the user may see.
func (a *App) statementFor(c *gin.Context) (statements.Statement, bool) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	st, err := a.Statements.Get(c.Request.Context(), u.TenantID, id)
	if err != nil {
		a.stmtFail(c, "/admin/statements", err)
		return st, false
	}
	if u.SchoolID != 0 && st.Content.School.ID != u.SchoolID {
		a.notFound(c)
		return st, false
	}
	return st, true
}

// statementPage shows one statement as the families see it.
func (a *App) statementPage(c *gin.Context) {
	st, ok := a.statementFor(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d := statementData{Statement: st, Guardians: map[int64]string{}}
	var err error
	if d.HTML, err = a.Statements.HTML(st.Content, lang(c)); err != nil {
		a.fail(c, err)
		return
	}
	if d.Sends, err = a.Statements.SendsOf(ctx, st.TenantID, st.ID); err != nil {
		a.fail(c, err)
		return
	}
	all, err := a.Statements.OfPupil(ctx, st.TenantID, st.PupilID)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, v := range all {
		if v.Number == st.Number {
			d.Versions = append(d.Versions, v)
		}
	}
	for _, ad := range st.Content.Addressees {
		d.Guardians[ad.GuardianID] = ad.Name
	}
	if d.Plans, err = a.Statements.Plans(ctx, st.TenantID, st.ID); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "statement", "admin.statements.statement.title", "statements", d)
}

// statementPDF serves the statement's PDF.
func (a *App) statementPDF(c *gin.Context) {
	st, ok := a.statementFor(c)
	if !ok {
		return
	}
	pdf, err := a.Statements.PDF(st.Content, lang(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`inline; filename="%s-v%d.pdf"`, st.Number, st.Version))
	c.Header("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, "application/pdf", pdf)
}

// reissueStatement records a new version of a statement.
func (a *App) reissueStatement(c *gin.Context) {
	st, ok := a.statementFor(c)
	if !ok {
		return
	}
	u := user(c)
	back := fmt.Sprintf("/admin/statements/%d", st.ID)
	nv, err := a.Statements.Reissue(c.Request.Context(), u.TenantID, st.ID, u.Actor())
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, fmt.Sprintf("/admin/statements/%d", nv.ID), "admin.statements.reissued", nv.Number, strconv.Itoa(nv.Version))
}
