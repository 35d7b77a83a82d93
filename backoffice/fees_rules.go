package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/school"
)

// Fee rules (/admin/fees/rules, admins): the rule set of a school year and
// level group in force for the organising body — forbidden categories,
// those allowed as obligatoire and as facultatif, the caps, the year
// groups with free supplies and whether pool fees count in the maternel
// activities cap — each rule with its source, "à confirmer" where the
// sources are unsure, and the versions before it. Only an admin of the
// organising body (bound to no school) may change it: the change is a new
// version with a reason, audited (fee.rules.save). School admins read it.
//
// Cap usage (/admin/fees/caps): each pupil of a class, what the caps of its
// level allow and what is left, so the school sees before charging who is
// near a cap.

// mayEditRules reports whether the user is an organising-body admin.
func mayEditRules(u school.StaffUser) bool { return u.Can(school.RoleAdmin) && u.SchoolID == 0 }

// categoryRow is a category's place in a rule set.
type categoryRow struct {
	Code                               string
	Forbidden, Obligatoire, Facultatif *fees.Rule
}

type rulesData struct {
	Year, Group   string
	Years, Groups []string
	Set           fees.RuleSet
	History       []fees.RuleSet
	Categories    []categoryRow
	Levels        []string // the group's levels (free supplies)
	CanEdit       bool
}

func ruleOf(list []fees.Rule, code string) *fees.Rule {
	for i := range list {
		if list[i].Category == code {
			return &list[i]
		}
	}
	return nil
}

func groupLevels(group string) []string {
	var out []string
	for _, l := range []string{"M1", "M2", "M3", "P1", "P2", "P3", "P4", "P5", "P6", "S1", "S2", "S3", "S4", "S5", "S6"} {
		if fees.GroupOf(l) == group {
			out = append(out, l)
		}
	}
	return out
}

func (a *App) rulesData(c *gin.Context, year, group string) (rulesData, error) {
	ctx := c.Request.Context()
	u := user(c)
	if !slices.Contains(fees.LevelGroups(), group) {
		group = fees.GroupMaternel
	}
	d := rulesData{Year: a.feeYear(year), Group: group, Years: a.feeYears(), Groups: fees.LevelGroups(), Levels: groupLevels(group), CanEdit: mayEditRules(u)}
	hist, err := a.Fees.Rules().History(ctx, a.Fees.Pool(), u.TenantID, d.Year, d.Group)
	if err != nil {
		return d, err
	}
	d.Set, d.History = hist[0], hist
	for _, code := range a.Fees.Rules().Categories() {
		d.Categories = append(d.Categories, categoryRow{Code: code, Forbidden: ruleOf(d.Set.Forbidden, code),
			Obligatoire: ruleOf(d.Set.Obligatoire, code), Facultatif: ruleOf(d.Set.Facultatif, code)})
	}
	return d, nil
}

