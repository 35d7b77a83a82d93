package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/school"
)

// Fees (/admin/fees, admins): a school's fees of a school year, the form
// that creates one (object, category, date(s), obligatoire or facultatif,
// classes and/or pupils, real cost per pupil), and one page per fee with
// its lines (pupil, amount, status, statement, the family's answer to a
// facultatif fee) and the forms that add pupils, correct, cancel, credit an
// issued line and record a family's answer given on paper. Every refusal
// of the free-schooling rules names the rule and its source
// (fees.RuleError, fees.CapError); a cap refusal lists each pupil's usage
// and offers to lower those pupils' amounts. The rule sets and cap usage
// pages are in fees_rules.go.

// feeForm is the fee form as typed.
type feeForm struct {
	Object, Category, Kind, Dates, Amount string
	ClassIDs, PupilIDs                    []int64
	// Lowered amounts per pupil, as typed (after a cap refusal).
	Lowered map[int64]string
}

// HasClass reports whether the class is chosen (for the templates).
func (f feeForm) HasClass(id int64) bool { return slices.Contains(f.ClassIDs, id) }

// HasPupil reports whether the pupil is chosen (for the templates).
func (f feeForm) HasPupil(id int64) bool { return slices.Contains(f.PupilIDs, id) }

// capRow is a pupil past a cap, with the amount field to lower.
type capRow struct {
	fees.CapUsage
	Lowered string
}

type feesData struct {
	Schools    []school.School
	School     school.School
	Year       string
	Years      []string
	Fees       []fees.Fee
	Classes    []school.Class
	Pupils     []school.Pupil
	Categories []string
	Form       feeForm
	Over       []capRow
	Field      string
}

// feeYears returns the school years offered: the shipped ones and the
// current one.
func (a *App) feeYears() []string {
	ys := a.Fees.Rules().Shipped().Years()
	cur := fees.SchoolYearOf(a.Now().In(brussels()))
	if !slices.Contains(ys, cur) {
		ys = append(ys, cur)
		slices.Sort(ys)
	}
	return ys
}

func (a *App) feeYear(s string) string {
	if _, _, err := fees.SchoolYearBounds(s); err == nil {
		return s
	}
	return fees.SchoolYearOf(a.Now().In(brussels()))
}

func (a *App) feesData(c *gin.Context, schoolID int64, year string) (feesData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := feesData{Year: a.feeYear(year), Years: a.feeYears(), Categories: a.Fees.Rules().Categories()}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, schoolID); err != nil {
		return d, err
	}
	if d.Fees, err = a.Fees.Fees(ctx, u.TenantID, d.School.ID, d.Year); err != nil {
		return d, err
	}
	if d.Classes, err = a.School.Classes(ctx, u.TenantID, d.School.ID); err != nil {
		return d, err
	}
	if d.Pupils, err = a.School.PupilsOfSchool(ctx, u.TenantID, d.School.ID, false); err != nil {
		return d, err
	}
	d.Form = feeForm{Kind: string(fees.Obligatoire)}
	return d, nil
}

// feesList shows a school's fees of a year and the form that creates one.
func (a *App) feesList(c *gin.Context) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	d, err := a.feesData(c, sid, c.Query("year"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "fees", "fees.title", "fees", d)
}

// parseDays reads one or more dates separated by commas, semicolons or
// spaces.
func parseDays(s string) ([]time.Time, bool) {
	var out []time.Time
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		d, ok := parseDay(f)
		if !ok {
			return nil, false
		}
		out = append(out, d)
	}
	return out, len(out) > 0
}

