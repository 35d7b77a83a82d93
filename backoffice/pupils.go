package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/ledger"
	"tartine/school"
	"tartine/sepa"
)

// home lists the pages the user may open.
func (a *App) home(c *gin.Context) {
	schools, err := a.visibleSchools(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "home", "admin.home.title", "home", schools)
}

type pupilsData struct {
	Schools  []school.School
	School   school.School
	Query    string
	Searched bool
	Pupils   []school.Pupil
}

// pupils lists a school's pupils, or those whose names match q.
func (a *App) pupils(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	sc, schools, err := a.schoolFor(c, sid)
	if errors.Is(err, school.ErrNotFound) && sid == 0 {
		a.render(c, http.StatusOK, "pupils", "admin.pupils.title", "pupils", pupilsData{})
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	d := pupilsData{Schools: schools, School: sc, Query: strings.TrimSpace(c.Query("q"))}
	if d.Query != "" {
		d.Searched = true
		found, err := a.School.SearchPupilsIn(ctx, u.TenantID, u.SchoolID, d.Query, 100)
		if err != nil {
			a.fail(c, err)
			return
		}
		for _, p := range found {
			if mayManagePupil(u, p) {
				d.Pupils = append(d.Pupils, p)
			}
		}
	} else if d.Pupils, err = a.School.PupilsOfSchool(ctx, u.TenantID, sc.ID, false); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "pupils", "admin.pupils.title", "pupils", d)
}

// badgeView is a badge with its history.
type badgeView struct {
	school.Badge
	Current bool // still assigned to the pupil
	History []school.BadgeEvent
	// HolderName names the pupil holding the badge now when it moved to
	// another pupil the user may see (issue 14: the old holder's page
	// says where the badge went).
	HolderName string
}

type pupilData struct {
	Pupil     school.Pupil
	School    school.School
	OGM       string
	Guardians []school.GuardianLink
	Badges    []badgeView
	Balance   ledger.Balance
	Techs     []school.Tech
	Form      assignForm
	// GuardianForm and Relation: the add-a-guardian form shown again when
	// refused (pupils_guardians.go); Leaving: the leaving card
	// (pupils_leave.go).
	GuardianForm school.GuardianInput
	Relation     string
	Leaving      leavingData
	// Names names the other pupils in the badges' history that the user
	// may see ("Louise J. (P3A)"); the others show as a number.
	Names map[int64]string
}

type assignForm struct {
	UID, Tech, Printed string
	// Holder is the pupil the badge belongs to (0: none known yet); the
	// form then asks to confirm taking it from HolderName.
	Holder     int64
	HolderName string
}

// pupilFor loads the :id pupil when the user's school scope covers it.
func (a *App) pupilFor(c *gin.Context) (school.Pupil, bool) {
	u := user(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		a.notFound(c)
		return school.Pupil{}, false
	}
	p, err := a.School.Pupil(c.Request.Context(), u.TenantID, id)
	if err != nil {
		a.fail(c, err)
		return school.Pupil{}, false
	}
	if !mayManagePupil(u, p) {
		a.notFound(c)
		return school.Pupil{}, false
	}
	return p, true
}

// pupil shows a pupil: class, guardians, badges with their history, wallet.
func (a *App) pupil(c *gin.Context) {
	p, ok := a.pupilFor(c)
	if !ok {
		return
	}
	d, err := a.pupilData(c, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "pupil", "admin.pupil.title", "pupils", d)
}

