package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/internal/policy"
	"tartine/school"
)

// Policy (/admin/policy, admins only): a school's rules (policy.Policy) in
// one form, every key of the type with its place, each field with a line saying what it does for families and
// staff, saved with school.Store.SetPolicy (which validates, moves the
// wallets' floor and audits). The confirmation says how many wallets kept
// their old floor because they are already below the new one.

// policyMaxAmount is the largest amount a policy accepts (policy.Policy
// Validate: 0 to 999.99).
var policyMaxAmount = decimal.RequireFromString("999.99")

// policyForm is the policy form as typed (or as stored, formatted for the
// form's fields).
type policyForm struct {
	Grace, Duplicate, Unbooked, Surcharge, Cutoff, CutoffDays, MealNoShow, DaycareNoShow, SickAfterCutoff, LowBalance string
	HardFloor, Refund, WednesdayMeals, RefuseShort                                                                    bool
}

type policyData struct {
	Schools []school.School
	School  school.School
	Form    policyForm
	Field   string // the field an error is about
	Done    string // confirmation after a redirect
	Kept    string // wallets that kept their old floor, after a redirect
	Corrupt bool   // the stored settings could not be read: defaults shown
}

// UnbookedChoices are the unbooked-meal rules, in the form's order.
func (policyData) UnbookedChoices() []string {
	return []string{string(policy.UnbookedRefuse), string(policy.UnbookedNormal), string(policy.UnbookedSurcharge)}
}

// noShowChoice is a no-show field and its value in the form.
type noShowChoice struct{ Field, Current string }

// NoShows are the charge-or-release fields (meals and daycare not used, a
// sick day reported after the cut-off) with their values.
func (d policyData) NoShows() []noShowChoice {
	return []noShowChoice{{"meal_no_show", d.Form.MealNoShow}, {"daycare_no_show", d.Form.DaycareNoShow},
		{"sick_day_after_cutoff", d.Form.SickAfterCutoff}}
}

// amountField writes an amount for a form field: "10,00".
func amountField(d decimal.Decimal) string { return strings.Replace(d.StringFixed(2), ".", ",", 1) }

func policyFormOf(p policy.Policy) policyForm {
	return policyForm{
		Grace:           amountField(p.GraceAmount),
		HardFloor:       p.HardFloor,
		Duplicate:       strconv.Itoa(p.DuplicateWindowSeconds),
		Unbooked:        string(p.UnbookedMeal),
		Surcharge:       amountField(p.UnbookedSurcharge),
		Cutoff:          p.BookingCutoff,
		CutoffDays:      strconv.Itoa(p.BookingCutoffDaysBefore),
		Refund:          p.RefundAfterCutoff,
		MealNoShow:      string(p.MealNoShow),
		DaycareNoShow:   string(p.DaycareNoShow),
		SickAfterCutoff: string(p.SickDayAfterCutoff),
		LowBalance:      amountField(p.LowBalanceThreshold),
		WednesdayMeals:  p.WednesdayMeals,
		RefuseShort:     p.InsufficientFunds == policy.FundsRefuse,
	}
}

func (a *App) policyData(c *gin.Context, schoolID int64) (policyData, error) {
	var d policyData
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, schoolID); err != nil {
		return d, err
	}
	d.Form = policyFormOf(d.School.Policy)
	d.Corrupt = d.School.PolicyErr != nil
	return d, nil
}

// policy shows the school's rules in a form.
func (a *App) policy(c *gin.Context) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	d, err := a.policyData(c, sid)
	if err != nil {
		a.fail(c, err)
		return
	}
	if c.Query("done") == "saved" {
		l := lang(c)
		d.Done = a.Catalog.T(l, "policy.done.saved", d.School.Name)
		if n, err := strconv.Atoi(c.Query("kept")); err == nil && n > 0 {
			d.Kept = a.Catalog.T(l, "policy.done.kept", n)
		}
	}
	a.render(c, http.StatusOK, "policy", "policy.title", "policy", d)
}

// policyField is a refusal of one field.
type policyField struct{ field, msg string }