// feeRules shows a rule set (and, to an organising-body admin, its form).
func (a *App) feeRules(c *gin.Context) {
	d, err := a.rulesData(c, c.Query("year"), c.Query("group"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "fees_rules", "fees.rules.title", "fees", d)
}

// saveFeeRules records a new version of a rule set (organising-body
// admins only).
func (a *App) saveFeeRules(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	if !mayEditRules(u) {
		a.forbidden(c)
		return
	}
	d, err := a.rulesData(c, c.PostForm("year"), c.PostForm("group"))
	if err != nil {
		a.fail(c, err)
		return
	}
	reason := strings.TrimSpace(c.PostForm("reason"))
	based, _ := strconv.Atoi(c.PostForm("based_on"))
	rs := d.Set
	source := a.Catalog.T(i18n.Default, "fees.rules.source_po", reason)
	pick := func(prefix string, old []fees.Rule) []fees.Rule {
		var out []fees.Rule
		for _, code := range a.Fees.Rules().Categories() {
			if c.PostForm(prefix+code) == "" {
				continue
			}
			if r := ruleOf(old, code); r != nil {
				out = append(out, *r)
			} else {
				out = append(out, fees.Rule{Category: code, Source: source})
			}
		}
		return out
	}
	rs.Forbidden = pick("forbidden_", d.Set.Forbidden)
	rs.Obligatoire = pick("obligatoire_", d.Set.Obligatoire)
	rs.Facultatif = pick("facultatif_", d.Set.Facultatif)
	rs.Caps = slices.Clone(d.Set.Caps)
	for i, cp := range rs.Caps {
		s := strings.TrimSpace(c.PostForm("cap_amount_" + cp.ID))
		v, msg := a.feeAmount(l, s)
		if msg != "" {
			a.formError(c, "fees_rules", "fees.rules.title", "fees", msg, d)
			return
		}
		unconfirmed := c.PostForm("cap_unconfirmed_"+cp.ID) != ""
		if !v.Equal(cp.Amount) || unconfirmed != cp.Unconfirmed {
			rs.Caps[i].Source = strings.TrimSpace(cp.Source + " — " + source)
		}
		rs.Caps[i].Amount, rs.Caps[i].Unconfirmed = v, unconfirmed
	}
	pool := c.PostForm("pool_value") != ""
	poolU := c.PostForm("pool_unconfirmed") != ""
	if pool != rs.PoolInActivitiesCap.Value || poolU != rs.PoolInActivitiesCap.Unconfirmed {
		rs.PoolInActivitiesCap.Source = strings.TrimSpace(rs.PoolInActivitiesCap.Source + " — " + source)
	}
	rs.PoolInActivitiesCap.Value, rs.PoolInActivitiesCap.Unconfirmed = pool, poolU
	var free []string
	for _, lv := range d.Levels {
		if c.PostForm("free_"+lv) != "" {
			free = append(free, lv)
		}
	}
	if free == nil {
		free = []string{}
	}
	if !slices.Equal(free, rs.FreeSupplies.Levels) {
		rs.FreeSupplies.Source = strings.TrimSpace(rs.FreeSupplies.Source + " — " + source)
	}
	rs.FreeSupplies.Levels = free
	rs.FreeSupplies.Unconfirmed = c.PostForm("free_unconfirmed") != ""
	saved, err := a.Fees.Rules().Save(ctx, a.Fees.Pool(), u.TenantID, rs, based, u.Actor(), reason)
	if err != nil {
		if msg, ok := a.feeRefusal(l, err); ok {
			a.formError(c, "fees_rules", "fees.rules.title", "fees", msg, d)
			return
		}
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.rules.save", "rules:"+saved.SchoolYear+":"+saved.LevelGroup, map[string]any{
		"version": saved.Version, "reason": reason})
	a.flash(c, fmt.Sprintf("/admin/fees/rules?year=%s&group=%s", saved.SchoolYear, saved.LevelGroup), "admin.fees.rules_saved", strconv.Itoa(saved.Version))
}

// capPupil is a pupil's usage of its caps.
type capPupil struct {
	Pupil  school.Pupil
	Usages []fees.CapUsage
}

type capsData struct {
	Schools []school.School
	School  school.School
	Classes []school.Class
	Class   int64
	Year    string
	Years   []string
	Pupils  []capPupil
}

// feeCaps shows the cap usage of a class's pupils.
func (a *App) feeCaps(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	d := capsData{Year: a.feeYear(c.Query("year")), Years: a.feeYears()}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, sid); err != nil {
		a.fail(c, err)
		return
	}
	if d.Classes, err = a.School.Classes(ctx, u.TenantID, d.School.ID); err != nil {
		a.fail(c, err)
		return
	}
	d.Class, _ = strconv.ParseInt(c.Query("class"), 10, 64)
	if d.Class == 0 && len(d.Classes) > 0 {
		d.Class = d.Classes[0].ID
	}
	pupils, err := a.School.PupilsOfSchool(ctx, u.TenantID, d.School.ID, false)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, p := range pupils {
		if p.ClassID != d.Class {
			continue
		}
		us, err := a.Fees.CapUsages(ctx, u.TenantID, p.ID, d.Year)
		if err != nil && !errors.Is(err, fees.ErrNotFound) {
			a.fail(c, err)
			return
		}
		d.Pupils = append(d.Pupils, capPupil{Pupil: p, Usages: us})
	}
	a.render(c, http.StatusOK, "fees_caps", "fees.caps.title", "fees", d)
}
