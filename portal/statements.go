package portal

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/payments"
	"tartine/statements"
)

// Statements in the portal: a child's periodic statements addressed to the
// account's guardian (every version, the latest first), each as a page for
// phones with the EPC QR code to pay it by transfer and its A4 PDF, and
// the year's estimate of fees. A statement or estimate is shown only to a
// guardian it is addressed to (never to a pupil: there is no pupil login).
// The links in the emails (/portal/statements/:id, /portal/estimates/:id)
// lead to the child's page after the login.

type statementsListData struct {
	Child      child
	Statements []statements.Statement
	Estimates  []statements.Estimate
}

// stmts returns the statements service.
func (a *App) stmts() *statements.Service { return a.Statements }

// childStatements lists the child's statements and estimates.
func (a *App) childStatements(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	all, err := a.stmts().OfPupil(ctx, ch.TenantID, ch.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := statementsListData{Child: ch}
	for _, st := range all {
		if st.Addressed(ch.GuardianID) {
			d.Statements = append(d.Statements, st)
		}
	}
	pu, err := a.School.Pupil(ctx, ch.TenantID, ch.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	now := a.Now().In(brussels())
	for _, y := range []string{statements.SchoolYearOf(now), statements.SchoolYearOf(now.AddDate(0, 3, 0))} {
		e, err := a.stmts().EstimateFor(ctx, ch.TenantID, y, pu)
		if errors.Is(err, statements.ErrNotFound) {
			continue
		}
		if err != nil {
			a.fail(c, err)
			return
		}
		if len(d.Estimates) == 0 || d.Estimates[0].ID != e.ID {
			d.Estimates = append(d.Estimates, e)
		}
	}
	a.render(c, http.StatusOK, "statements", "portal.statements.title", d, acct)
}

// childStatement loads a statement of the child addressed to the
// account's guardian, or answers 404.
func (a *App) childStatement(c *gin.Context) (*account, child, statements.Statement, bool) {
	acct, ch, ok := a.child(c)
	if !ok {
		return nil, ch, statements.Statement{}, false
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	st, err := a.stmts().Get(c.Request.Context(), ch.TenantID, id)
	if errors.Is(err, statements.ErrNotFound) || (err == nil && (st.PupilID != ch.ID || !st.Addressed(ch.GuardianID))) {
		a.notFound(c)
		return nil, ch, st, false
	}
	if err != nil {
		a.fail(c, err)
		return nil, ch, st, false
	}
	return acct, ch, st, true
}

type statementPageData struct {
	Child     child
	Statement statements.Statement
	HTML      template.HTML
	// Wallet payment: offered on the latest version when something is
	// outstanding; Available is the prepaid account's available balance.
	Outstanding decimal.Decimal
	Available   decimal.Decimal
	Online      bool             // card/Bancontact through Stripe Checkout
	PaidByCard  bool             // back from Checkout (the webhook books the payment)
	Plan        *statements.Plan // the guardian's instalment plan on the statement
	CanAskPlan  bool             // over 50 € owed and no plan asked yet
}

// childStatementPage shows one statement for phones.
func (a *App) childStatementPage(c *gin.Context) {
	acct, ch, st, ok := a.childStatement(c)
	if !ok {
		return
	}
	html, err := a.stmts().HTML(st.Content, a.lang(c, acct))
	if err != nil {
		a.fail(c, err)
		return
	}
	_, online := a.TopUps.(StatementCheckout)
	d := statementPageData{Child: ch, Statement: st, HTML: html, Online: online, PaidByCard: c.Query("paid") == "card"}
	if st.Latest {
		if d.Outstanding, err = a.stmts().Outstanding(c.Request.Context(), ch.TenantID, ch.ID, a.Now()); err != nil {
			a.fail(c, err)
			return
		}
		if ch.WalletID != 0 && d.Outstanding.IsPositive() {
			w, err := a.Booking.Wallet(c.Request.Context(), ch.TenantID, ch.WalletID)
			if err != nil {
				a.fail(c, err)
				return
			}
			d.Available = w.Available
		}
	}
	plans, err := a.stmts().Plans(c.Request.Context(), ch.TenantID, st.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	for i := range plans {
		if plans[i].GuardianID == ch.GuardianID {
			d.Plan = &plans[i]
		}
	}
	if d.Plan == nil && st.Latest {
		if _, owed, err := a.stmts().Owed(c.Request.Context(), ch.TenantID, st.ID, ch.GuardianID); err == nil {
			d.CanAskPlan = owed.GreaterThan(statements.FacilitiesThreshold)
		}
	}
	c.Header("Cache-Control", "private, no-store")
	a.render(c, http.StatusOK, "statement", "portal.statements.one", d, acct)
}

// payFromWallet pays the statement from the child's prepaid account, on
// the guardian's explicit choice (the confirmation box).
func (a *App) payFromWallet(c *gin.Context) {
	acct, ch, st, ok := a.childStatement(c)
	if !ok {
		return
	}
	back := fmt.Sprintf("%s/statements/%d", ch.Path(), st.ID)
	if c.PostForm("confirm") != "yes" {
		a.flash(c, back, "portal.statements.confirm_needed")
		return
	}
	t, err := a.stmts().PayFromWallet(c.Request.Context(), ch.TenantID, st.ID, ch.GuardianID, fmt.Sprint("account:", acct.ID))
	switch {
	case errors.Is(err, statements.ErrWalletShort):
		a.flash(c, back, "portal.statements.wallet_short")
		return
	case errors.Is(err, statements.ErrInvalid):
		a.flash(c, back, "portal.statements.nothing_to_pay")
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	var paid decimal.Decimal
	for _, p := range t.Postings {
		if p.AccountID == ch.WalletID {
			paid = p.Amount
		}
	}
	a.flash(c, back, "portal.statements.paid", i18n.FormatEUR(paid, a.lang(c, acct)))
}

// childStatementPDF serves the statement's A4 PDF.
func (a *App) childStatementPDF(c *gin.Context) {
	acct, _, st, ok := a.childStatement(c)
	if !ok {
		return
	}
	pdf, err := a.stmts().PDF(st.Content, a.lang(c, acct))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`inline; filename="%s-v%d.pdf"`, st.Number, st.Version))
	c.Header("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, "application/pdf", pdf)
}

// childEstimate loads an estimate that applies to the child, or answers 404.
func (a *App) childEstimate(c *gin.Context) (*account, child, statements.Estimate, bool) {
	acct, ch, ok := a.child(c)
	if !ok {
		return nil, ch, statements.Estimate{}, false
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	e, err := a.stmts().Estimate(c.Request.Context(), ch.TenantID, id)
	if err == nil {
		var pu, perr = a.School.Pupil(c.Request.Context(), ch.TenantID, ch.ID)
		if perr != nil || pu.SchoolID != e.SchoolID || (pu.Level != e.Content.Scope && pu.ClassCode != e.Content.Scope) {
			err = statements.ErrNotFound
		}
	}
	if errors.Is(err, statements.ErrNotFound) {
		a.notFound(c)
		return nil, ch, e, false
	}
	if err != nil {
		a.fail(c, err)
		return nil, ch, e, false
	}
	return acct, ch, e, true
}

type estimatePageData struct {
	Child    child
	Estimate statements.Estimate
	HTML     template.HTML
}

// childEstimatePage shows the estimate for phones.
func (a *App) childEstimatePage(c *gin.Context) {
	acct, ch, e, ok := a.childEstimate(c)
	if !ok {
		return
	}
	html, err := a.stmts().EstimateHTML(e.Content, a.lang(c, acct))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "estimate", "portal.statements.estimate", estimatePageData{Child: ch, Estimate: e, HTML: html}, acct)
}

// childEstimatePDF serves the estimate's A4 PDF.
func (a *App) childEstimatePDF(c *gin.Context) {
	acct, _, e, ok := a.childEstimate(c)
	if !ok {
		return
	}
	pdf, err := a.stmts().EstimatePDF(e.Content, a.lang(c, acct))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`inline; filename="estimation-%s-v%d.pdf"`, e.Content.SchoolYear, e.Content.Version))
	c.Data(http.StatusOK, "application/pdf", pdf)
}

// statementLink follows an email's link (/portal/statements/:id) to the
// child's statement page, when the account is a guardian it is addressed
// to; 404 otherwise.
func (a *App) statementLink(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	kids, err := a.children(c.Request.Context(), acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, ch := range kids {
		st, err := a.stmts().Get(c.Request.Context(), ch.TenantID, id)
		if err == nil && st.PupilID == ch.ID && st.Addressed(ch.GuardianID) {
			c.Redirect(http.StatusSeeOther, fmt.Sprintf("%s/statements/%d", ch.Path(), st.ID))
			return
		}
	}
	a.notFound(c)
}

// estimateLink follows an email's link (/portal/estimates/:id) to the
// page of a child the estimate applies to; 404 otherwise.
func (a *App) estimateLink(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	kids, err := a.children(c.Request.Context(), acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, ch := range kids {
		e, err := a.stmts().Estimate(c.Request.Context(), ch.TenantID, id)
		if err != nil {
			continue
		}
		pu, err := a.School.Pupil(c.Request.Context(), ch.TenantID, ch.ID)
		if err == nil && pu.SchoolID == e.SchoolID && (pu.Level == e.Content.Scope || pu.ClassCode == e.Content.Scope) {
			c.Redirect(http.StatusSeeOther, fmt.Sprintf("%s/estimates/%d", ch.Path(), e.ID))
			return
		}
	}
	a.notFound(c)
}

// StatementCheckout starts the online payment of a fee statement
// (payments.Stripe); the portal uses it when Deps.TopUps implements it.
type StatementCheckout interface {
	StartStatementPayment(ctx context.Context, req payments.StatementPaymentRequest) (payments.TopUp, error)
}

// payByCard sends the guardian to Stripe Checkout for what they owe on the
// statement (card or Bancontact); Checkout brings them back to the
// statement page.
func (a *App) payByCard(c *gin.Context) {
	acct, ch, st, ok := a.childStatement(c)
	if !ok {
		return
	}
	back := fmt.Sprintf("%s/statements/%d", ch.Path(), st.ID)
	sc, online := a.TopUps.(StatementCheckout)
	if !online {
		a.flash(c, back, "payments.error.checkout")
		return
	}
	_, amount, err := a.stmts().Owed(c.Request.Context(), ch.TenantID, st.ID, ch.GuardianID)
	switch {
	case errors.Is(err, statements.ErrInvalid):
		a.flash(c, back, "portal.statements.nothing_to_pay")
		return
	case errors.Is(err, statements.ErrNotFound):
		a.notFound(c)
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	t, err := sc.StartStatementPayment(c.Request.Context(), payments.StatementPaymentRequest{TenantID: ch.TenantID, PupilID: ch.ID,
		GuardianID: ch.GuardianID, Statement: st.Number, Amount: amount,
		SuccessURL: a.BaseURL + back + "?paid=card", CancelURL: a.BaseURL + back, Lang: a.lang(c, acct)})
	switch {
	case errors.Is(err, payments.ErrCheckout):
		a.Log.Warn("checkout unavailable", "tenant", ch.TenantID, "pupil", ch.ID, "err", err)
		a.flash(c, back, "payments.error.checkout")
		return
	case errors.Is(err, payments.ErrNotGuardian):
		a.notFound(c)
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, t.CheckoutURL)
}

// askPlan records the guardian's request to pay the statement in parts
// (2 to 10); the school accepts or refuses it in the back office.
func (a *App) askPlan(c *gin.Context) {
	_, ch, st, ok := a.childStatement(c)
	if !ok {
		return
	}
	back := fmt.Sprintf("%s/statements/%d", ch.Path(), st.ID)
	parts, _ := strconv.Atoi(c.PostForm("parts"))
	_, err := a.stmts().RequestPlan(c.Request.Context(), ch.TenantID, st.ID, ch.GuardianID, parts, c.PostForm("note"))
	switch {
	case errors.Is(err, statements.ErrInvalid):
		a.flash(c, back, "portal.statements.plan_refused")
		return
	case errors.Is(err, statements.ErrNotFound):
		a.notFound(c)
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	a.flash(c, back, "portal.statements.plan_asked")
}
