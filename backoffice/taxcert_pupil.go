package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/internal/i18n"
	"tartine/school"
	"tartine/taxcert"
)

// mountTaxCertPupil registers a child's certificate settings: who pays in
// what share (separated parents) and the national numbers of the child and
// its guardians (organising body's level).
func (a *App) mountTaxCertPupil(ad *gin.RouterGroup) {
	ad.GET("/taxcert/pupils/:id", a.taxCertPupil)
	ad.POST("/taxcert/pupils/:id", a.saveTaxCertPupil)
}

type payerRow struct {
	Guardian school.GuardianLink
	Share    string // percent as typed ("" without recorded shares)
	NISS     string // masked
}

type taxCertPupilData struct {
	Pupil     school.Pupil
	ChildNISS string
	Payers    []payerRow
	Sealing   bool
}

func (a *App) taxCertPupilData(c *gin.Context) (taxCertPupilData, bool) {
	ctx := c.Request.Context()
	u := user(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		a.notFound(c)
		return taxCertPupilData{}, false
	}
	p, err := a.School.Pupil(ctx, u.TenantID, id)
	if errors.Is(err, school.ErrNotFound) {
		a.notFound(c)
		return taxCertPupilData{}, false
	}
	if err != nil {
		a.fail(c, err)
		return taxCertPupilData{}, false
	}
	d := taxCertPupilData{Pupil: p, Sealing: a.TaxCert.Sealing()}
	if d.ChildNISS, err = a.TaxCert.MaskedNISS(ctx, u.TenantID, taxcert.SubjectPupil, p.ID); err != nil {
		a.fail(c, err)
		return d, false
	}
	gs, err := a.School.GuardiansOfPupil(ctx, u.TenantID, p.ID)
	if err != nil {
		a.fail(c, err)
		return d, false
	}
	shares, err := a.TaxCert.Shares(ctx, u.TenantID, p.ID)
	if err != nil {
		a.fail(c, err)
		return d, false
	}
	for _, g := range gs {
		row := payerRow{Guardian: g}
		for _, sh := range shares {
			if sh.GuardianID == g.ID {
				row.Share = sh.Percent.String()
			}
		}
		if row.NISS, err = a.TaxCert.MaskedNISS(ctx, u.TenantID, taxcert.SubjectGuardian, g.ID); err != nil {
			a.fail(c, err)
			return d, false
		}
		d.Payers = append(d.Payers, row)
	}
	return d, true
}

// taxCertPupil shows a child's payers, shares and national numbers.
func (a *App) taxCertPupil(c *gin.Context) {
	if !mayEditBooks(user(c)) {
		a.forbidden(c)
		return
	}
	d, ok := a.taxCertPupilData(c)
	if !ok {
		return
	}
	a.render(c, http.StatusOK, "taxcert_pupil", "admin.taxcert.pupil_title", "taxcert", d)
}

// saveTaxCertPupil records the shares (all empty: equal shares) and the
// national numbers typed (empty fields keep what is recorded). Numbers are
// never logged nor audited, only the fact that they changed.
func (a *App) saveTaxCertPupil(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	if !mayEditBooks(u) {
		a.forbidden(c)
		return
	}
	d, ok := a.taxCertPupilData(c)
	if !ok {
		return
	}
	back := fmt.Sprintf("/admin/taxcert/pupils/%d", d.Pupil.ID)
	var shares []taxcert.Share
	for _, p := range d.Payers {
		v := strings.TrimSpace(c.PostForm(fmt.Sprint("share_", p.Guardian.ID)))
		if v == "" {
			continue
		}
		pct, err := i18n.ParseAmount(strings.TrimSuffix(v, "%"), i18n.RejectNegative)
		if err != nil {
			a.flash(c, back, "admin.taxcert.error.shares")
			return
		}
		shares = append(shares, taxcert.Share{GuardianID: p.Guardian.ID, Percent: pct})
	}
	if err := a.TaxCert.SetShares(ctx, u.TenantID, d.Pupil.ID, shares); errors.Is(err, taxcert.ErrInvalid) {
		a.flash(c, back, "admin.taxcert.error.shares")
		return
	} else if err != nil {
		a.fail(c, err)
		return
	}
	set := func(subject string, id int64, field string) bool {
		v := strings.TrimSpace(c.PostForm(field))
		if v == "" {
			return true
		}
		err := a.TaxCert.SetNISS(ctx, u.TenantID, subject, id, v, u.Actor())
		switch {
		case errors.Is(err, taxcert.ErrInvalidNISS):
			a.flash(c, back, "admin.taxcert.error.niss")
			return false
		case errors.Is(err, taxcert.ErrInvalid):
			a.flash(c, back, "admin.taxcert.error.no_key")
			return false
		case err != nil:
			a.fail(c, err)
			return false
		}
		_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "taxcert.niss", fmt.Sprintf("%s:%d", subject, id), nil)
		return true
	}
	if !set(taxcert.SubjectPupil, d.Pupil.ID, "child_niss") {
		return
	}
	for _, p := range d.Payers {
		if !set(taxcert.SubjectGuardian, p.Guardian.ID, fmt.Sprint("niss_", p.Guardian.ID)) {
			return
		}
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "taxcert.shares", fmt.Sprint("pupil:", d.Pupil.ID), map[string]any{"payers": len(shares)})
	a.flash(c, back, "admin.taxcert.flash.pupil")
}