func formIDs(c *gin.Context, name string) []int64 {
	var out []int64
	for _, v := range c.PostFormArray(name) {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// lowered reads the "lower_<pupil id>" fields.
func lowered(c *gin.Context) map[int64]string {
	out := map[int64]string{}
	_ = c.Request.ParseForm()
	for k, v := range c.Request.PostForm {
		if id, err := strconv.ParseInt(strings.TrimPrefix(k, "lower_"), 10, 64); err == nil && strings.HasPrefix(k, "lower_") && len(v) > 0 && strings.TrimSpace(v[0]) != "" {
			out[id] = strings.TrimSpace(v[0])
		}
	}
	return out
}

// feeAmount parses an amount typed by a person.
func (a *App) feeAmount(l, s string) (decimal.Decimal, string) {
	v, err := i18n.ParseAmount(s, i18n.RejectNegative)
	if err == nil {
		return v, ""
	}
	var ae *i18n.AmountError
	reason := err.Error()
	if errors.As(err, &ae) {
		reason = ae.Message(a.Catalog, l)
	}
	return decimal.Decimal{}, a.Catalog.T(l, "fees.error.amount", s, reason)
}

// feeRefusal explains a refusal of the fees package to people, naming the
// rule and its source; ok is false for an unexpected error.
func (a *App) feeRefusal(l string, err error) (string, bool) {
	var re *fees.RuleError
	var ce *fees.CapError
	switch {
	case errors.As(err, &re):
		msg := a.Catalog.T(l, "fees.refused."+re.Rule, a.Catalog.T(l, "fees.category."+re.Category), re.Level, re.SchoolYear, re.Source)
		if re.Unconfirmed {
			msg += " " + a.Catalog.T(l, "fees.unconfirmed")
		}
		return msg, true
	case errors.As(err, &ce):
		parts := make([]string, 0, len(ce.Over))
		for _, u := range ce.Over {
			parts = append(parts, a.Catalog.T(l, "fees.refused.cap_pupil", u.PupilName, a.Catalog.T(l, "fees.cap."+u.Cap.ID),
				i18n.FormatEUR(u.Used, l), i18n.FormatEUR(u.Cap.Amount, l), i18n.FormatEUR(u.Remaining(), l), i18n.FormatEUR(u.Asked, l)))
		}
		msg := a.Catalog.T(l, "fees.refused.cap", strings.Join(parts, " "), ce.Over[0].Cap.Source)
		if ce.Over[0].Cap.Unconfirmed {
			msg += " " + a.Catalog.T(l, "fees.unconfirmed")
		}
		return msg, true
	case errors.Is(err, fees.ErrIssued):
		return a.Catalog.T(l, "fees.error.issued"), true
	case errors.Is(err, fees.ErrCancelled):
		return a.Catalog.T(l, "fees.error.cancelled"), true
	case errors.Is(err, fees.ErrStale):
		return a.Catalog.T(l, "fees.error.stale"), true
	case errors.Is(err, fees.ErrNotFacultatif):
		return a.Catalog.T(l, "fees.error.not_facultatif"), true
	case errors.Is(err, fees.ErrInvalid):
		return a.Catalog.T(l, "fees.error.invalid", strings.TrimPrefix(err.Error(), fees.ErrInvalid.Error()+": ")), true
	case errors.Is(err, fees.ErrNotFound):
		return a.Catalog.T(l, "fees.error.not_found"), true
	}
	return "", false
}

// createFee records a fee, or shows the form again with the refusal.
func (a *App) createFee(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	d, err := a.feesData(c, sid, c.PostForm("year"))
	if err != nil {
		a.fail(c, err)
		return
	}
	f := feeForm{
		Object: strings.TrimSpace(c.PostForm("object")), Category: c.PostForm("category"), Kind: c.PostForm("kind"),
		Dates: strings.TrimSpace(c.PostForm("dates")), Amount: strings.TrimSpace(c.PostForm("amount")),
		ClassIDs: formIDs(c, "class"), PupilIDs: formIDs(c, "pupil"), Lowered: lowered(c),
	}
	d.Form = f
	reject := func(field, msg string) {
		d.Field = field
		a.formError(c, "fees", "fees.title", "fees", msg, d)
	}
	dates, ok := parseDays(f.Dates)
	if !ok {
		reject("dates", a.Catalog.T(l, "fees.error.dates", f.Dates))
		return
	}
	amount, msg := a.feeAmount(l, f.Amount)
	if msg != "" {
		reject("amount", msg)
		return
	}
	amounts := map[int64]decimal.Decimal{}
	for id, s := range f.Lowered {
		v, msg := a.feeAmount(l, s)
		if msg != "" {
			reject("lower", msg)
			return
		}
		amounts[id] = v
	}
	fee, err := a.Fees.Create(ctx, u.TenantID, fees.CreateInput{SchoolID: d.School.ID, Object: f.Object, Category: f.Category,
		Kind: fees.Kind(f.Kind), Dates: dates, Amount: amount, ClassIDs: f.ClassIDs, PupilIDs: f.PupilIDs, Amounts: amounts}, u.Actor())
	if err != nil {
		var ce *fees.CapError
		if errors.As(err, &ce) {
			for _, o := range ce.Over {
				d.Over = append(d.Over, capRow{CapUsage: o, Lowered: i18n.FormatEUR(o.Remaining(), l)})
			}
		}
		if msg, ok := a.feeRefusal(l, err); ok {
			reject("", msg)
			return
		}
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.create", fmt.Sprint("fee:", fee.ID), map[string]any{
		"school": d.School.ID, "object": fee.Object, "category": fee.Category, "kind": string(fee.Kind),
		"amount": fee.Amount.StringFixed(2), "pupils": fee.Pupils, "lowered": len(amounts)})
	a.flash(c, fmt.Sprintf("/admin/fees/%d", fee.ID), "admin.fees.created", fee.Object)
}

// lineRow is a fee line with its pupil and guardians.
type lineRow struct {
	fees.LineDetail
	Pupil     school.Pupil
	Guardians []school.GuardianLink
}

type feeData struct {
	Fee     fees.Fee
	School  school.School
	Lines   []lineRow
	Classes []school.Class
	Pupils  []school.Pupil
	Correct feeForm
	Over    []capRow
	Field   string
}

// GuardianName returns the name of the line's guardian id (for the answer).
func (r lineRow) GuardianName(id int64) string {
	for _, g := range r.Guardians {
		if g.ID == id {
			return g.FirstName + " " + g.LastName
		}
	}
	return ""
}

// feeOf loads a fee of the user's school scope (ErrNotFound otherwise).
func (a *App) feeOf(c *gin.Context) (fees.Fee, school.School, bool) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	f, err := a.Fees.Fee(c.Request.Context(), u.TenantID, id)
	if err == nil && u.SchoolID != 0 && f.SchoolID != u.SchoolID {
		err = fees.ErrNotFound
	}
	var sc school.School
	if err == nil {
		sc, _, err = a.schoolFor(c, f.SchoolID)
	}
	if errors.Is(err, fees.ErrNotFound) || errors.Is(err, school.ErrNotFound) {
		a.notFound(c)
		return f, sc, false
	}
	if err != nil {
		a.fail(c, err)
		return f, sc, false
	}
	return f, sc, true
}

