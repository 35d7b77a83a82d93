package portal

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	qrcode "github.com/skip2/go-qrcode"

	"tartine/internal/mail"
	"tartine/internal/websession"
	"tartine/school"
)

// letter is one invitation letter.
type letter struct {
	Guardian school.Guardian
	Children []string
	Code     string
	Link     string
	QR       template.URL // data: URI of the PNG QR code of Link
}

type lettersData struct {
	Schools []school.School
	School  school.School
	Letters []letter
	Emailed int  // invitations sent by email (send=email)
	Sent    bool // the form was submitted
}

// staffAdmin returns the tenant of a logged-in staff admin and the school
// the admin is bound to (0: every school), or answers 404.
func (a *App) staffAdmin(c *gin.Context) (tenantID, schoolID int64, ok bool) {
	p := websession.CurrentPrincipal(c)
	if p == nil || p.Kind != websession.KindStaff {
		a.notFound(c)
		return 0, 0, false
	}
	u, err := a.School.StaffUser(c.Request.Context(), p.TenantID, p.ID)
	if errors.Is(err, school.ErrNotFound) || (err == nil && (!u.Active || !u.Has(school.RoleAdmin))) {
		a.notFound(c)
		return 0, 0, false
	}
	if err != nil {
		a.fail(c, err)
		return 0, 0, false
	}
	return p.TenantID, u.SchoolID, true
}

// letters shows (GET) the school choice, and (POST) issues fresh codes for
// every guardian of the school's pupils who has no login yet and renders the
// letters to print, one page each; with send=email, guardians who have an
// email address get their invitation by email instead (a reminder for those
// who lost the letter) and only the others get a printed letter.
//
// Letters is the invitation letters page (GET: the form, POST: the letters
// to print) for a logged-in staff admin. The back office mounts it at
// /admin/letters behind the staff session.
func (a *App) Letters(c *gin.Context) {
	tenantID, scope, ok := a.staffAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var d lettersData
	all, err := a.School.Schools(ctx, tenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	// An admin bound to a school issues letters for that school only.
	for _, s := range all {
		if scope == 0 || s.ID == scope {
			d.Schools = append(d.Schools, s)
		}
	}
	if c.Request.Method != http.MethodPost {
		a.render(c, http.StatusOK, "letters", "portal.letters.title", d, nil)
		return
	}
	schoolID, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	if d.School, err = a.School.School(ctx, tenantID, schoolID); err != nil || (scope != 0 && schoolID != scope) {
		a.notFound(c)
		return
	}
	// Every guardian of the school's pupils who has no login yet.
	guardians, err := a.School.GuardiansOfSchool(ctx, tenantID, schoolID)
	if err != nil {
		a.fail(c, err)
		return
	}
	ids := make([]int64, len(guardians))
	for i, g := range guardians {
		ids[i] = g.ID
	}
	rows, _ := a.Pool.Query(ctx, `SELECT guardian_id FROM portal_account_guardians WHERE tenant_id = $1 AND guardian_id = ANY($2)`, tenantID, ids)
	withLogin := map[int64]bool{}
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { withLogin[id] = true; return nil }); err != nil {
		a.fail(c, err)
		return
	}
	d.Sent = true
	byEmail := c.PostForm("send") == "email"
	for _, x := range guardians {
		if withLogin[x.ID] {
			continue
		}
		g := x.Guardian
		inv, err := a.IssueInvitation(ctx, tenantID, x.ID)
		if err != nil {
			a.fail(c, err)
			return
		}
		link := a.BaseURL + "/portal/register?code=" + url.QueryEscape(inv.Code)
		if byEmail && g.Email != "" {
			msg, err := a.emails.Render(g.Email, g.Language, mail.InvitationReminder{GuardianName: g.FirstName + " " + g.LastName,
				School: d.School.Name, Children: []string{x.Children}, Code: inv.Code, Link: link})
			if err == nil {
				err = a.Mail.Send(ctx, msg)
			}
			if err == nil {
				d.Emailed++
				continue
			}
			a.Log.Error("invitation email", "guardian", g.ID, "err", err) // fall back to a printed letter
		}
		png, err := qrcode.Encode(link, qrcode.Medium, 256)
		if err != nil {
			a.fail(c, err)
			return
		}
		d.Letters = append(d.Letters, letter{Guardian: g, Children: []string{x.Children}, Code: inv.Code, Link: link,
			QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))})
	}
	a.render(c, http.StatusOK, "letters", "portal.letters.title", d, nil)
}