func (a *App) pupilData(c *gin.Context, p school.Pupil) (pupilData, error) {
	ctx := c.Request.Context()
	t := p.TenantID
	d := pupilData{Pupil: p, Techs: []school.Tech{school.TechEM4100, school.TechISO14443A, school.TechWiegand, school.TechQR}}
	var err error
	if d.School, err = a.School.School(ctx, t, p.SchoolID); err != nil {
		return d, err
	}
	if p.WalletOGM != "" {
		if d.OGM, err = sepa.FormatOGM(p.WalletOGM); err != nil {
			d.OGM = p.WalletOGM
		}
	}
	if d.Guardians, err = a.School.GuardiansOfPupil(ctx, t, p.ID); err != nil {
		return d, err
	}
	if d.Leaving, err = a.leavingData(c, p); err != nil {
		return d, err
	}
	if p.WalletAccountID != 0 {
		if d.Balance, err = a.Ledger.Balance(ctx, t, p.WalletAccountID); err != nil {
			return d, err
		}
	}
	// Every badge the pupil ever had, so that a returned badge's history
	// stays visible here.
	held, err := a.School.PupilBadgeHistory(ctx, t, p.ID)
	if err != nil {
		return d, err
	}
	for _, hb := range held {
		b, h := hb.Badge, hb.History
		v := badgeView{Badge: b, Current: b.PupilID == p.ID, History: h}
		for _, e := range h {
			if err := a.namePupil(c, &d, e.PupilID); err != nil {
				return d, err
			}
		}
		if !v.Current && b.PupilID != 0 {
			if err := a.namePupil(c, &d, b.PupilID); err != nil {
				return d, err
			}
			v.HolderName = d.Names[b.PupilID]
		}
		d.Badges = append(d.Badges, v)
	}
	return d, nil
}

// namePupil adds pupil id to d.Names when the user may see them (not the
// page's pupil, nor none).
func (a *App) namePupil(c *gin.Context, d *pupilData, id int64) error {
	if id == 0 || id == d.Pupil.ID {
		return nil
	}
	if _, ok := d.Names[id]; ok {
		return nil
	}
	o, err := a.School.Pupil(c.Request.Context(), d.Pupil.TenantID, id)
	if errors.Is(err, school.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Names == nil {
		d.Names = map[int64]string{}
	}
	if mayManagePupil(user(c), o) {
		d.Names[id] = o.DisplayName() + " (" + o.ClassCode + ")"
	}
	return nil
}

// assignBadge gives a badge to the pupil: by uid (registered first when
// new) or by the number printed on a fob already in stock.
func (a *App) assignBadge(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	p, ok := a.pupilFor(c)
	if !ok {
		return
	}
	f := assignForm{UID: strings.TrimSpace(c.PostForm("uid")), Tech: c.PostForm("tech"), Printed: strings.TrimSpace(c.PostForm("printed"))}
	confirmed, _ := strconv.ParseInt(c.PostForm("holder"), 10, 64)
	assign := func(badgeID int64) (school.Badge, error) {
		return a.School.AssignBadgeAs(ctx, u.TenantID, school.Assignment{BadgeID: badgeID, PupilID: p.ID, SchoolID: u.SchoolID, Holder: confirmed}, u.Actor())
	}
	back := fmt.Sprintf("/admin/pupils/%d", p.ID)
	reject := func(msg string) {
		d, err := a.pupilData(c, p)
		if err != nil {
			a.fail(c, err)
			return
		}
		d.Form = f
		a.formError(c, "pupil", "admin.pupil.title", "pupils", msg, d)
	}
	l := lang(c)
	var b school.Badge
	var err error
	switch {
	case f.UID != "":
		tech := school.Tech(f.Tech)
		if tech == "" {
			tech = school.TechEM4100
		}
		uid, cerr := school.CanonicalUID(f.UID, tech)
		if cerr != nil {
			reject(a.Catalog.T(l, "admin.error.badge_uid", f.UID, string(tech)))
			return
		}
		info, ierr := a.School.BadgeByUID(ctx, u.TenantID, uid)
		switch {
		case errors.Is(ierr, school.ErrNotFound):
			b, err = a.School.CreateBadge(ctx, u.TenantID, school.BadgeInput{UID: uid, Tech: tech, PrintedNumber: f.Printed, PupilID: p.ID}, u.Actor())
		case ierr != nil:
			err = ierr
		default:
			if info.Tech != tech {
				reject(a.Catalog.T(l, "admin.error.badge_tech", uid, string(info.Tech)))
				return
			}
			b, err = assign(info.ID)
		}
	case f.Printed != "":
		found, ferr := a.School.BadgeByPrintedNumber(ctx, u.TenantID, f.Printed)
		if errors.Is(ferr, school.ErrNotFound) {
			reject(a.Catalog.T(l, "admin.error.badge_number", f.Printed))
			return
		}
		if ferr != nil {
			a.fail(c, ferr)
			return
		}
		b, err = assign(found.ID)
	default:
		reject(a.Catalog.T(l, "admin.error.badge_empty"))
		return
	}
	var he *school.HolderError
	if errors.As(err, &he) {
		// Someone holds the badge: ask to confirm, naming them.
		f.Holder, f.HolderName = he.Holder.ID, he.Holder.DisplayName()+" ("+he.Holder.ClassCode+")"
		reject(a.Catalog.T(l, "admin.sec.badge_held", f.HolderName))
		return
	}
	if errors.Is(err, school.ErrOtherSchool) {
		reject(a.Catalog.T(l, "admin.sec.badge_other_school"))
		return
	}
	if errors.Is(err, school.ErrInvalid) {
		reject(a.Catalog.T(l, "admin.error.badge_invalid", err.Error()))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, back, "admin.flash.badge_assigned", b.UID, p.DisplayName())
}

// newQRBadge creates a QR badge with a fresh token for the pupil.
func (a *App) newQRBadge(c *gin.Context) {
	u := user(c)
	p, ok := a.pupilFor(c)
	if !ok {
		return
	}
	b, err := a.School.NewQRBadge(c.Request.Context(), u.TenantID, p.ID, u.Actor())
	if err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, fmt.Sprintf("/admin/pupils/%d", p.ID), "admin.flash.qr_created", b.UID)
}