func (a *App) feeData(c *gin.Context, f fees.Fee, sc school.School) (feeData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := feeData{Fee: f, School: sc}
	lines, err := a.Fees.FeeLines(ctx, u.TenantID, f.ID)
	if err != nil {
		return d, err
	}
	all, err := a.School.PupilsOfSchool(ctx, u.TenantID, sc.ID, true)
	if err != nil {
		return d, err
	}
	byID := map[int64]school.Pupil{}
	for _, p := range all {
		byID[p.ID] = p
		if p.Active {
			d.Pupils = append(d.Pupils, p)
		}
	}
	for _, ln := range lines {
		r := lineRow{LineDetail: ln, Pupil: byID[ln.PupilID]}
		if f.Kind == fees.Facultatif && !ln.Credit {
			if r.Guardians, err = a.School.GuardiansOfPupil(ctx, u.TenantID, ln.PupilID); err != nil {
				return d, err
			}
		}
		d.Lines = append(d.Lines, r)
	}
	if d.Classes, err = a.School.Classes(ctx, u.TenantID, sc.ID); err != nil {
		return d, err
	}
	ds := make([]string, len(f.Dates))
	for i, x := range f.Dates {
		ds[i] = x.Format("02/01/2006")
	}
	d.Correct = feeForm{Object: f.Object, Dates: strings.Join(ds, ", "), Amount: i18n.FormatEUR(f.Amount, lang(c))}
	d.Correct.Amount = strings.TrimSpace(strings.TrimSuffix(d.Correct.Amount, "€"))
	return d, nil
}

