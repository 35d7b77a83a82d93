package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/internal/websession"
	"tartine/taxcert"
)

// TaxCertRoutes mounts a child's childcare tax certificates (281.86) for
// the guardian who paid: the list, each certificate's PDF, and the form
// where the guardian gives the national numbers (NISS) the certificate
// needs. Beside Routes' child pages, with the same session, access check and
// policy (websession.Guardian). A guardian sees only the certificates
// issued to him or her.
func (a *App) TaxCertRoutes(r gin.IRouter, svc *taxcert.Service) {
	p := &taxCertPages{a: a, svc: svc}
	g := r.Group("/portal/c/:tenant/:pupil/taxcert", a.Sessions.Middleware(), securityHeaders,
		websession.Require(websession.KindGuardian, a.toLogin), websession.Guardian)
	g.GET("", p.list)
	g.POST("/niss", p.setNISS)
	g.GET("/:id/pdf", p.pdf)
}

type taxCertPages struct {
	a   *App
	svc *taxcert.Service
}

type taxCertData struct {
	Child        child
	Certificates []taxcert.Certificate
	GuardianNISS string // masked, "" when none
	ChildNISS    string
}

func (p *taxCertPages) data(c *gin.Context, ch child) (taxCertData, error) {
	ctx := c.Request.Context()
	d := taxCertData{Child: ch}
	var err error
	if d.Certificates, err = p.svc.CertificatesOf(ctx, ch.TenantID, ch.GuardianID, ch.ID); err != nil {
		return d, err
	}
	if d.GuardianNISS, err = p.svc.MaskedNISS(ctx, ch.TenantID, taxcert.SubjectGuardian, ch.GuardianID); err != nil {
		return d, err
	}
	d.ChildNISS, err = p.svc.MaskedNISS(ctx, ch.TenantID, taxcert.SubjectPupil, ch.ID)
	return d, err
}

// list shows the child's certificates issued to the guardian.
func (p *taxCertPages) list(c *gin.Context) {
	acct, ch, ok := p.a.child(c)
	if !ok {
		return
	}
	d, err := p.data(c, ch)
	if err != nil {
		p.a.fail(c, err)
		return
	}
	p.a.render(c, http.StatusOK, "taxcert", "portal.taxcert.title", d, acct)
}

// setNISS records the guardian's and the child's national numbers (either
// may be left empty). The numbers are never logged nor shown back in full.
func (p *taxCertPages) setNISS(c *gin.Context) {
	acct, ch, ok := p.a.child(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	for _, f := range []struct {
		field, subject string
		id             int64
	}{{"guardian_niss", taxcert.SubjectGuardian, ch.GuardianID}, {"child_niss", taxcert.SubjectPupil, ch.ID}} {
		v := strings.TrimSpace(c.PostForm(f.field))
		if v == "" {
			continue
		}
		err := p.svc.SetNISS(ctx, ch.TenantID, f.subject, f.id, v, fmt.Sprint("guardian:", ch.GuardianID))
		if errors.Is(err, taxcert.ErrInvalidNISS) {
			d, derr := p.data(c, ch)
			if derr != nil {
				p.a.fail(c, derr)
				return
			}
			p.a.formError(c, http.StatusUnprocessableEntity, "taxcert", "portal.taxcert.title", p.a.Catalog.T(p.a.lang(c, acct), "portal.taxcert.invalid_niss"), d, acct)
			return
		}
		if err != nil {
			p.a.fail(c, err)
			return
		}
	}
	p.a.flash(c, ch.Path()+"/taxcert", "portal.taxcert.saved")
}

// pdf sends one of the guardian's certificates of this child.
func (p *taxCertPages) pdf(c *gin.Context) {
	_, ch, ok := p.a.child(c)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		p.a.notFound(c)
		return
	}
	cert, err := p.svc.Certificate(c.Request.Context(), ch.TenantID, id, ch.GuardianID)
	if errors.Is(err, taxcert.ErrNotFound) || (err == nil && cert.PupilID != ch.ID) {
		p.a.notFound(c)
		return
	}
	if err != nil {
		p.a.fail(c, err)
		return
	}
	b, err := p.svc.PDF(cert)
	if err != nil {
		p.a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="attestation-281-86-%d-%d-v%d.pdf"`, cert.Year, cert.Seq, cert.Version))
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/pdf", b)
}
