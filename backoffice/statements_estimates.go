package backoffice

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/school"
	"tartine/statements"
)

// Estimates (/admin/statements/estimates, admins): the annual estimate of
// fees per school year, school and level or class — each change a new
// version — as families see it (HTML and A4 PDF), sent to every guardian
// of the pupils it applies to, with the proof of sending (who, when,
// which version).

type estimatesData struct {
	Year      string
	Years     []string
	School    school.School
	Schools   []school.School
	Estimates []statements.Estimate
	Headings  string // the form's headings as typed
	Scope     string
}

// estimatesPage lists a year's estimates of a school and the form that
// adds a version.
func (a *App) estimatesPage(c *gin.Context) {
	u := user(c)
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	d := estimatesData{Year: a.statementYear(c.Query("year"))}
	now := a.Now().In(brussels())
	d.Years = []string{statements.SchoolYearOf(now), statements.SchoolYearOf(now.AddDate(1, 0, 0))}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, sid); err != nil {
		a.fail(c, err)
		return
	}
	all, err := a.Statements.Estimates(c.Request.Context(), u.TenantID, d.Year)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, e := range all {
		if e.SchoolID == d.School.ID {
			d.Estimates = append(d.Estimates, e)
		}
	}
	a.render(c, http.StatusOK, "statements_estimates", "admin.statements.estimates.title", "statements", d)
}

// parseHeadings reads one heading per line: "Piscine; obligatoire; 36,00".
func parseHeadings(s string) ([]statements.EstimateHeading, error) {
	var out []statements.EstimateHeading
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ";")
		if len(f) != 3 {
			return nil, fmt.Errorf("ligne %d : « rubrique ; obligatoire|facultatif ; montant »", i+1)
		}
		amt, err := i18n.ParseAmount(strings.TrimSpace(f[2]), i18n.RejectNegative)
		if err != nil {
			return nil, fmt.Errorf("ligne %d : %v", i+1, err)
		}
		out = append(out, statements.EstimateHeading{Heading: strings.TrimSpace(f[0]), Kind: strings.ToLower(strings.TrimSpace(f[1])), Amount: amt})
	}
	return out, nil
}

// saveEstimate records a new version of an estimate.
func (a *App) saveEstimate(c *gin.Context) {
	u := user(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil {
		a.notFound(c)
		return
	}
	year := a.statementYear(c.PostForm("year"))
	back := fmt.Sprintf("/admin/statements/estimates?school=%d&year=%s", sc.ID, year)
	hs, err := parseHeadings(c.PostForm("headings"))
	if err != nil {
		a.flash(c, back, "admin.statements.error.invalid", err.Error())
		return
	}
	e, err := a.Statements.SaveEstimate(c.Request.Context(), u.TenantID, statements.EstimateInput{SchoolYear: year, SchoolID: sc.ID,
		Scope: c.PostForm("scope"), Headings: hs, Note: c.PostForm("note")}, u.Actor())
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, fmt.Sprintf("/admin/statements/estimates/%d", e.ID), "admin.statements.estimate_saved", e.Content.Scope, strconv.Itoa(e.Content.Version))
}

type estimateData struct {
	Estimate statements.Estimate
	HTML     template.HTML
	Sends    []statements.EstimateSend
	Total    decimal.Decimal
}

func (a *App) estimateFor(c *gin.Context) (statements.Estimate, bool) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	e, err := a.Statements.Estimate(c.Request.Context(), u.TenantID, id)
	if err != nil {
		a.stmtFail(c, "/admin/statements/estimates", err)
		return e, false
	}
	if u.SchoolID != 0 && e.SchoolID != u.SchoolID {
		a.notFound(c)
		return e, false
	}
	return e, true
}

// estimatePage shows an estimate version and its proof of sending.
func (a *App) estimatePage(c *gin.Context) {
	e, ok := a.estimateFor(c)
	if !ok {
		return
	}
	d := estimateData{Estimate: e}
	var err error
	if d.HTML, err = a.Statements.EstimateHTML(e.Content, lang(c)); err != nil {
		a.fail(c, err)
		return
	}
	if d.Sends, err = a.Statements.EstimateSends(c.Request.Context(), e.TenantID, e.ID); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "statements_estimate", "admin.statements.estimate.title", "statements", d)
}

// estimatePDF serves an estimate's PDF.
func (a *App) estimatePDF(c *gin.Context) {
	e, ok := a.estimateFor(c)
	if !ok {
		return
	}
	pdf, err := a.Statements.EstimatePDF(e.Content, lang(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`inline; filename="estimation-%s-%s-v%d.pdf"`, e.Content.SchoolYear, e.Content.Scope, e.Content.Version))
	c.Data(http.StatusOK, "application/pdf", pdf)
}

// sendEstimate emails the estimate to the guardians, keeping the proof.
func (a *App) sendEstimate(c *gin.Context) {
	e, ok := a.estimateFor(c)
	if !ok {
		return
	}
	u := user(c)
	back := fmt.Sprintf("/admin/statements/estimates/%d", e.ID)
	n, err := a.Statements.SendEstimate(c.Request.Context(), u.TenantID, e.ID, a.BaseURL+"/portal", u.Actor())
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.estimate_sent", strconv.Itoa(n))
}
