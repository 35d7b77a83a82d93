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
	if _, err := a.Statements.DecidePlan(c.Request.Context(), u.TenantID, id, accept, a.BaseURL+"/portal", u.Actor()); err != nil {
		a.stmtFail(c, back, err)
		return
	}
	key := "admin.statements.plans.refused"
	if accept {
		key = "admin.statements.plans.accepted"
	}
	a.flash(c, back, key)
}

// askedPlans returns the plans waiting for a decision that the user may
// decide (those of the user's school when it has one).
func (a *App) askedPlans(c *gin.Context) ([]statements.Plan, error) {
	u := user(c)
	all, err := a.Statements.Plans(c.Request.Context(), u.TenantID, 0)
	if err != nil {
		return nil, err
	}
	var out []statements.Plan
	for _, p := range all {
		if p.Status != statements.PlanRequested {
			continue
		}
		if u.SchoolID != 0 {
			st, err := a.Statements.Get(c.Request.Context(), u.TenantID, p.StatementID)
			if err != nil {
				return nil, err
			}
			if st.Content.School.ID != u.SchoolID {
				continue
			}
		}
		out = append(out, p)
	}
	return out, nil
}
