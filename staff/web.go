package staff

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"log/slog"
	"tartine/internal/i18n"
	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/school"
	"tartine/terminal"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Deps are the staff screens' dependencies.
type Deps struct {
	Taps     *terminal.Service // the tap domain: stations, live events, manual taps, daycare presence
	Kiosk    *kiosk.Service    // the cash desk
	School   *school.Store
	Ledger   *ledger.Ledger
	Sessions *websession.Manager  // the staff session (cookie web.StaffCookie), shared with the back office
	Throttle *websession.Throttle // nil: logins are not throttled
	Catalog  *i18n.Catalog
	Log      *slog.Logger
	Now      func() time.Time // time.Now when nil
	// TopUps, when set, is told about each cash top-up taken at a kiosk
	// (the portal emails the family).
	TopUps TopUpNotifier
}

// Web serves the staff screens. Create it with New.
type Web struct {
	taps     *terminal.Service
	kiosk    *kiosk.Service
	store    *school.Store
	ledger   *ledger.Ledger
	log      *slog.Logger
	now      func() time.Time
	sessions *websession.Manager
	throttle *websession.Throttle
	cat      *i18n.Catalog
	tmpl     *template.Template
	errs     web.Errors
	// Heartbeat is the interval of SSE keep-alive comments (default 15 s).
	Heartbeat time.Duration
	// TopUps, when set, is told about each cash top-up taken at a kiosk
	// (the portal emails the family).
	TopUps TopUpNotifier
}

// New parses the embedded templates (an error stops start-up).
func New(d Deps) (*Web, error) {
	if d.Taps == nil || d.Kiosk == nil || d.School == nil || d.Ledger == nil || d.Catalog == nil {
		return nil, errors.New("staff: Taps, Kiosk, School, Ledger and Catalog are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	cat := d.Catalog
	w := &Web{taps: d.Taps, kiosk: d.Kiosk, store: d.School, ledger: d.Ledger, log: d.Log, now: d.Now,
		sessions: d.Sessions, throttle: d.Throttle, cat: cat, Heartbeat: 15 * time.Second, TopUps: d.TopUps}
	w.errs = web.Errors{Name: "staff screens", NotFound: []error{terminal.ErrNotFound, kiosk.ErrNotFound, school.ErrNotFound},
		Forbidden: []error{errForbidden}, Catalog: cat, Log: d.Log}
	// t, eur, hm and the others of web.Funcs, and the screens' own:
	funcs := template.FuncMap{
		"diet": func(lang, d string) string {
			if k := school.Diet(d).LabelKey(); cat.Has(lang, k) || cat.Has("fr", k) {
				return cat.T(lang, k)
			}
			return d
		},
		"join": strings.Join,
		"allergens": func(lang string, as []string) string {
			out := make([]string, len(as))
			for i, a := range as {
				out[i] = cat.T(lang, school.Allergen(a).LabelKey())
				if strings.HasPrefix(out[i], "⟦") {
					out[i] = a
				}
			}
			return strings.Join(out, ", ")
		},
		"tapview": func(e terminal.Event, lang string) tapView { return tapView{Event: e, Lang: lang} },
	}
	t, err := web.ParseAll(assets, "templates", cat, funcs)
	if err != nil {
		return nil, fmt.Errorf("staff templates: %w", err)
	}
	w.tmpl = t
	return w, nil
}

// Mount registers the staff screens under /staff (session middleware and
// CSRF protection included) and their static files.
func (w *Web) Mount(r gin.IRouter) {
	static, _ := fs.Sub(assets, "static")
	websession.StaticFS(r, "/staff/static", static)
	g := r.Group("/staff", web.SecurityHeaders(), w.sessions.Middleware())
	g.GET("/login", websession.Public, w.loginPage)
	g.POST("/login", websession.Public, w.loginPost)
	a := g.Group("", websession.Require(websession.KindStaff, func(c *gin.Context) {
		c.Redirect(http.StatusSeeOther, loginURL(c.Request))
		c.Abort()
	}), w.loadUser, websession.Staff)
	a.POST("/logout", w.logout)
	a.GET("/", w.stationsPage)
	a.GET("/stations/:code", w.stationPage)
	a.GET("/stations/:code/events", w.events)
	a.POST("/stations/:code/manual", w.manualPost)
	a.POST("/stations/:code/assign", w.assignPost)
	a.GET("/pupils/:id/photo", w.photo)
	w.mountKiosk(a)
}

const userKey = "terminal.user"

func (w *Web) loadUser(c *gin.Context) {
	p := websession.CurrentPrincipal(c)
	u, err := w.store.StaffUser(c.Request.Context(), p.TenantID, p.ID)
	if err != nil || !u.Active {
		_ = w.sessions.Logout(c)
		c.Redirect(http.StatusSeeOther, loginURL(c.Request))
		c.Abort()
		return
	}
	c.Set(userKey, u)
}

func user(c *gin.Context) school.StaffUser {
	u, _ := c.Get(userKey)
	su, _ := u.(school.StaffUser)
	return su
}

// lang is the request's language (web.Lang).
func lang(c *gin.Context) string { return web.Lang(c) }

// page is the data of every page.
type page struct {
	Lang   string
	Title  string
	CSRF   string
	User   *school.StaffUser
	Error  string
	Notice string
	Next   string // login page: where to go after signing in (validated again on post)
	Data   any
}

func (w *Web) render(c *gin.Context, status int, name string, p page) {
	p.Lang = lang(c)
	if p.CSRF == "" {
		if tok, err := w.sessions.Token(c); err == nil {
			p.CSRF = tok
		}
	}
	if err := web.Render(c, status, w.tmpl, name, p); err != nil {
		w.fail(c, err)
	}
}

// fail answers err: 404, 403 or a logged 500 (web.Errors).
func (w *Web) fail(c *gin.Context, err error) { w.errs.Fail(c, err) }

var errForbidden = errors.New("staff: forbidden")

func (w *Web) loginPage(c *gin.Context) {
	if _, err := w.sessions.Ensure(c); err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "login.html", page{Title: w.cat.T(lang(c), "terminal.login_title"), Next: safeNext(c.Query("next"))})
}

// loginURL is the staff login page that returns to the address r asked
// for: the same page (path and query) for a GET or HEAD; for a form post,
// which cannot be replayed after login, the plain login page (the user
// lands on their home).
func loginURL(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return web.StaffLoginPath
	}
	return web.StaffLoginURL(safeNext(r.URL.RequestURI()))
}

