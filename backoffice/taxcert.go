package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/taxcert"
)

// mountTaxCert registers the childcare tax certificate pages on the admin
// group: the year's certificates (printable by the school), the issue run,
// the national numbers the certificates need and the Belcotax-on-web XML.
// Issuing, entering national numbers and the XML are for the organising
// body's level (a staff member bound to no school); a school's admin sees
// and prints the certificates of its pupils.
func (a *App) mountTaxCert(ad *gin.RouterGroup) {
	ad.GET("/taxcert", a.taxCertPage)
	ad.POST("/taxcert/issue", a.issueTaxCerts)
	ad.POST("/taxcert/niss", a.setTaxCertNISS)
	ad.GET("/taxcert/belcotax.xml", a.belcotaxXML)
	ad.GET("/taxcert/:id/pdf", a.taxCertPDF)
	a.mountTaxCertPupil(ad) // taxcert_pupil.go
}

// missingRow is a child or payer without a certificate.
type missingRow struct {
	PupilID, GuardianID int64
	Child, Payer        string
	What                string
}

type taxCertData struct {
	Year         int
	Certificates []taxcert.Certificate
	Missing      []missingRow
	CanIssue     bool
	Sealing      bool // national numbers can be entered
}

func (a *App) taxCertYear(c *gin.Context, v string) int {
	if y, err := strconv.Atoi(v); err == nil && y >= 2000 && y <= 2200 {
		return y
	}
	return a.Now().In(brussels()).Year() - 1
}

// taxCertPage lists a year's certificates and what is missing.
func (a *App) taxCertPage(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	d := taxCertData{Year: a.taxCertYear(c, c.Query("year")), CanIssue: mayEditBooks(u), Sealing: a.TaxCert.Sealing()}
	certs, err := a.TaxCert.Certificates(ctx, u.TenantID, d.Year, 0)
	if err != nil {
		a.fail(c, err)
		return
	}
	mine := func(pupilID int64) bool {
		if u.SchoolID == 0 {
			return true
		}
		p, err := a.School.Pupil(ctx, u.TenantID, pupilID)
		return err == nil && p.SchoolID == u.SchoolID
	}
	for _, ct := range certs {
		if mine(ct.PupilID) {
			d.Certificates = append(d.Certificates, ct)
		}
	}
	if d.CanIssue {
		drafts, err := a.TaxCert.Drafts(ctx, u.TenantID, d.Year)
		if err != nil {
			a.fail(c, err)
			return
		}
		for _, dr := range drafts {
			if dr.Missing == "" {
				continue
			}
			row := missingRow{PupilID: dr.PupilID, GuardianID: dr.GuardianID, What: dr.Missing}
			if p, err := a.School.Pupil(ctx, u.TenantID, dr.PupilID); err == nil {
				row.Child = p.FirstName + " " + p.LastName
			}
			if dr.GuardianID != 0 {
				if g, err := a.School.Guardian(ctx, u.TenantID, dr.GuardianID); err == nil {
					row.Payer = g.FirstName + " " + g.LastName
				}
			}
			d.Missing = append(d.Missing, row)
		}
	}
	a.render(c, http.StatusOK, "taxcert", "admin.taxcert.title", "taxcert", d)
}

// issueTaxCerts issues (or corrects) the year's certificates.
func (a *App) issueTaxCerts(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	if !mayEditBooks(u) {
		a.forbidden(c)
		return
	}
	year := a.taxCertYear(c, c.PostForm("year"))
	back := fmt.Sprintf("/admin/taxcert?year=%d", year)
	if c.PostForm("confirm") != "yes" {
		a.flash(c, back, "admin.taxcert.error.confirm")
		return
	}
	run, err := a.TaxCert.Issue(ctx, u.TenantID, year, u.Actor())
	if errors.Is(err, taxcert.ErrInvalid) {
		a.flash(c, back, "admin.taxcert.error.not_ended", strconv.Itoa(year))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "taxcert.issue", strconv.Itoa(year),
		map[string]any{"issued": len(run.Issued), "unchanged": run.Unchanged, "missing": len(run.Missing)})
	a.flash(c, back, "admin.taxcert.flash.issued", strconv.Itoa(len(run.Issued)), strconv.Itoa(run.Unchanged), strconv.Itoa(len(run.Missing)))
}