// feePage shows a fee with its lines and forms.
func (a *App) feePage(c *gin.Context) {
	f, sc, ok := a.feeOf(c)
	if !ok {
		return
	}
	d, err := a.feeData(c, f, sc)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "fee", "fees.fee_title", "fees", d)
}

// feeError shows the fee page again with a message (422).
func (a *App) feeError(c *gin.Context, f fees.Fee, sc school.School, field, msg string, keep func(*feeData)) {
	d, err := a.feeData(c, f, sc)
	if err != nil {
		a.fail(c, err)
		return
	}
	if keep != nil {
		keep(&d)
	}
	d.Field = field
	a.formError(c, "fee", "fees.fee_title", "fees", msg, d)
}

// feeRefused shows the fee page with a refusal of the fees package, or
// fails on an unexpected error.
func (a *App) feeRefused(c *gin.Context, f fees.Fee, sc school.School, field string, err error, keep func(*feeData)) {
	l := lang(c)
	var ce *fees.CapError
	if errors.As(err, &ce) {
		inner := keep
		keep = func(d *feeData) {
			if inner != nil {
				inner(d)
			}
			for _, o := range ce.Over {
				d.Over = append(d.Over, capRow{CapUsage: o, Lowered: i18n.FormatEUR(o.Remaining(), l)})
			}
		}
	}
	if msg, ok := a.feeRefusal(l, err); ok {
		a.feeError(c, f, sc, field, msg, keep)
		return
	}
	a.fail(c, err)
}

// assignFee adds classes or pupils to a fee.
func (a *App) assignFee(c *gin.Context) {
	f, sc, ok := a.feeOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	form := feeForm{ClassIDs: formIDs(c, "class"), PupilIDs: formIDs(c, "pupil"), Lowered: lowered(c)}
	amounts := map[int64]decimal.Decimal{}
	for id, s := range form.Lowered {
		v, msg := a.feeAmount(l, s)
		if msg != "" {
			a.feeError(c, f, sc, "assign", msg, nil)
			return
		}
		amounts[id] = v
	}
	after, err := a.Fees.Assign(ctx, u.TenantID, f.ID, fees.AssignInput{ClassIDs: form.ClassIDs, PupilIDs: form.PupilIDs, Amounts: amounts}, u.Actor())
	if err != nil {
		a.feeRefused(c, f, sc, "assign", err, nil)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.assign", fmt.Sprint("fee:", f.ID), map[string]any{
		"classes": form.ClassIDs, "pupils": form.PupilIDs, "before": f.Pupils, "after": after.Pupils})
	a.flash(c, fmt.Sprintf("/admin/fees/%d", f.ID), "admin.fees.assigned", strconv.Itoa(after.Pupils-f.Pupils))
}

// correctFee changes a fee's object, dates and amount before any of its
// lines is on an issued statement.
func (a *App) correctFee(c *gin.Context) {
	f, sc, ok := a.feeOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	form := feeForm{Object: strings.TrimSpace(c.PostForm("object")), Dates: strings.TrimSpace(c.PostForm("dates")),
		Amount: strings.TrimSpace(c.PostForm("amount")), Lowered: lowered(c)}
	keep := func(d *feeData) { d.Correct = form }
	dates, ok := parseDays(form.Dates)
	if !ok {
		a.feeError(c, f, sc, "correct.dates", a.Catalog.T(l, "fees.error.dates", form.Dates), keep)
		return
	}
	amount, msg := a.feeAmount(l, form.Amount)
	if msg != "" {
		a.feeError(c, f, sc, "correct.amount", msg, keep)
		return
	}
	amounts := map[int64]decimal.Decimal{}
	for id, s := range form.Lowered {
		v, msg := a.feeAmount(l, s)
		if msg != "" {
			a.feeError(c, f, sc, "correct", msg, keep)
			return
		}
		amounts[id] = v
	}
	reason := strings.TrimSpace(c.PostForm("reason"))
	after, err := a.Fees.Correct(ctx, u.TenantID, f.ID, fees.CorrectInput{Object: form.Object, Dates: dates, Amount: amount, Amounts: amounts, Reason: reason}, u.Actor())
	if err != nil {
		a.feeRefused(c, f, sc, "correct", err, keep)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.correct", fmt.Sprint("fee:", f.ID), map[string]any{
		"object": after.Object, "amount_before": f.Amount.StringFixed(2), "amount": after.Amount.StringFixed(2),
		"total_before": f.Total.StringFixed(2), "total": after.Total.StringFixed(2), "reason": reason})
	a.flash(c, fmt.Sprintf("/admin/fees/%d", f.ID), "admin.fees.corrected")
}