// safeNext returns next when it is a local address a staff member may be
// sent to after login — a staff screen (/staff/…) or a back-office page
// (/admin…), checked by websession.LocalRedirect — and "" otherwise. The
// login and logout addresses themselves are refused.
func safeNext(next string) string {
	for _, prefix := range []string{"/staff/", "/admin"} {
		if n := websession.LocalRedirect(next, prefix, ""); n != "" {
			if p, _, _ := strings.Cut(n, "?"); p == web.StaffLoginPath || p == "/staff/logout" {
				return ""
			}
			return n
		}
	}
	return ""
}

// home is where a staff member lands after login without a (safe) next:
// the back office for an accountant who works no station, the stations
// otherwise.
func home(u school.StaffUser) string {
	if u.Can(school.RoleAccountant) && !u.Can(school.RoleCanteen) && !u.Can(school.RoleDaycare) && !u.Can(school.RoleKiosk) {
		return "/admin/"
	}
	return "/staff/"
}

func (w *Web) loginPost(c *gin.Context) {
	ctx := c.Request.Context()
	l := lang(c)
	login, pw := strings.TrimSpace(c.PostForm("login")), c.PostForm("password")
	next := safeNext(c.PostForm("next"))
	if next == "" {
		next = safeNext(c.Query("next"))
	}
	if !websession.PlausibleCredentials(login, pw) {
		c.String(http.StatusBadRequest, w.cat.T(l, "error.invalid_form", "login, password"))
		return
	}
	if w.throttle != nil {
		ok, _, err := w.throttle.Check(ctx, login, c.ClientIP())
		if err != nil {
			w.fail(c, err)
			return
		}
		if !ok {
			w.render(c, http.StatusTooManyRequests, "login.html", page{Title: w.cat.T(l, "terminal.login_title"), Error: w.cat.T(l, "terminal.throttled"), Next: next})
			return
		}
	}
	u, err := w.store.AuthenticateStaff(ctx, login, pw)
	if errors.Is(err, school.ErrBadCredentials) {
		if w.throttle != nil {
			_ = w.throttle.Failed(ctx, login, c.ClientIP())
		}
		w.render(c, http.StatusUnauthorized, "login.html", page{Title: w.cat.T(l, "terminal.login_title"), Error: w.cat.T(l, "terminal.bad_credentials"), Next: next})
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	if w.throttle != nil {
		_ = w.throttle.Succeeded(ctx, login)
	}
	if _, err := w.sessions.Login(c, websession.Principal{Kind: websession.KindStaff, ID: u.ID, TenantID: u.TenantID}); err != nil {
		w.fail(c, err)
		return
	}
	_ = w.store.Audit(ctx, u.TenantID, u.Actor(), "staff.login", "", map[string]any{"ip": c.ClientIP()})
	if next == "" {
		next = home(u)
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (w *Web) logout(c *gin.Context) {
	u := user(c)
	_ = w.store.Audit(c.Request.Context(), u.TenantID, u.Actor(), "staff.logout", "", nil)
	_ = w.sessions.Logout(c)
	c.Redirect(http.StatusSeeOther, web.StaffLoginPath)
}

// roleFor is the role a station kind needs (admins may use every station).
func roleFor(kind string) school.Role {
	switch kind {
	case terminal.KindCanteen:
		return school.RoleCanteen
	case terminal.KindDaycare:
		return school.RoleDaycare
	case terminal.KindKiosk:
		return school.RoleKiosk
	}
	return school.RoleAdmin
}

func (w *Web) stationsPage(c *gin.Context) {
	u := user(c)
	all, err := w.store.Stations(c.Request.Context(), u.TenantID)
	if err != nil {
		w.fail(c, err)
		return
	}
	var list []school.Station
	for _, s := range all {
		if u.Can(roleFor(string(s.Kind))) && (u.SchoolID == 0 || u.SchoolID == s.SchoolID) {
			list = append(list, s)
		}
	}
	w.render(c, http.StatusOK, "stations.html", page{Title: w.cat.T(lang(c), "terminal.stations"), User: &u, Data: list})
}

// stationFor loads the :code station and checks the user may use it.
func (w *Web) stationFor(c *gin.Context) (terminal.Station, school.StaffUser, error) {
	u := user(c)
	st, err := w.taps.Station(c.Request.Context(), u.TenantID, c.Param("code"))
	if err != nil {
		return terminal.Station{}, u, err
	}
	if !u.Can(roleFor(st.Kind)) || (u.SchoolID != 0 && u.SchoolID != st.SchoolID) {
		return terminal.Station{}, u, errForbidden
	}
	return st, u, nil
}

// stationData is the live screen's data.
type stationData struct {
	Station  terminal.Station
	Events   []terminal.Event
	Query    string
	Results  []school.Pupil
	Searched bool
	Present  []terminal.Presence
	Lang     string
	UID      string // enrolment desk: the unknown badge to assign
	Holder   int64  // enrolment desk: the badge's holder, named in the notice; assigning again confirms taking it
	Token    string // manual entry: one tap per form
}

func (w *Web) stationPage(c *gin.Context) {
	ctx := c.Request.Context()
	st, u, err := w.stationFor(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	if st.Kind == terminal.KindKiosk {
		c.Redirect(http.StatusSeeOther, "/staff/kiosk/"+st.Code)
		return
	}
	d := stationData{Station: st, Events: w.taps.Hub().Recent(u.TenantID, st.ID, 20), Lang: lang(c), UID: strings.TrimSpace(c.Query("uid"))}
	d.Holder, _ = strconv.ParseInt(c.Query("holder"), 10, 64)
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		w.fail(c, err)
		return
	}
	d.Token = hex.EncodeToString(tok)
	if q := strings.TrimSpace(c.Query("q")); q != "" {
		d.Query, d.Searched = q, true
		d.Results, err = w.store.SearchPupilsIn(ctx, u.TenantID, st.SchoolID, q, 20)
		if err != nil {
			w.fail(c, err)
			return
		}
	}
	if st.Kind == terminal.KindDaycare {
		if d.Present, err = w.taps.Present(ctx, u.TenantID, st.ID); err != nil {
			w.fail(c, err)
			return
		}
	}
	// Diet and allergy data are special-category data: audit who opened
	// which screen.
	_ = w.store.Audit(ctx, u.TenantID, u.Actor(), "terminal.screen_open", "station:"+st.Code, nil)
	w.render(c, http.StatusOK, "station.html", page{Title: st.Name, User: &u, Data: d, Notice: c.Query("notice")})
}

// events streams the station's taps as server-sent events ("tap" events
// whose data is the HTML of one tap card), with keep-alive comments. A
// reconnecting browser sends Last-Event-ID and gets what it missed.
func (w *Web) events(c *gin.Context) {
	st, u, err := w.stationFor(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	after, _ := strconv.ParseInt(c.GetHeader("Last-Event-ID"), 10, 64)
	if after == 0 {
		after, _ = strconv.ParseInt(c.Query("after"), 10, 64)
	}
	backlog, ch, cancel := w.taps.Hub().Subscribe(u.TenantID, st.ID, after)
	defer cancel()
	l := lang(c)
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	// The cashier and the enrolment desk need no health data: their
	// screens get the taps without diet and allergies.
	health := st.Kind == terminal.KindCanteen || st.Kind == terminal.KindDaycare
	// The stream ends with the session (logout, logout everywhere, a new
	// password, expiry): checked at each heartbeat and before a tap when
	// the last check is older than a few seconds.
	sess := websession.Current(c)
	checked := time.Now()
	alive := func() bool {
		checked = time.Now()
		if ok, err := w.sessions.Alive(c.Request.Context(), sess); err != nil || !ok {
			return false
		}
		// The member may have lost the role or the school meanwhile.
		now, err := w.store.StaffUser(c.Request.Context(), u.TenantID, u.ID)
		return err == nil && now.Active && now.Can(roleFor(st.Kind)) && (now.SchoolID == 0 || now.SchoolID == st.SchoolID)
	}
	send := func(e terminal.Event) bool {
		if time.Since(checked) > 3*time.Second && !alive() {
			return false
		}
		if !health {
			e.Diet, e.Allergens, e.AllergyNotes = nil, nil, ""
		}
		var buf bytes.Buffer
		if err := w.tmpl.ExecuteTemplate(&buf, "tap", tapView{Event: e, Lang: l}); err != nil {
			w.log.Error("render tap", "err", err)
			return false
		}
		fmt.Fprintf(c.Writer, "id: %d\nevent: tap\n", e.Seq)
		for _, line := range strings.Split(buf.String(), "\n") {
			fmt.Fprintf(c.Writer, "data: %s\n", line)
		}
		_, err := fmt.Fprint(c.Writer, "\n")
		c.Writer.Flush()
		return err == nil
	}
	fmt.Fprint(c.Writer, "retry: 2000\n: connected\n\n")
	c.Writer.Flush()
	for _, e := range backlog {
		if !send(e) {
			return
		}
	}
	tick := time.NewTicker(w.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-c.Request.Context().Done():
			return
		case e := <-ch:
			if !send(e) {
				return
			}
		case <-tick.C:
			if !alive() {
				return
			}
			if _, err := fmt.Fprint(c.Writer, ": heartbeat\n\n"); err != nil {
				return
			}
			c.Writer.Flush()
		}
	}
}

// tapView is the data of the "tap" template.
type tapView struct {
	terminal.Event
	Lang string
}

// manualPost records a tap for a pupil found by name (forgotten badge): the
// same pipeline with tech "manual". The form carries a token that is the
// tap id, so a double submit records one tap.
func (w *Web) manualPost(c *gin.Context) {
	st, u, err := w.stationFor(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	pupilID, err := strconv.ParseInt(c.PostForm("pupil_id"), 10, 64)
	token := c.PostForm("tap_token")
	if err != nil || pupilID <= 0 || !terminal.ValidTapID(token) {
		c.String(http.StatusBadRequest, w.cat.T(lang(c), "error.invalid_form", "pupil_id"))
		return
	}
	tap := terminal.Tap{ID: "manual-" + token, Station: st.Code, UID: "PUPIL:" + strconv.FormatInt(pupilID, 10), Tech: "manual", ReadAt: w.now()}
	if len(tap.ID) > terminal.MaxTapID {
		tap.ID = tap.ID[:terminal.MaxTapID]
	}
	res, err := w.taps.Apply(c.Request.Context(), u.TenantID, u.Actor(), tap)
	if err != nil {
		w.fail(c, err)
		return
	}
	_ = w.store.Audit(c.Request.Context(), u.TenantID, u.Actor(), "terminal.manual_tap", "pupil:"+strconv.FormatInt(pupilID, 10),
		map[string]any{"station": st.Code, "tap": tap.ID, "verdict": res.Verdict, "reason": res.Reason})
	c.Redirect(http.StatusSeeOther, "/staff/stations/"+st.Code)
}

// assignPost gives an unknown badge tapped at the enrolment desk to a
// pupil (enrolment stations, admin role).
func (w *Web) assignPost(c *gin.Context) {
	ctx := c.Request.Context()
	st, u, err := w.stationFor(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	if st.Kind != terminal.KindEnrolment {
		w.fail(c, errForbidden)
		return
	}
	pupilID, err := strconv.ParseInt(c.PostForm("pupil_id"), 10, 64)
	uid, tech := c.PostForm("uid"), school.Tech(c.PostForm("tech"))
	if err != nil || pupilID <= 0 || uid == "" {
		c.String(http.StatusBadRequest, w.cat.T(lang(c), "error.invalid_form", "pupil_id, uid"))
		return
	}
	if tech == "" {
		tech = school.TechEM4100
	}
	// Only a pupil of the station's school: another school's pupils are
	// strangers here (404, as for an unknown id).
	if p, err := w.store.Pupil(ctx, u.TenantID, pupilID); err != nil || p.SchoolID != st.SchoolID {
		w.fail(c, kiosk.ErrNotFound)
		return
	}
	holder, _ := strconv.ParseInt(c.PostForm("holder"), 10, 64)
	b, err := w.store.CreateBadge(ctx, u.TenantID, school.BadgeInput{UID: uid, Tech: tech, PupilID: pupilID}, u.Actor())
	if errors.Is(err, school.ErrConflict) {
		// A known badge (in stock or someone else's): reassign it, taking
		// it from its holder only when the form confirms that holder.
		var info school.BadgeInfo
		info, err = w.store.BadgeByUID(ctx, u.TenantID, uid)
		if err == nil {
			b, err = w.store.AssignBadgeAs(ctx, u.TenantID, school.Assignment{BadgeID: info.ID, PupilID: pupilID, SchoolID: st.SchoolID, Holder: holder}, u.Actor())
		}
	}
	var he *school.HolderError
	if errors.As(err, &he) {
		notice := w.cat.T(lang(c), "terminal.sec.badge_held", uid, he.Holder.DisplayName(), he.Holder.ClassCode)
		c.Redirect(http.StatusSeeOther, "/staff/stations/"+st.Code+"?uid="+template.URLQueryEscaper(uid)+"&holder="+strconv.FormatInt(he.Holder.ID, 10)+
			"&notice="+template.URLQueryEscaper(notice))
		return
	}
	if errors.Is(err, school.ErrOtherSchool) {
		c.String(http.StatusForbidden, w.cat.T(lang(c), "terminal.sec.badge_other_school", uid))
		return
	}
	if errors.Is(err, school.ErrInvalid) {
		c.String(http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	p, err := w.store.Pupil(ctx, u.TenantID, pupilID)
	if err != nil {
		w.fail(c, err)
		return
	}
	notice := w.cat.T(lang(c), "terminal.assigned", b.UID, p.DisplayName())
	c.Redirect(http.StatusSeeOther, "/staff/stations/"+st.Code+"?notice="+template.URLQueryEscaper(notice))
}

// photo serves a pupil's photo, only with consent, to the staff who see
// the pupil at a screen: the canteen, daycare and kiosk roles and admins,
// of the pupil's school (or of every school). Others get 404, as for an
// unknown id.
func (w *Web) photo(c *gin.Context) {
	u := user(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		w.fail(c, kiosk.ErrNotFound)
		return
	}
	if !u.Can(school.RoleCanteen) && !u.Can(school.RoleDaycare) && !u.Can(school.RoleKiosk) {
		w.fail(c, kiosk.ErrNotFound)
		return
	}
	if p, err := w.store.Pupil(c.Request.Context(), u.TenantID, id); err != nil || (u.SchoolID != 0 && p.SchoolID != u.SchoolID) {
		w.fail(c, kiosk.ErrNotFound)
		return
	}
	b, err := w.store.PupilPhoto(c.Request.Context(), u.TenantID, id)
	if errors.Is(err, school.ErrNoPhoto) {
		c.Status(http.StatusNotFound)
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, http.DetectContentType(b), b)
}