// setTaxCertNISS records a pupil's or guardian's national number. The
// number is never logged nor audited, only the fact.
func (a *App) setTaxCertNISS(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	if !mayEditBooks(u) {
		a.forbidden(c)
		return
	}
	year := a.taxCertYear(c, c.PostForm("year"))
	back := fmt.Sprintf("/admin/taxcert?year=%d", year)
	subject := c.PostForm("subject")
	id, _ := strconv.ParseInt(c.PostForm("id"), 10, 64)
	var err error
	switch subject {
	case taxcert.SubjectPupil:
		_, err = a.School.Pupil(ctx, u.TenantID, id)
	case taxcert.SubjectGuardian:
		_, err = a.School.Guardian(ctx, u.TenantID, id)
	default:
		err = taxcert.ErrNotFound
	}
	if err != nil {
		a.notFound(c)
		return
	}
	err = a.TaxCert.SetNISS(ctx, u.TenantID, subject, id, strings.TrimSpace(c.PostForm("niss")), u.Actor())
	switch {
	case errors.Is(err, taxcert.ErrInvalidNISS):
		a.flash(c, back, "admin.taxcert.error.niss")
		return
	case errors.Is(err, taxcert.ErrInvalid):
		a.flash(c, back, "admin.taxcert.error.no_key")
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "taxcert.niss", fmt.Sprintf("%s:%d", subject, id), nil)
	a.flash(c, back, "admin.taxcert.flash.niss")
}

// taxCertPDF prints one certificate (a school's admin: its pupils' only).
func (a *App) taxCertPDF(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		a.notFound(c)
		return
	}
	cert, err := a.TaxCert.Certificate(ctx, u.TenantID, id, 0)
	if errors.Is(err, taxcert.ErrNotFound) {
		a.notFound(c)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if u.SchoolID != 0 {
		if p, err := a.School.Pupil(ctx, u.TenantID, cert.PupilID); err != nil || p.SchoolID != u.SchoolID {
			a.notFound(c)
			return
		}
	}
	b, err := a.TaxCert.PDF(cert)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="attestation-281-86-%d-%d-v%d.pdf"`, cert.Year, cert.Seq, cert.Version))
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/pdf", b)
}

// belcotaxXML downloads the year's Belcotax-on-web file (test=1: a test
// file Belcotax checks without filing it).
func (a *App) belcotaxXML(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	if !mayEditBooks(u) {
		a.forbidden(c)
		return
	}
	year := a.taxCertYear(c, c.Query("year"))
	certs, err := a.TaxCert.Certificates(ctx, u.TenantID, year, 0)
	if err != nil {
		a.fail(c, err)
		return
	}
	if len(certs) == 0 {
		a.flash(c, fmt.Sprintf("/admin/taxcert?year=%d", year), "admin.taxcert.error.none", strconv.Itoa(year))
		return
	}
	x, err := a.TaxCert.Belcotax(certs, taxcert.BelcotaxOptions{Test: c.Query("test") == "1", Created: a.Now().In(brussels())})
	if errors.Is(err, taxcert.ErrNoBCE) {
		a.flash(c, fmt.Sprintf("/admin/taxcert?year=%d", year), "admin.taxcert.error.no_bce", taxcert.EnvBCE)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "taxcert.belcotax", strconv.Itoa(year), map[string]any{"certificates": len(certs)})
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="belcotax-28186-%d-%s.xml"`, year, a.Now().Format("20060102")))
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/xml; charset=utf-8", x)
}