// parsePolicyForm reads the form over the school's policy; it returns the
// first bad field.
func (a *App) parsePolicyForm(l string, f policyForm, p policy.Policy) (policy.Policy, *policyField) {
	label := func(field string) string { return a.Catalog.T(l, "policy.field."+field) }
	amount := func(field, s string) (decimal.Decimal, *policyField) {
		v, err := i18n.ParseAmount(s, i18n.RejectNegative)
		if err != nil {
			reason := err.Error()
			var ae *i18n.AmountError
			if errors.As(err, &ae) {
				reason = ae.Message(a.Catalog, l)
			}
			return v, &policyField{field, a.Catalog.T(l, "policy.error.amount", label(field), s, reason)}
		}
		if v.GreaterThan(policyMaxAmount) {
			return v, &policyField{field, a.Catalog.T(l, "policy.error.amount_max", label(field), s)}
		}
		return v, nil
	}
	integer := func(field, s string, lo, hi int) (int, *policyField) {
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > hi {
			return 0, &policyField{field, a.Catalog.T(l, "policy.error.integer", label(field), s, lo, hi)}
		}
		return v, nil
	}
	var bad *policyField
	if p.GraceAmount, bad = amount("grace", f.Grace); bad != nil {
		return p, bad
	}
	p.HardFloor = f.HardFloor
	if p.DuplicateWindowSeconds, bad = integer("duplicate", f.Duplicate, 0, 3600); bad != nil {
		return p, bad
	}
	switch u := policy.UnbookedMeal(f.Unbooked); u {
	case policy.UnbookedRefuse, policy.UnbookedNormal, policy.UnbookedSurcharge:
		p.UnbookedMeal = u
	default:
		return p, &policyField{"unbooked", a.Catalog.T(l, "policy.error.choice", label("unbooked"), f.Unbooked)}
	}
	if f.Surcharge == "" && p.UnbookedMeal != policy.UnbookedSurcharge {
		p.UnbookedSurcharge = decimal.Zero
	} else if p.UnbookedSurcharge, bad = amount("surcharge", f.Surcharge); bad != nil {
		return p, bad
	}
	if p.UnbookedMeal == policy.UnbookedSurcharge && p.UnbookedSurcharge.IsZero() {
		return p, &policyField{"surcharge", a.Catalog.T(l, "policy.error.surcharge_zero")}
	}
	cutoff := f.Cutoff
	if len(cutoff) == 4 && cutoff[1] == ':' {
		cutoff = "0" + cutoff
	}
	t, err := time.Parse("15:04", cutoff)
	if err != nil {
		return p, &policyField{"cutoff", a.Catalog.T(l, "policy.error.cutoff", f.Cutoff)}
	}
	p.BookingCutoff = t.Format("15:04")
	if p.BookingCutoffDaysBefore, bad = integer("cutoff_days", f.CutoffDays, 0, 14); bad != nil {
		return p, bad
	}
	p.RefundAfterCutoff = f.Refund
	p.WednesdayMeals = f.WednesdayMeals
	p.InsufficientFunds = policy.FundsAllow
	if f.RefuseShort {
		p.InsufficientFunds = policy.FundsRefuse
	}
	for _, ns := range []struct {
		field, v string
		to       *policy.NoShow
	}{{"meal_no_show", f.MealNoShow, &p.MealNoShow}, {"daycare_no_show", f.DaycareNoShow, &p.DaycareNoShow},
		{"sick_day_after_cutoff", f.SickAfterCutoff, &p.SickDayAfterCutoff}} {
		switch v := policy.NoShow(ns.v); v {
		case policy.NoShowCharge, policy.NoShowRelease:
			*ns.to = v
		default:
			return p, &policyField{ns.field, a.Catalog.T(l, "policy.error.choice", label(ns.field), ns.v)}
		}
	}
	if p.LowBalanceThreshold, bad = amount("low_balance", f.LowBalance); bad != nil {
		return p, bad
	}
	return p, nil
}

// savePolicy stores the school's rules.
func (a *App) savePolicy(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil || sid == 0 {
		a.notFound(c)
		return
	}
	trim := func(k string) string { return strings.TrimSpace(c.PostForm(k)) }
	f := policyForm{
		Grace: trim("grace"), HardFloor: c.PostForm("hard_floor") == "1", Duplicate: trim("duplicate"),
		Unbooked: trim("unbooked"), Surcharge: trim("surcharge"), Cutoff: trim("cutoff"), CutoffDays: trim("cutoff_days"),
		Refund: c.PostForm("refund") == "1", MealNoShow: trim("meal_no_show"), DaycareNoShow: trim("daycare_no_show"),
		SickAfterCutoff: trim("sick_day_after_cutoff"),
		LowBalance:      trim("low_balance"), WednesdayMeals: c.PostForm("wednesday_meals") == "1", RefuseShort: c.PostForm("refuse_short") == "1",
	}
	reject := func(field, msg string) {
		d, err := a.policyData(c, sc.ID)
		if err != nil {
			a.fail(c, err)
			return
		}
		d.Form, d.Field = f, field
		a.formError(c, "policy", "policy.title", "policy", msg, d)
	}
	p, bad := a.parsePolicyForm(l, f, sc.Policy)
	if bad != nil {
		reject(bad.field, bad.msg)
		return
	}
	kept, err := a.School.SetPolicy(ctx, u.TenantID, sc.ID, p, u.Actor())
	switch {
	case errors.Is(err, school.ErrInvalid):
		reject("", a.Catalog.T(l, "policy.error.invalid", err.Error()))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/policy?school=%d&done=saved&kept=%d", sc.ID, kept))
}
