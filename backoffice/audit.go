package backoffice

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/school"
)

// auditData is the audit page: the entries and the filter that chose them.
type auditData struct {
	Entries []school.AuditEntry
	Action  string // the filter's fields as typed (action, actor, pupil id, days)
	Actor   string
	Pupil   string
	From    string
	To      string
	Actions []string // the actions offered in the filter
	Staff   []school.StaffUser
}

// auditActions are the families offered in the action filter (any action
// may also be typed in the address: ?action=badge.assign).
var auditActions = []string{"badge", "device", "guardian", "pupil", "staff", "station", "kiosk", "terminal", "refund",
	"fee", "statements", "bank", "books", "ledger", "calendar", "menu", "tariff", "taxcert", "school", "retention"}

// audit shows the latest audit entries (200 at most), narrowed by action
// (an action or its family), actor, pupil and days (from, to included).
// A filter that does not parse is ignored rather than refused.
func (a *App) audit(c *gin.Context) {
	u := user(c)
	d := auditData{Action: strings.TrimSpace(c.Query("action")), Actor: strings.TrimSpace(c.Query("actor")),
		Pupil: strings.TrimSpace(c.Query("pupil")), From: c.Query("from"), To: c.Query("to"), Actions: auditActions}
	f := school.AuditFilter{Action: d.Action, Actor: d.Actor}
	if len(f.Action) > 100 {
		f.Action, d.Action = "", ""
	}
	if len(f.Actor) > 100 {
		f.Actor, d.Actor = "", ""
	}
	if d.Pupil != "" {
		if id, err := strconv.ParseInt(strings.TrimPrefix(d.Pupil, "pupil:"), 10, 64); err == nil && id > 0 {
			f.PupilID = id
		} else {
			d.Pupil = ""
		}
	}
	if t, err := time.ParseInLocation(time.DateOnly, d.From, brussels()); err == nil {
		f.From = t
	} else {
		d.From = ""
	}
	if t, err := time.ParseInLocation(time.DateOnly, d.To, brussels()); err == nil {
		f.Until = t.AddDate(0, 0, 1)
	} else {
		d.To = ""
	}
	var err error
	if d.Entries, err = a.School.AuditSearch(c.Request.Context(), u.TenantID, u.SchoolID, f, 200); err != nil {
		a.fail(c, err)
		return
	}
	staff, err := a.School.ListStaff(c.Request.Context(), u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, s := range staff {
		if u.SchoolID == 0 || s.SchoolID == u.SchoolID {
			d.Staff = append(d.Staff, s)
		}
	}
	a.render(c, http.StatusOK, "audit", "admin.audit.title", "audit", d)
}

// AuditAction names an audit action in words ("badge.assign": « Badge
// attribué »), or gives its code when the catalogue has no words for it.
func (p page) AuditAction(action string) string {
	key := "admin.audit.actions." + strings.ReplaceAll(action, ".", "_")
	if p.app.Catalog.Has(p.Lang, key) {
		return p.T(key)
	}
	return action
}

// AuditActor names an entry's actor: the name when known, else the code
// ("system", "device:abc").
func (p page) AuditActor(e school.AuditEntry) string {
	if e.ActorName != "" {
		return e.ActorName
	}
	if e.Actor == "system" || strings.HasPrefix(e.Actor, "system:") {
		return p.T("admin.audit.system")
	}
	return e.Actor
}

// AuditPupilID is the pupil an entry concerns, 0 when none.
func (p page) AuditPupilID(e school.AuditEntry) int64 {
	id, err := strconv.ParseInt(strings.TrimPrefix(e.Subject, "pupil:"), 10, 64)
	if err != nil || !strings.HasPrefix(e.Subject, "pupil:") {
		return 0
	}
	return id
}
