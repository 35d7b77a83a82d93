package backoffice

import (
	"fmt"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/statements"
)

// Instalment plans in the back office: a statement's page lists the plans
// its guardians asked for in the portal; the school accepts (the parts go
// on the next statements) or refuses, audited.

// decidePlan accepts or refuses a requested plan of the statement
// (decision=accept|refuse).
func (a *App) decidePlan(c *gin.Context) {
	st, ok := a.statementFor(c)
	if !ok {
		return
	}
	u := user(c)
	back := fmt.Sprintf("/admin/statements/%d", st.ID)
	id, _ := strconv.ParseInt(c.Param("plan"), 10, 64)
	p, err := a.Statements.Plan(c.Request.Context(), u.TenantID, id)
	if err == nil && p.StatementID != st.ID {
		err = fmt.Errorf("plan %d of another statement: %w", id, statements.ErrNotFound)
	}
	if err != nil {
		a.stmtFail(c, back, err)
		return
	}
	accept := c.PostForm("decision") == "accept"
	if !accept && c.PostForm("decision") != "refuse" {
		a.flash(c, back, "admin.statements.plans.choose")
		return
	}
	if _, err := a.Statements.DecidePlan(c.Request.Context(), u.TenantID, id, accept, u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	key := "admin.statements.plans.refused"
	if accept {
		key = "admin.statements.plans.accepted"
	}
	a.flash(c, back, key)
}
