package backoffice

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/statements"
)

// Receivables (/admin/books/receivables, accountants): what each pupil owes
// on issued statements by age band, with a warning for debts nearing the
// one-year prescription of school invoices; the audited write-off to
// expense:write-off; the polite reminder to the guardians (never to the
// pupil); and the fee lines that are on no issued statement, which the law
// forbids claiming (Tartine refuses to remind them).

type receivablesData struct {
	Rows        []statements.Receivable
	Bands       []string
	Unclaimable []fees.Line
	WarnDays    int
}

// mountStatements registers the statements pages on the admin group (ad)
// and the accountant group (ac).
func (a *App) mountStatements(ad, ac *gin.RouterGroup) {
	ad.GET("/statements", a.statementsHome)
	ad.POST("/statements/periods", a.setPeriods)
	ad.POST("/statements/override", a.overrideEstimate)
	ad.GET("/statements/periods/:id", a.previewPeriod)
	ad.POST("/statements/periods/:id/issue", a.issuePeriod)
	ad.GET("/statements/runs/:id", a.runPage)
	ad.POST("/statements/runs/:id/send", a.sendRun)
	ad.GET("/statements/estimates", a.estimatesPage)
	ad.POST("/statements/estimates", a.saveEstimate)
	ad.GET("/statements/estimates/:id", a.estimatePage)
	ad.GET("/statements/estimates/:id/pdf", a.estimatePDF)
	ad.POST("/statements/estimates/:id/send", a.sendEstimate)
	ad.GET("/statements/split/:pupil", a.splitPage)
	ad.POST("/statements/split/:pupil", a.saveSplit)
	ad.POST("/statements/contact", a.saveContact)
	ad.GET("/statements/:id", a.statementPage)
	ad.GET("/statements/:id/pdf", a.statementPDF)
	ad.POST("/statements/:id/reissue", a.reissueStatement)
	ad.POST("/statements/:id/plans/:plan", a.decidePlan) // statements_plans.go
	ac.GET("/receivables", a.receivables)
	ac.POST("/receivables/write-off", a.writeOff)
	ac.POST("/receivables/remind", a.remind)
}

// receivables shows the aged receivables and the unclaimable fee lines.
func (a *App) receivables(c *gin.Context) {
	u := user(c)
	ctx := c.Request.Context()
	now := a.Now()
	rs, err := a.Statements.AgedReceivables(ctx, u.TenantID, now)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := receivablesData{WarnDays: statements.WarnDays}
	prev := 0
	for _, b := range statements.AgeBands {
		d.Bands = append(d.Bands, fmt.Sprintf("%d–%d", prev, b))
		prev = b + 1
	}
	d.Bands = append(d.Bands, fmt.Sprintf("> %d", prev-1))
	for _, r := range rs {
		if u.SchoolID != 0 {
			pu, err := a.School.Pupil(ctx, u.TenantID, r.PupilID)
			if err != nil || pu.SchoolID != u.SchoolID {
				continue
			}
		}
		d.Rows = append(d.Rows, r)
	}
	lines, err := a.Statements.UnclaimableLines(ctx, u.TenantID, now.In(brussels()))
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, l := range lines {
		if u.SchoolID == 0 || l.SchoolID == u.SchoolID {
			d.Unclaimable = append(d.Unclaimable, l)
		}
	}
	a.render(c, http.StatusOK, "statements_receivables", "admin.statements.receivables.title", "receivables", d)
}

// writeOff books an amount as lost (audited).
func (a *App) writeOff(c *gin.Context) {
	u := user(c)
	back := "/admin/books/receivables"
	pupil, _ := strconv.ParseInt(c.PostForm("pupil"), 10, 64)
	pu, err := a.School.Pupil(c.Request.Context(), u.TenantID, pupil)
	if err != nil || !mayManagePupil(u, pu) {
		a.notFound(c)
		return
	}
	amount, err := i18n.ParseAmount(c.PostForm("amount"), i18n.RejectNegative)
	if err != nil {
		a.flash(c, back, "admin.statements.error.invalid", err.Error())
		return
	}
	if _, err := a.Statements.WriteOff(c.Request.Context(), u.TenantID, pupil, amount, c.PostForm("reason"), u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.written_off", i18n.FormatEUR(amount, lang(c)), pu.FirstName+" "+pu.LastName)
}

// remind sends a polite reminder of a statement to its guardians.
func (a *App) remind(c *gin.Context) {
	u := user(c)
	back := "/admin/books/receivables"
	id, _ := strconv.ParseInt(c.PostForm("statement"), 10, 64)
	st, err := a.Statements.Get(c.Request.Context(), u.TenantID, id)
	if err != nil || (u.SchoolID != 0 && st.Content.School.ID != u.SchoolID) {
		a.notFound(c)
		return
	}
	rep, err := a.Statements.Remind(c.Request.Context(), u.TenantID, id, a.BaseURL+"/portal", u.Actor())
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	a.flash(c, back, "admin.statements.reminded", st.Number, strconv.Itoa(rep.Sent))
}