// badgeStatus marks one of the pupil's badges active, lost, blocked or
// returned.
func (a *App) badgeStatus(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	p, ok := a.pupilFor(c)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(c.Param("badge"), 10, 64)
	if err != nil {
		a.notFound(c)
		return
	}
	b, err := a.School.Badge(ctx, u.TenantID, id)
	if err != nil {
		a.fail(c, err)
		return
	}
	back := fmt.Sprintf("/admin/pupils/%d", p.ID)
	if b.PupilID != p.ID {
		// A returned badge or one given to someone else since: not this
		// page's to change.
		a.flash(c, back, "admin.error.badge_not_pupils", b.UID)
		return
	}
	st := school.BadgeStatus(c.PostForm("status"))
	switch st {
	case school.BadgeActive, school.BadgeLost, school.BadgeBlocked, school.BadgeReturned:
	default:
		a.flash(c, back, "admin.error.badge_status", string(st))
		return
	}
	if _, err := a.School.SetBadgeStatus(ctx, u.TenantID, id, st, u.Actor()); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, back, "admin.flash.badge_status", b.UID, a.Catalog.T(lang(c), "admin.badge.status."+string(st)))
}

// badgeSheet downloads the school's QR badges as a printable PDF.
func (a *App) badgeSheet(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, err := strconv.ParseInt(c.Param("school"), 10, 64)
	if err != nil || sid <= 0 {
		a.notFound(c)
		return
	}
	sc, _, err := a.schoolFor(c, sid)
	if err != nil {
		a.fail(c, err)
		return
	}
	cards, err := a.School.QRSheetBadges(ctx, u.TenantID, sc.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	if len(cards) == 0 {
		a.flash(c, "/admin", "admin.error.no_qr_badges", sc.Name)
		return
	}
	pdf, err := school.BadgeSheetPDF(cards)
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "badge.sheet", fmt.Sprint("school:", sc.ID), map[string]any{"cards": len(cards)})
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="badges-qr-%s.pdf"`, sc.Code))
	c.Data(http.StatusOK, "application/pdf", pdf)
}