// cancelFee cancels a fee before any of its lines is on an issued
// statement.
func (a *App) cancelFee(c *gin.Context) {
	f, sc, ok := a.feeOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	reason := strings.TrimSpace(c.PostForm("reason"))
	if err := a.Fees.Cancel(ctx, u.TenantID, f.ID, reason, u.Actor()); err != nil {
		a.feeRefused(c, f, sc, "cancel", err, nil)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.cancel", fmt.Sprint("fee:", f.ID), map[string]any{
		"reason": reason, "total": f.Total.StringFixed(2)})
	a.flash(c, fmt.Sprintf("/admin/fees?school=%d&year=%s", sc.ID, f.SchoolYear), "admin.fees.cancelled", f.Object)
}

// creditFeeLine adds a credit line to an issued line.
func (a *App) creditFeeLine(c *gin.Context) {
	f, sc, ok := a.feeOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	lineID, _ := strconv.ParseInt(c.Param("line"), 10, 64)
	lines, err := a.Fees.FeeLines(ctx, u.TenantID, f.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	if !slices.ContainsFunc(lines, func(x fees.LineDetail) bool { return x.ID == lineID }) {
		a.notFound(c)
		return
	}
	amount, msg := a.feeAmount(l, c.PostForm("amount"))
	if msg != "" {
		a.feeError(c, f, sc, fmt.Sprint("credit.", lineID), msg, nil)
		return
	}
	reason := strings.TrimSpace(c.PostForm("reason"))
	cr, err := a.Fees.Credit(ctx, u.TenantID, lineID, amount, reason, u.Actor())
	if err != nil {
		a.feeRefused(c, f, sc, fmt.Sprint("credit.", lineID), err, nil)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.credit", fmt.Sprint("fee:", f.ID), map[string]any{
		"line": lineID, "credit_line": cr.ID, "amount": amount.StringFixed(2), "reason": reason})
	a.flash(c, fmt.Sprintf("/admin/fees/%d", f.ID), "admin.fees.credited", i18n.FormatEUR(amount, l))
}

// recordOptIn records a family's answer to a facultatif fee, given on
// paper or by phone, with who and how.
func (a *App) recordOptIn(c *gin.Context) {
	f, sc, ok := a.feeOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	pupilID, _ := strconv.ParseInt(c.PostForm("pupil"), 10, 64)
	guardianID, _ := strconv.ParseInt(c.PostForm("guardian"), 10, 64)
	if guardianID != 0 {
		linked, err := a.School.GuardianLinked(ctx, u.TenantID, guardianID, pupilID)
		if err != nil {
			a.fail(c, err)
			return
		}
		if !linked {
			a.notFound(c)
			return
		}
	}
	accepted := c.PostForm("answer") == "yes"
	note := strings.TrimSpace(c.PostForm("note"))
	if note == "" {
		a.feeError(c, f, sc, fmt.Sprint("optin.", pupilID), a.Catalog.T(lang(c), "fees.error.optin_note"), nil)
		return
	}
	o, err := a.Fees.RecordOptIn(ctx, u.TenantID, fees.OptInInput{FeeID: f.ID, PupilID: pupilID, Accepted: accepted,
		Channel: fees.ChannelStaff, GuardianID: guardianID, Note: note}, u.Actor())
	if err != nil {
		a.feeRefused(c, f, sc, fmt.Sprint("optin.", pupilID), err, nil)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "fee.opt_in", fmt.Sprint("pupil:", pupilID), map[string]any{
		"fee": f.ID, "accepted": accepted, "guardian": guardianID, "note": note, "opt_in": o.ID})
	key := "admin.fees.opted_out"
	if accepted {
		key = "admin.fees.opted_in"
	}
	a.flash(c, fmt.Sprintf("/admin/fees/%d", f.ID), key)
}
